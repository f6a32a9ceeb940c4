"""The few operations keras_iml needs that Keras 3 does not expose across backends.

Keras 3 runs a model on TensorFlow, JAX or PyTorch, and ``keras.ops`` covers the
arithmetic, but it has no backend-neutral way to compile a function or to take a
gradient with respect to an input. Each module here provides the same
functions for one backend:

* ``function(fn, variables, signature)``: ``fn`` compiled (``tf.function``,
  ``jax.jit`` with the model's variables passed in through a
  ``keras.StatelessScope``, or plain eager PyTorch), called with numpy arrays and
  returning numpy arrays;
* ``value_and_grad(fn)``: ``g(x, *args) -> (fn(x, *args), d sum(fn) / dx)``, usable
  inside a compiled function;
* ``vjp(fn, x, cotangent)``: the vector-Jacobian product of ``fn`` at ``x``;
* ``intermediate_grad(fn, x)``: for ``a, v = fn(x)``, the gradient of ``sum(v)`` at
  the intermediate tensor ``a`` (TensorFlow and PyTorch; JAX differentiates only
  functions, so there a model is split at the layer instead).

:func:`current` returns the module of the backend Keras runs on. Everything else in
keras_iml writes its tensor code with ``keras.ops`` and these three functions.
"""

import importlib

import keras

__all__ = ["current", "name", "require", "error_summary", "SUPPORTED"]

SUPPORTED = ("tensorflow", "jax", "torch")


def name():
    """The name of the backend Keras runs on (``keras.backend.backend()``)."""
    return keras.backend.backend()


def current():
    """The backend module of :mod:`keras_iml.engine.backend` for the running backend.

    Raises:
        ValueError: Keras runs on a backend keras_iml does not support (e.g. numpy).
    """
    backend = name()
    if backend not in SUPPORTED:
        raise ValueError(
            f"keras_iml runs on the {', '.join(SUPPORTED)} backends of Keras 3. "
            f"Received: KERAS_BACKEND={backend!r}"
        )
    return importlib.import_module(f"keras_iml.engine.backend.{backend}_backend")


def require(backends, what):
    """Raises ValueError unless Keras runs on one of ``backends``.

    Args:
        backends: names of the supported backends.
        what: what needs them, for the message (e.g. ``"deeplift"``).
    """
    backend = name()
    if backend not in backends:
        raise ValueError(
            f"{what} needs the {' or '.join(backends)} backend of Keras. Set "
            f"KERAS_BACKEND={backends[0]} before importing keras, or choose another method. "
            f"Received: KERAS_BACKEND={backend!r}"
        )


def error_summary(err):
    """The last meaningful line of a backend runtime error (its graph trace left out)."""
    lines = [ln.strip() for ln in str(getattr(err, "message", err)).splitlines() if ln.strip()]
    keep = [ln for ln in lines if not ln.startswith(("Detected at node", "File ", "[["))]
    return (keep or lines or [type(err).__name__])[-1][:300]
