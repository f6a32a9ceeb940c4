"""The statistics every layer shares: one seed derivation, one multiple-testing
correction, one AUROC/AUPRC, and the row-wise statistics of the metrics.

Ground floor: it imports nothing from keras_iml, so the engine, the metrics, the
surrogates, the control arms and the zoo all draw on the same definitions
(one sequence per row where arrays are ``(N, L)``).
"""

import hashlib
import zlib

import numpy as np

__all__ = [
    "stable_seed",
    "digest",
    "adjust",
    "CORRECTIONS",
    "bootstrap_ci",
    "aggregate",
    "spearman_rows",
    "pearson_rows",
    "similarity_rows",
    "auroc_rows",
    "average_precision_rows",
    "top_k_mask",
    "n_top",
]

CORRECTIONS = ("holm", "bh", "none")


def stable_seed(*parts):
    """The one derivation of a seed from labels: a reproducible 32-bit integer.

    Every keyed draw of the package (a metric's subsample, a control arm, a
    surrogate library, a confounder permutation) seeds its generator with
    ``stable_seed(run_seed, *labels)``, so adding a draw leaves the others
    unchanged. (Python's ``hash`` is salted per process, so it cannot serve.)

    Example:
        >>> stable_seed(0, "placebo", "saliency") == stable_seed(0, "placebo", "saliency")
        True
    """
    return zlib.crc32("|".join(str(p) for p in parts).encode())


def digest(row):
    """A 128-bit integer digest of an array's content (its float32 bytes).

    Keys a sequence's random draws by what the sequence is, not where it sits
    (see :mod:`keras_iml.engine.seeds`).
    """
    data = np.ascontiguousarray(row, dtype=np.float32).tobytes()
    return int.from_bytes(hashlib.blake2b(data, digest_size=16).digest(), "little")


def adjust(p_values, how="holm"):
    """Multiple-testing adjusted p-values: Holm (family-wise) or Benjamini–Hochberg.

    The package's one correction: validation evidence, distillation findings and
    Tomtom q-values all use it. NaN entries are left out of the family and stay NaN.

    Args:
        p_values: 1-D p-values.
        how: ``"holm"`` (family-wise error), ``"bh"`` (false discovery rate,
            Benjamini–Hochberg q-values) or ``"none"``.

    Returns:
        float64 array of the same shape, capped at 1.

    Example:
        >>> adjust([0.01, 0.04, 0.03], "bh").round(2).tolist()
        [0.03, 0.04, 0.04]
        >>> adjust([0.01, 0.04, 0.03], "holm").round(2).tolist()
        [0.03, 0.06, 0.06]
    """
    if how not in CORRECTIONS:
        raise ValueError(f"`correction` must be one of {CORRECTIONS}. Received: correction={how!r}")
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    if m == 0 or how == "none":
        out[ok] = p[ok]
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    ranked = p[order]
    if how == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * ranked)
    else:
        adj = np.minimum.accumulate(m / np.arange(m, 0, -1) * ranked[::-1])[::-1]
    out[order] = np.minimum(adj, 1.0)
    return out


def aggregate(values, how="mean"):
    """Mean or median of the finite values (NaN when there are none)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan")
    return float(np.median(values) if how == "median" else values.mean())


def bootstrap_ci(values, how="mean", n_bootstrap=1000, level=0.95, seed=0):
    """Percentile bootstrap confidence interval of the aggregate over sequences.

    Sequences are resampled with replacement ``n_bootstrap`` times; NaN values
    (undefined or not evaluated) are left out first.

    Returns:
        ``(value, low, high)``; ``low``/``high`` are NaN with fewer than 2 values or
        ``n_bootstrap == 0``.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    value = aggregate(values, how)
    if values.size < 2 or not n_bootstrap:
        return value, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    stats_ = np.empty(int(n_bootstrap))
    chunk = max(1, 2_000_000 // values.size)
    for start in range(0, int(n_bootstrap), chunk):
        size = min(chunk, int(n_bootstrap) - start)
        sample = values[rng.integers(0, values.size, (size, values.size))]
        stats_[start : start + size] = (
            np.median(sample, axis=1) if how == "median" else sample.mean(axis=1)
        )
    alpha = (1.0 - level) / 2
    low, high = np.quantile(stats_, [alpha, 1 - alpha])
    return value, float(low), float(high)


def pearson_rows(a, b):
    """Pearson correlation of each row of ``a`` with the same row of ``b``.

    Same conventions as :func:`spearman_rows` for constant rows.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return _corr_centred(a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True),
                         np.ptp(a, axis=1) == 0, np.ptp(b, axis=1) == 0)


def similarity_rows(a, b, kind):
    """Row-wise ``"pearson"`` or ``"spearman"`` correlation."""
    if kind == "pearson":
        return pearson_rows(a, b)
    if kind == "spearman":
        return spearman_rows(a, b)
    raise ValueError(f"`similarity` must be 'pearson' or 'spearman'. Received: similarity={kind!r}")


def _corr_centred(ca, cb, const_a, const_b):
    num = (ca * cb).sum(1)
    den = np.sqrt((ca**2).sum(1) * (cb**2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)
    rho[const_a & const_b] = 1.0
    return np.clip(rho, -1.0, 1.0)


def spearman_rows(a, b):
    """Spearman rank correlation of each row of ``a`` with the same row of ``b``.

    Ties get average ranks. Two constant rows have identical (all-tied) rankings and
    score 1; a constant row against a varying one scores 0.

    Args:
        a, b: arrays ``(N, L)``.

    Returns:
        float64 ``(N,)``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    from scipy import stats  # here: the ground floor stays light to import

    ra = stats.rankdata(a, axis=1)
    rb = stats.rankdata(b, axis=1)
    return _corr_centred(ra - ra.mean(1, keepdims=True), rb - rb.mean(1, keepdims=True),
                         np.ptp(a, axis=1) == 0, np.ptp(b, axis=1) == 0)


def auroc_rows(scores, labels):
    """Per-row area under the ROC curve (Mann–Whitney, ties counted as 1/2).

    Args:
        scores: ``(N, L)`` position scores.
        labels: boolean ``(N, L)``.

    Returns:
        float64 ``(N,)``; NaN for rows without both classes.
    """
    labels = np.asarray(labels, dtype=bool)
    from scipy import stats

    ranks = stats.rankdata(np.asarray(scores, dtype=np.float64), axis=1)
    n_pos = labels.sum(1)
    n_neg = labels.shape[1] - n_pos
    rank_sum = np.where(labels, ranks, 0).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    auc[(n_pos == 0) | (n_neg == 0)] = np.nan
    return auc


def average_precision_rows(scores, labels):
    """Per-row average precision (area under the precision-recall step curve).

    ``AP = sum_t (R_t - R_{t-1}) P_t`` over the distinct score thresholds, tied
    scores entering together (as scikit-learn computes it).

    Returns:
        float64 ``(N,)``; NaN for rows without positives.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    out = np.full(len(scores), np.nan)
    for i, (s, y) in enumerate(zip(scores, labels)):
        n_pos = y.sum()
        if n_pos == 0:
            continue
        order = np.argsort(-s, kind="stable")
        s, y = s[order], y[order]
        ends = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
        tp = np.cumsum(y)[ends]
        precision = tp / (ends + 1)
        recall = tp / n_pos
        out[i] = np.sum(np.diff(np.r_[0.0, recall]) * precision)
    return out


def n_top(length, k):
    """Number of positions in the top ``k`` percent of a sequence (at least 1)."""
    return max(1, int(round(length * k / 100.0)))


def top_k_mask(scores, k, tiebreak):
    """Boolean mask of the top ``k`` % positions of each row.

    Exactly ``n_top(L, k)`` positions per row; ties are broken by ``tiebreak`` (a
    fixed random ``(N, L)`` array shared by every method of a run, so identical
    maps select identical positions and ties are not biased towards one end).
    """
    scores = np.asarray(scores, dtype=np.float64)
    n = n_top(scores.shape[1], k)
    order = np.lexsort((tiebreak, -scores), axis=1)[:, :n]
    mask = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(mask, order, True, axis=1)
    return mask
