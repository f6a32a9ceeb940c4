"""Background sequences for synthetic benchmarks, as integer base codes (0..3 = ACGT).

Two kinds:

* ``"iid"``: every base drawn independently with a set GC content.
* ``"dinuc"``: dinucleotide shuffles of source sequences. The sources are given by
  the user (e.g. genomic windows, one-hot), or drawn from a first-order Markov
  chain with a set GC content and CpG depletion (observed/expected CpG ratio,
  about 0.2-0.25 in the human genome), so that the backgrounds carry a
  genome-like dinucleotide composition without needing a genome.
"""

import numpy as np

from keras_iml import dna

__all__ = ["iid_codes", "markov_codes", "dinuc_codes", "check_gc", "BACKGROUNDS"]

BACKGROUNDS = ("iid", "dinuc")


def check_gc(gc, name="gc"):
    """Returns ``gc`` as a float in [0, 1] or raises ValueError naming ``name``."""
    try:
        value = float(gc)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a number in [0, 1]. Received: {name}={gc!r}") from None
    if not 0.0 <= value <= 1.0 or not np.isfinite(value):
        raise ValueError(
            f"`{name}` must be a GC fraction in [0, 1]. Received: {name}={gc!r}"
        )
    return value


def iid_codes(n, length, gc, rng):
    """``(n, length)`` int8 codes with each base i.i.d.: P(G) = P(C) = gc / 2."""
    gc = check_gc(gc)
    p = np.array([1 - gc, gc, gc, 1 - gc]) / 2
    return rng.choice(4, size=(n, length), p=p).astype(np.int8)


def _markov_transitions(gc, cpg_ratio):
    """Transition matrix with stationary GC ``gc`` and CpG observed/expected ``cpg_ratio``.

    Rows for A, G and T are a common base distribution ``q``; the row for C gives G
    the probability ``cpg_ratio * P(G)`` (so that ``P(CG) = cpg_ratio * P(C) P(G)``)
    and shares the rest in proportion to ``q``. ``q`` is found by a fixed-point
    iteration that makes the stationary composition equal to the target one.
    """
    pi = np.array([1 - gc, gc, gc, 1 - gc]) / 2
    q = pi.copy()
    for _ in range(200):
        t = np.tile(q, (4, 1))
        row = q.copy()
        row[2] = 0.0
        t[1] = row / row.sum() * (1 - cpg_ratio * pi[2])
        t[1, 2] = cpg_ratio * pi[2]
        w, v = np.linalg.eig(t.T)
        s = np.real(v[:, np.argmin(np.abs(w - 1))])
        s = s / s.sum()
        if np.abs(s - pi).max() < 1e-10:
            break
        q = np.clip(q * pi / np.maximum(s, 1e-12), 1e-12, None)
        q /= q.sum()
    return t


def markov_codes(n, length, gc, rng, cpg_ratio=0.25):
    """``(n, length)`` int8 codes from a first-order Markov chain (see module docstring)."""
    gc = check_gc(gc)
    if not 0.0 < gc < 1.0:
        raise ValueError(
            f"`gc` must be strictly between 0 and 1 for a Markov background. Received: gc={gc}"
        )
    if not 0.0 <= float(cpg_ratio) <= 1.0:
        raise ValueError(f"`cpg_ratio` must be in [0, 1]. Received: cpg_ratio={cpg_ratio!r}")
    t = _markov_transitions(gc, float(cpg_ratio))
    cum = np.cumsum(t, axis=1)
    pi = np.array([1 - gc, gc, gc, 1 - gc]) / 2
    out = np.empty((n, length), dtype=np.int8)
    out[:, 0] = rng.choice(4, size=n, p=pi)
    u = rng.random((n, length))
    for i in range(1, length):
        rows = cum[out[:, i - 1]]
        out[:, i] = np.minimum((u[:, i : i + 1] > rows).sum(1), 3)
    return out


def dinuc_codes(n, length, rng, source=None, gc=0.41, cpg_ratio=0.25):
    """``(n, length)`` int8 codes, dinucleotide shuffles of source sequences.

    Args:
        n: number of sequences.
        length: sequence length.
        rng: a ``numpy.random.Generator``.
        source: optional one-hot array ``(M, length, 4)`` of sequences to shuffle
            (sampled with replacement). None draws Markov sources (``gc``, ``cpg_ratio``).
        gc: GC content of Markov sources.
        cpg_ratio: CpG observed/expected ratio of Markov sources.
    """
    if source is None:
        src = markov_codes(n, length, gc, rng, cpg_ratio=cpg_ratio)
        pick = np.arange(n)
    else:
        arr = np.asarray(source)
        if arr.ndim != 3 or arr.shape[-1] != 4 or arr.shape[1] != length or len(arr) == 0:
            raise ValueError(
                f"`background_source` must be one-hot (M, length={length}, 4). "
                f"Received: background_source.shape={arr.shape}"
            )
        src = arr.argmax(-1).astype(np.int8)
        pick = rng.integers(0, len(src), size=n)
    eye = np.eye(4, dtype=np.float32)
    shuffled = dna.dinuc_shuffle(eye[src[pick]], rng)
    return shuffled.argmax(-1).astype(np.int8)
