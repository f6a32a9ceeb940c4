"""PyTorch: eager calls without autograd, except where a gradient is asked for.

Nothing is compiled (``torch.compile`` costs more than it wins on the short calls
explaining a batch makes); forward passes run under ``torch.no_grad`` and gradients
are taken with ``torch.autograd.grad`` on a leaf copy of the input.
"""

import numpy as np
import torch

import keras

__all__ = ["function", "intermediate_grad", "value_and_grad", "vjp", "NAME", "ERRORS"]

NAME = "torch"

#: errors of the backend's runtime (none: PyTorch raises plain RuntimeError, left as is), reworded by the engine
ERRORS = ()


def _numpy(out):
    if isinstance(out, (tuple, list)):
        return type(out)(_numpy(o) for o in out)
    if isinstance(out, torch.Tensor):
        return out.detach().cpu().numpy()
    return np.asarray(out)


def function(fn, variables=(), signature=None):  # noqa: ARG001 - eager
    """``fn`` run eagerly on tensors placed by Keras, without autograd.

    Args:
        fn: a function of tensors returning a tensor or a tuple of tensors.
        variables: unused (eager calls read the variables).
        signature: unused.

    Returns:
        A callable taking numpy arrays and returning numpy arrays.
    """

    def call(*arrays):
        tensors = [keras.ops.convert_to_tensor(a) for a in arrays]
        with torch.no_grad():
            return _numpy(fn(*tensors))

    call.compiled = fn
    return call


def value_and_grad(fn):
    """``g(x, *args) -> (fn(x, *args), d sum(fn(x, *args)) / dx)`` with ``torch.autograd``."""

    def g(x, *args):
        with torch.enable_grad():
            leaf = x.detach().requires_grad_(True)
            value = fn(leaf, *args)
            (grad,) = torch.autograd.grad(value.sum(), leaf, allow_unused=True)
        grad = torch.zeros_like(leaf) if grad is None else grad
        return value.detach(), grad.detach()

    return g


def vjp(fn, x, cotangent):
    """``d <fn(x), cotangent> / dx``."""
    with torch.enable_grad():
        leaf = x.detach().requires_grad_(True)
        y = fn(leaf)
        (grad,) = torch.autograd.grad(y, leaf, grad_outputs=cotangent, allow_unused=True)
    return (torch.zeros_like(leaf) if grad is None else grad).detach()


def intermediate_grad(fn, x):
    """``(a, d sum(v) / da)`` for ``a, v = fn(x)``: the gradient at an intermediate tensor."""
    with torch.enable_grad():
        a, v = fn(x)
        if not a.requires_grad:
            return a.detach(), torch.zeros_like(a)
        (grad,) = torch.autograd.grad(v.sum(), a, allow_unused=True)
    return a.detach(), (torch.zeros_like(a) if grad is None else grad.detach())
