"""Position-independent random draws: each sequence's generator is keyed by the sequence.

A stochastic method (random references, noise, shuffled occlusion windows) draws
from one ``numpy.random.Generator`` per sequence. The generator of a sequence is
seeded by

* the run's seed,
* a digest of the sequence itself (:func:`keras_iml.stats.digest`: BLAKE2b of its
  float32 one-hot bytes),
* its index among identical copies of it earlier in the same run (0 for the first
  copy, 1 for the second...), so duplicates get independent draws (numbered for
  methods declared ``stochastic``; others take no digest unless they draw), and
* the strand (0, or 1 for the reverse-complement pass of ``rc_average``),

and by nothing else. So a sequence gets the same explanation alone, in any batch, in
any order and in any subsample (``explain(x[5:6])[0] == explain(x)[5]``), and metrics
that re-explain a subsample compare the same random draws. Only the numbering of
identical copies depends on their order in ``x``.
"""

import numpy as np

from keras_iml.stats import digest

__all__ = ["SequenceSeeds"]


class Generators:
    """One generator per sequence of a batch, created on first use.

    Deterministic methods never touch their generators, so they cost nothing.
    Behaves as a read-only sequence (``len``, indexing, iteration).

    Args:
        keys: one seed-sequence key per row, or a function ``i -> key`` computing
            them on first use.
        n: number of rows (with a function).
    """

    def __init__(self, keys, n=None):
        self._keys = keys
        self._n = len(keys) if n is None else int(n)
        self._made = {}

    def __len__(self):
        return self._n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = range(len(self))[i]
        if i not in self._made:
            key = self._keys(i) if callable(self._keys) else self._keys[i]
            self._made[i] = np.random.default_rng(key)
        return self._made[i]

    def __iter__(self):
        return (self[i] for i in range(len(self)))


class SequenceSeeds:
    """The per-sequence generators of one run (see the module docstring).

    Args:
        seed: the run's base seed (a non-negative int).

    Example:
        >>> seeds = SequenceSeeds(0)
        >>> rngs = seeds.generators(x_batch)        # one per row, keyed by the row
        >>> rc_rngs = seeds.generators(x_batch, strand=1, digests=seeds.last)
    """

    def __init__(self, seed):
        self.seed = int(seed)
        self._copies = {}
        self.last = None

    def digests(self, x):
        """Digests of the rows of ``x`` and their copy numbers (counted over the run)."""
        out = []
        for row in x:
            d = digest(row)
            copy = self._copies.get(d, 0)
            self._copies[d] = copy + 1
            out.append((d, copy))
        self.last = out
        return out

    def _key(self, d, copy, strand):
        return [self.seed, d & 0xFFFFFFFFFFFFFFFF, d >> 64, copy, int(strand)]

    def generators(self, x, strand=0, digests=None, count_copies=True):
        """One lazily created generator per row of ``x``.

        Args:
            x: ``(B, L, 4)`` float32 batch.
            strand: 0, or 1 for the reverse-complement pass.
            digests: the rows' ``(digest, copy)`` pairs when already computed for
                this batch (the reverse-complement pass reuses the forward ones, so
                both strands of a sequence are keyed by the forward sequence).
            count_copies: number identical copies (for methods declared
                ``stochastic``). Otherwise nothing is computed up front: a row's digest
                is taken only if its generator is used, with copy number 0.
        """
        if digests is None and not count_copies:
            self.last = None
            rows = x
            return Generators(lambda i: self._key(digest(rows[i]), 0, strand), n=len(x))
        pairs = self.digests(x) if digests is None else digests
        return Generators([self._key(d, copy, strand) for d, copy in pairs])
