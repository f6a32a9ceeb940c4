"""JAX: ``jax.jit`` with the model's variables passed in, and ``jax.vjp``.

A Keras layer called inside ``jax.jit`` would bake its weights into the compiled
function as constants, so weights replaced later (``set_weights``, as the zoo's model
pool does between models of one architecture) would be ignored. The compiled
function therefore takes the variables' current values as an argument and maps them
onto the variables with a ``keras.StatelessScope`` while tracing, as Keras's own
``stateless_call`` does.
"""

import jax
import jax.numpy as jnp
import numpy as np

import keras

__all__ = ["function", "intermediate_grad", "value_and_grad", "vjp", "NAME", "ERRORS"]

NAME = "jax"

#: errors of the backend's runtime (XLA's runtime errors), reworded by the engine
ERRORS = (jax.errors.JaxRuntimeError,) if hasattr(jax.errors, "JaxRuntimeError") else ()


def _numpy(out):
    if isinstance(out, (tuple, list)):
        return type(out)(_numpy(o) for o in out)
    return np.asarray(out)


def function(fn, variables=(), signature=None):  # noqa: ARG001 - jit specialises on shapes
    """``fn`` compiled with ``jax.jit``; ``variables`` are read at every call.

    Args:
        fn: a function of tensors returning a tensor or a tuple of tensors.
        variables: the Keras variables ``fn`` reads (the model's).
        signature: unused (``jax.jit`` compiles once per input shape).

    Returns:
        A callable taking numpy arrays and returning numpy arrays.
    """
    variables = list(variables)

    def stateless(values, *arrays):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return fn(*arrays)

    compiled = jax.jit(stateless)

    def call(*arrays):
        return _numpy(compiled([v.value for v in variables], *arrays))

    call.compiled = compiled
    return call


def value_and_grad(fn):
    """``g(x, *args) -> (fn(x, *args), d sum(fn(x, *args)) / dx)`` with ``jax.vjp``."""

    def g(x, *args):
        value, pullback = jax.vjp(lambda v: fn(v, *args), x)
        (grad,) = pullback(jnp.ones_like(value))
        return value, grad

    return g


def vjp(fn, x, cotangent):
    """``d <fn(x), cotangent> / dx``."""
    _, pullback = jax.vjp(fn, x)
    return pullback(cotangent)[0]


def intermediate_grad(fn, x):  # noqa: ARG001
    """Not available: JAX differentiates functions, not intermediate values of a trace."""
    raise ValueError(
        "On the JAX backend a gradient at an intermediate layer needs the model split "
        "at that layer (the layer must feed the explained output through a chain of "
        "layers, without skip connections around it). Received: KERAS_BACKEND='jax'"
    )
