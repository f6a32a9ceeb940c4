"""TensorFlow: ``tf.function`` graphs and ``tf.GradientTape``."""

import numpy as np
import tensorflow as tf

__all__ = ["function", "intermediate_grad", "value_and_grad", "vjp", "NAME", "ERRORS"]

NAME = "tensorflow"

#: errors of the backend's runtime (TensorFlow's runtime errors), reworded by the engine
ERRORS = (tf.errors.OpError,)


def _spec(entry):
    shape, dtype = entry
    return tf.TensorSpec(shape, dtype)


def _numpy(out):
    if isinstance(out, (tuple, list)):
        return type(out)(_numpy(o) for o in out)
    return out.numpy() if hasattr(out, "numpy") else np.asarray(out)


def function(fn, variables=(), signature=None):  # noqa: ARG001 - variables are captured
    """``fn`` traced once into a ``tf.function`` (with an input signature when given).

    Model variables are captured by reference, so weights replaced later with
    ``set_weights`` are used without tracing again.

    Args:
        fn: a function of tensors returning a tensor or a tuple of tensors.
        variables: unused (TensorFlow reads variables inside the graph).
        signature: optional list of ``(shape, dtype)``, ``None`` for free dimensions.

    Returns:
        A callable taking numpy arrays (or tensors) and returning numpy arrays.
    """
    spec = None if signature is None else [_spec(s) for s in signature]
    compiled = tf.function(fn, input_signature=spec, reduce_retracing=spec is None)

    def call(*arrays):
        return _numpy(compiled(*arrays))

    call.compiled = compiled
    return call


def value_and_grad(fn):
    """``g(x, *args) -> (fn(x, *args), d sum(fn(x, *args)) / dx)`` with a GradientTape."""

    def g(x, *args):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = fn(x, *args)
        grad = tape.gradient(value, x)
        return value, (tf.zeros_like(x) if grad is None else grad)

    return g


def vjp(fn, x, cotangent):
    """``d <fn(x), cotangent> / dx``."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    grad = tape.gradient(y, x, output_gradients=cotangent)
    return tf.zeros_like(x) if grad is None else grad


def intermediate_grad(fn, x):
    """``(a, d sum(v) / da)`` for ``a, v = fn(x)``: the gradient at an intermediate tensor."""
    with tf.GradientTape() as tape:
        a, v = fn(x)
    grad = tape.gradient(v, a)
    return a, (tf.zeros_like(a) if grad is None else grad)
