"""Planting motif sites into one-hot sequences: the building block of ground truth.

A site drawn from a frequency matrix, placed at a seeded position and strand, is
the one thing a benchmark knows for certain about a sequence. The PWM oracle
metric, the zoo's planted-site checks and users' own benchmarks plant with these.

Example:
    >>> import numpy as np
    >>> from keras_iml.datasets import plant_site
    >>> x = np.eye(4, dtype="float32")[np.zeros((2, 50), int)]  # poly-A
    >>> planted, starts, strands = plant_site(x, [[0, 1, 0, 0]] * 3, np.random.default_rng(0))
    >>> planted[0, starts[0]:starts[0] + 3].argmax(1).tolist() in ([1, 1, 1], [2, 2, 2])
    True
"""

import numpy as np

from keras_iml import dna
from keras_iml.motifs.pfm import as_pfm, sample_bases

__all__ = ["sample_site", "plant_site"]


def sample_site(pfm, rng):
    """Draws one site from a frequency matrix: a one-hot ``(W, 4)`` array.

    See :func:`keras_iml.motifs.pfm.sample_bases` (the same draws, as base codes).
    """
    return np.eye(4, dtype=np.float32)[sample_bases(pfm, rng)]


def plant_site(x, pfm, rng):
    """Plants one site sampled from ``pfm`` in each sequence, at a random place and strand.

    Args:
        x: one-hot ``(N, L, 4)`` sequences (not modified).
        pfm: ``(W, 4)`` counts or probabilities, ``W <= L``.
        rng: a ``numpy.random.Generator``: positions, strands, then the bases.

    Returns:
        ``(x_planted, start, strand)``: the planted copy, and per sequence the
        site's first position and strand (1: reverse complement).
    """
    x = np.array(x, dtype=np.float32, copy=True)
    if x.ndim != 3 or x.shape[-1] != 4:
        raise ValueError(f"`x` must be one-hot (N, L, 4). Received: x.shape={x.shape}")
    width = len(as_pfm(pfm))
    if width > x.shape[1]:
        raise ValueError(f"The motif ({width} bp) is longer than the sequences. "
                         f"Received: x.shape={x.shape}, pfm width={width}")
    starts = rng.integers(0, x.shape[1] - width + 1, size=len(x))
    strands = rng.integers(0, 2, size=len(x))
    for i, (start, strand) in enumerate(zip(starts, strands)):
        site = sample_site(pfm, rng)
        x[i, start : start + width] = dna.reverse_complement(site) if strand else site
    return x, starts, strands
