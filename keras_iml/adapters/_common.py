"""Input checks and target handling shared by the cross-check adapters."""

import importlib

import numpy as np

from keras_iml import _checks

__all__ = ["import_optional", "prepare", "predict_column"]


def import_optional(module, library):
    """Imports an optional cross-check library, with an install hint when missing."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"This adapter needs {library}, an optional dependency of keras_iml: "
            f"pip install 'keras-iml[crosscheck]'. ({err})"
        ) from err


def prepare(model, x, target, name="x"):
    """Validates ``x`` and resolves ``target`` to a column of the model's output.

    Args:
        model: a Keras model with a single output of shape ``(N,)`` or ``(N, K)``.
        x: one-hot sequences (array, tensor or DNA strings).
        target: None (single-column output) or an int column.

    Returns:
        ``(x, column)``: the float32 one-hot array and the column index (None for a
        1-D output).
    """
    x = _checks.as_onehot(x, name=name)
    _checks.check_against_model(x, model, name=name)
    out = model(x[:1], training=False)
    if isinstance(out, (list, tuple, dict)):
        raise ValueError(
            "The cross-check adapters support models with a single output tensor. "
            f"Received: a model with {len(out)} outputs"
        )
    shape = tuple(out.shape)
    if len(shape) == 1:
        if target not in (None, 0):
            raise ValueError(
                f"target={target!r} does not exist: the model has a single output."
            )
        return x, None
    if len(shape) != 2:
        raise ValueError(
            "The cross-check adapters need a model output of shape (N,) or (N, K). "
            f"Received: output shape {shape}"
        )
    k = shape[1]
    if target is None:
        if k != 1:
            raise ValueError(
                f"The model has {k} outputs per sequence; choose one with `target` (an int). "
                "Received: target=None"
            )
        return x, 0
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
        raise ValueError(
            f"The cross-check adapters take `target` as None or an int column. "
            f"Received: target={target!r}"
        )
    if not -k <= target < k:
        raise ValueError(f"target={target!r} does not exist: the model has {k} outputs.")
    return x, int(target) % k


def predict_column(model, x, column, batch_size=256):
    """The model's output column for ``x`` as a float64 array ``(N,)``."""
    out = np.concatenate([
        np.asarray(model(x[i : i + batch_size], training=False), np.float64)
        for i in range(0, len(x), batch_size)
    ])
    return out if column is None else out[:, column]
