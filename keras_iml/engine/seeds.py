"""Position-independent random draws: each sequence's generator is keyed by the sequence.

A stochastic method (random references, noise, shuffled occlusion windows) draws
from one ``numpy.random.Generator`` per sequence. The generator of a sequence is
seeded by

* the run's seed,
* a digest of the sequence itself (BLAKE2b of its float32 one-hot bytes),
* its index among identical copies of it earlier in the same run (0 for the first
  copy, 1 for the second...), so duplicates get independent draws, and
* the strand (0, or 1 for the reverse-complement pass of ``rc_average``),

and by nothing else. So a sequence gets the same explanation alone, in any batch, in
any order and in any subsample (``explain(x[5:6])[0] == explain(x)[5]``), and metrics
that re-explain a subsample compare the same random draws. Only the numbering of
identical copies depends on their order in ``x``.
"""

import hashlib

import numpy as np

__all__ = ["SequenceSeeds", "digest"]


def digest(row):
    """A 128-bit integer digest of one sequence's float32 bytes."""
    data = np.ascontiguousarray(row, dtype=np.float32).tobytes()
    return int.from_bytes(hashlib.blake2b(data, digest_size=16).digest(), "little")


class Generators:
    """One generator per sequence of a batch, created on first use.

    Deterministic methods never touch their generators, so they cost nothing.
    Behaves as a read-only sequence (``len``, indexing, iteration).
    """

    def __init__(self, keys):
        self._keys = keys
        self._made = {}

    def __len__(self):
        return len(self._keys)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = range(len(self))[i]
        if i not in self._made:
            self._made[i] = np.random.default_rng(self._keys[i])
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

    def generators(self, x, strand=0, digests=None):
        """One lazily created generator per row of ``x``.

        Args:
            x: ``(B, L, 4)`` float32 batch.
            strand: 0, or 1 for the reverse-complement pass.
            digests: the rows' ``(digest, copy)`` pairs when already computed for
                this batch (the reverse-complement pass reuses the forward ones, so
                both strands of a sequence are keyed by the forward sequence).
        """
        pairs = self.digests(x) if digests is None else digests
        keys = [[self.seed, d & 0xFFFFFFFFFFFFFFFF, d >> 64, copy, int(strand)] for d, copy in pairs]
        return Generators(keys)
