"""Fidelity of a surrogate to the model, and the checks of surrogate inputs."""

import warnings

import numpy as np
import scipy.stats
from sklearn.metrics import r2_score

__all__ = ["fidelity", "check_xy"]


def fidelity(y_true, y_pred):
    """How faithfully predictions reproduce the model's outputs.

    Args:
        y_true: the model's outputs ``(n,)``.
        y_pred: a surrogate's predictions ``(n,)``.

    Returns:
        ``{"r2": coefficient of determination, "spearman": rank correlation}``, NaN
        with fewer than 2 rows or constant outputs.

    Example:
        >>> fidelity([1.0, 2.0, 3.0], [1.1, 1.9, 3.2])["spearman"]
        1.0
    """
    y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    if len(y_true) < 2 or np.ptp(y_true) == 0:
        return {"r2": float("nan"), "spearman": float("nan")}
    r2 = float(r2_score(y_true, y_pred))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho = scipy.stats.spearmanr(y_true, y_pred).statistic
    return {"r2": r2, "spearman": float(rho)}


def check_xy(x, y=None):
    """``(x, y as (n,) float64)``, or ValueError: ``x`` one-hot ``(n, L, 4)``, one finite ``y`` per row."""
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[-1] != 4 or len(x) == 0:
        raise ValueError(f"`x` must be one-hot (N, L, 4). Received: x.shape={x.shape}")
    if y is None:
        return x, None
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1) if np.ndim(y) else np.asarray(y)
    if y.ndim != 2 or y.shape != (len(x), 1) or not np.isfinite(y).all():
        raise ValueError(
            f"`y` must hold one finite value per sequence of x ({len(x)}). "
            f"Received: y.shape={np.shape(y)}"
        )
    return x, y[:, 0]
