"""Position frequency matrices (PFMs): validation and the quantities derived from them.

Every part of keras_iml that takes a motif matrix (the motif database, MEME and
JASPAR readers, synthetic datasets, PWM-scanning models) validates it here, so a
PFM means the same thing everywhere: a float64 ``(L, 4)`` array of per-position
base probabilities in ``ACGT`` column order, each row summing to 1.
"""

import numpy as np

__all__ = ["BASES", "UNIFORM", "as_pfm", "consensus", "information_content", "log_odds",
           "sample_bases"]

BASES = "ACGT"
UNIFORM = (0.25, 0.25, 0.25, 0.25)


def as_pfm(matrix, name="pfm"):
    """Validates a motif matrix and returns it as float64 ``(L, 4)`` probabilities.

    Counts are normalised per position, so counts and probabilities are both
    accepted. A ``(4, L)`` matrix (the MEME/PyTorch layout) is transposed when
    ``L != 4``. An object with a ``pfm`` attribute (e.g.
    :class:`keras_iml.datasets.Motif`) stands for that matrix.

    Args:
        matrix: array-like ``(L, 4)`` of non-negative counts or probabilities
            (ACGT columns), or an object with a ``pfm`` attribute.
        name: the argument name used in error messages.

    Returns:
        float64 array ``(L, 4)`` whose rows sum to 1.

    Raises:
        ValueError: naming ``name``, when the matrix is not 2-D with 4 columns (or
            rows), is empty, holds a negative or non-finite entry, or has a
            position whose entries sum to 0.

    Example:
        >>> as_pfm([[2, 0, 0, 2], [0, 4, 0, 0]])
        array([[0.5, 0. , 0. , 0.5],
               [0. , 1. , 0. , 0. ]])
    """
    matrix = getattr(matrix, "pfm", matrix)
    try:
        pfm = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"`{name}` must be a numeric motif matrix of shape (L, 4). "
            f"Received: {name} of type {type(matrix).__name__}"
        ) from None
    if pfm.ndim == 2 and pfm.shape[1] != 4 and pfm.shape[0] == 4:
        pfm = pfm.T
    if pfm.ndim != 2 or pfm.shape[1] != 4 or pfm.shape[0] == 0:
        raise ValueError(
            f"`{name}` must be a motif matrix of shape (L, 4) in ACGT order. "
            f"Received: {name}.shape={pfm.shape}"
        )
    if not np.isfinite(pfm).all() or (pfm < 0).any():
        raise ValueError(
            f"`{name}` must hold non-negative finite counts or probabilities. "
            f"Received: {name} with min={np.nanmin(pfm)}"
        )
    totals = pfm.sum(1, keepdims=True)
    if (totals <= 0).any():
        raise ValueError(
            f"`{name}` has a position with no counts (row {int(np.argmin(totals))}). "
            f"Received: {name}.shape={pfm.shape}"
        )
    return pfm / totals


def log_odds(pfm, background=UNIFORM, pseudocount=0.01, *, base):
    """Log-odds (position weight) matrix of a PFM.

    ``w[j, b] = log_base((p[j, b] + eps) / (1 + 4 eps) / background[b])``, with
    ``p`` the normalised PFM and ``eps`` the pseudocount. The base only scales the
    matrix: ``log_odds(p, base=np.e) == log_odds(p, base=2) * ln(2)``.

    Args:
        pfm: ``(L, 4)`` counts or probabilities (see :func:`as_pfm`).
        background: the 4 ACGT background probabilities.
        pseudocount: added to every probability before the log.
        base: base of the logarithm, always given: 2 for bits, ``numpy.e`` for nats
            (the PWM models and metrics use nats, JASPAR-style scores bits).

    Returns:
        float64 array ``(L, 4)``.

    Example:
        >>> log_odds(np.eye(4), pseudocount=0.0, background=UNIFORM, base=2)[0, 0]
        2.0
    """
    bg = np.asarray(background, dtype=np.float64)
    if bg.shape != (4,) or not np.isfinite(bg).all() or (bg <= 0).any():
        raise ValueError(
            "`background` must be 4 positive ACGT probabilities. "
            f"Received: background={background!r}"
        )
    if not np.isfinite(pseudocount) or pseudocount < 0:
        raise ValueError(f"`pseudocount` must be >= 0. Received: pseudocount={pseudocount!r}")
    if not np.isfinite(base) or base <= 0 or base == 1:
        raise ValueError(
            f"`base` must be positive and not 1 (e.g. 2 or numpy.e). Received: base={base!r}"
        )
    p = (as_pfm(pfm, "pfm") + pseudocount) / (1.0 + 4 * pseudocount)
    with np.errstate(divide="ignore"):
        return np.log(p / bg) / np.log(base)


def information_content(pfm):
    """Mean information content of a PFM, in bits per position (uniform background).

    Example:
        >>> information_content(np.eye(4))
        2.0
    """
    p = as_pfm(pfm)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(p / 0.25), 0.0)
    return float(terms.sum(1).mean())


def consensus(pfm):
    """The most probable base at each position (``"ACGT"`` letters, first on ties)."""
    return "".join(BASES[i] for i in as_pfm(pfm).argmax(1))


def sample_bases(pfm, rng):
    """Draws one site from a PFM: integer base codes ``(L,)`` (0-3 for ACGT).

    Args:
        pfm: ``(L, 4)`` counts or probabilities.
        rng: a ``numpy.random.Generator``; one uniform draw per position.
    """
    pfm = as_pfm(pfm)
    u = rng.random((len(pfm), 1))
    return np.minimum((u > np.cumsum(pfm, axis=1)).sum(1), 3)
