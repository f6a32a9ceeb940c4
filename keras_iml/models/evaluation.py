"""Held-out classification metrics: AUROC and AUPRC (average precision) of a model.

The statistics are the package's one implementation (:mod:`keras_iml.stats`, no
scikit-learn needed); ties are handled as scikit-learn does (mid-ranks for AUROC,
one threshold per distinct score for AUPRC).
"""

import numpy as np

from keras_iml.stats import auroc_rows, average_precision_rows

__all__ = ["auroc", "auprc", "evaluate"]


def _check(y_true, y_score):
    y = np.asarray(y_true, dtype=float).reshape(-1)
    s = np.asarray(y_score, dtype=float).reshape(-1)
    if y.shape != s.shape:
        raise ValueError(
            f"`y_true` and `y_score` must have the same number of values. "
            f"Received: y_true.shape={np.shape(y_true)}, y_score.shape={np.shape(y_score)}"
        )
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError(f"`y_true` must hold 0/1 labels. Received values: {np.unique(y)[:5].tolist()}")
    if not np.isfinite(s).all():
        raise ValueError("`y_score` contains NaN or inf.")
    if y.min() == y.max():
        raise ValueError(
            f"`y_true` must contain both classes for AUROC/AUPRC. Received: only {int(y[0])}s"
        )
    return y, s


def auroc(y_true, y_score):
    """Area under the ROC curve (the Mann-Whitney U statistic / (n_pos * n_neg)).

    Checks its inputs, then computes :func:`keras_iml.stats.auroc_rows` on one row.

    Example:
        >>> auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
    """
    y, s = _check(y_true, y_score)
    return float(auroc_rows(s[None], y[None] == 1)[0])


def auprc(y_true, y_score):
    """Average precision: ``sum_k (R_k - R_{k-1}) P_k`` over distinct score thresholds.

    Checks its inputs, then computes :func:`keras_iml.stats.average_precision_rows`.

    Example:
        >>> round(auprc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
        0.8333
    """
    y, s = _check(y_true, y_score)
    return float(average_precision_rows(s[None], y[None] == 1)[0])


def evaluate(model, x, y, batch_size=256, target=0):
    """AUROC and AUPRC of a binary classifier on held-out data.

    Args:
        model: a Keras model.
        x: one-hot ``(N, L, 4)``.
        y: 0/1 labels ``(N,)``.
        batch_size: prediction batch size.
        target: output column scored.

    Returns:
        dict with ``auroc``, ``auprc``, ``n`` and ``n_positive``.
    """
    pred = np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
    score = pred.reshape(len(pred), -1)[:, target]
    y = np.asarray(y).reshape(-1)
    return {"auroc": auroc(y, score), "auprc": auprc(y, score), "n": int(len(y)),
            "n_positive": int(np.sum(y == 1))}
