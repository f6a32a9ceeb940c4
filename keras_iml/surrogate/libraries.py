"""Query libraries: designed sets of sequences on which a model is queried for distillation.

A :class:`Library` draws ``n`` one-hot sequences around optional reference
sequences and records, for each, the design variables that produced it (which
reference, how many mutations, which motif where...). Libraries are registered
like methods and metrics (:class:`keras_iml.registry.Registry`): ``get(identifier)``
takes a name, a config dict, a class or an instance; ``__init__`` only stores
keyword options, checked when the library is used.

Every draw comes from the ``numpy.random.Generator`` given to :meth:`Library.sample`,
so the same seed gives the same library. Libraries that start from references fall
back to generated backgrounds (first-order Markov chains with GC 0.41 and CpG
depletion) when ``x_ref`` is None; the design's ``source`` column says which.

Example:
    >>> from keras_iml.surrogate import libraries
    >>> lib = libraries.get("mutagenesis", rate=0.05)
    >>> q = lib.sample(x_ref, 1000, np.random.default_rng(0))
    >>> q.x.shape, list(q.design.columns)
    ((1000, 200, 4), ['parent', 'n_mutations', 'source'])
"""

import dataclasses

import numpy as np
import pandas as pd

from keras_iml.registry import Configurable, Registry
from keras_iml.surrogate import _sequences as seqs
from keras_iml.surrogate._implant import implant_codes, resolve_motifs

__all__ = ["Library", "QuerySet", "REGISTRY", "register", "get", "names", "serialize"]


@dataclasses.dataclass
class QuerySet:
    """Sequences drawn by a library, with their design.

    Attributes:
        x: float32 one-hot ``(n, L, 4)`` in ACGT order.
        design: DataFrame with ``n`` rows, the library's design variables (and
            ``source``: ``"reference"`` or ``"generated"``).
        library: the library's registered name.
        codes: int8 base codes ``(n, L)`` of ``x`` (0..3 = ACGT).
    """

    x: np.ndarray
    design: pd.DataFrame
    library: str
    codes: np.ndarray = dataclasses.field(default=None, repr=False)

    def __len__(self):
        return len(self.x)


class Library(Configurable):
    """Base of query libraries: subclasses implement ``_draw(refs, n, rng, length)``.

    ``_draw`` returns ``(codes (n, length) int8, dict column -> (n,) values)``;
    ``refs`` are the references' base codes ``(M, length)`` or None.

    Example:
        >>> @libraries.register("my_library")
        ... class MyLibrary(libraries.Library):
        ...     def _draw(self, refs, n, rng, length):
        ...         codes = rng.integers(0, 4, size=(n, length)).astype("int8")
        ...         return codes, {"gc": ((codes == 1) | (codes == 2)).mean(1)}
    """

    #: True when the library builds its sequences from the references (when given).
    uses_references = False

    def __init__(self):
        pass

    def check(self, length=None):
        """Raises ValueError for a bad option (naming it); ``length``: the sequence length."""

    def sample(self, x_ref, n, rng, length=None):
        """Draws ``n`` sequences.

        Args:
            x_ref: reference one-hot sequences ``(M, L, 4)`` (ACGT order), or None.
            n: number of sequences.
            rng: a ``numpy.random.Generator``: every draw comes from it.
            length: sequence length when ``x_ref`` is None (else ``L``).

        Returns:
            A :class:`QuerySet`.

        Example:
            >>> get("shuffle").sample(None, 10, np.random.default_rng(0), length=100).design
        """
        n = seqs.check_int(n, "n", low=1)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"`rng` must be a numpy.random.Generator. Received: rng of type {type(rng).__name__}")
        refs = None
        if x_ref is not None:
            x_ref = np.asarray(x_ref)
            if x_ref.ndim != 3 or x_ref.shape[-1] != 4 or len(x_ref) == 0:
                raise ValueError(f"`x_ref` must be one-hot (M, L, 4). Received: x_ref.shape={x_ref.shape}")
            if length is not None and length != x_ref.shape[1]:
                raise ValueError(
                    f"`length` must match x_ref's length {x_ref.shape[1]}. Received: length={length!r}"
                )
            refs, length = seqs.codes_of(x_ref), x_ref.shape[1]
        length = seqs.check_int(length, "length", low=1)
        self.check(length)
        codes, columns = self._draw(refs, n, rng, length)
        design = pd.DataFrame(columns, index=pd.RangeIndex(n))
        source = "reference" if refs is not None and self.uses_references else "generated"
        design["source"] = source
        codes = np.ascontiguousarray(codes, dtype=np.int8)
        return QuerySet(seqs.one_hot(codes), design, self.name, codes)

    def _draw(self, refs, n, rng, length):  # pragma: no cover - abstract
        raise NotImplementedError


REGISTRY = Registry("library", Library)
register = REGISTRY.register
names = REGISTRY.names
get = REGISTRY.get
serialize = REGISTRY.serialize


@register("mutagenesis")
class Mutagenesis(Library):
    """Random point mutations of reference sequences (a SQUID-style in-silico MAVE).

    Each position of a parent, drawn uniformly among the references, is mutated
    with probability ``rate`` to one of the three other bases (uniformly).

    Args:
        rate: per-position mutation probability, in (0, 1].

    Design: ``parent`` (index in ``x_ref``; -1 for a generated parent),
    ``n_mutations``.
    """

    uses_references = True

    def __init__(self, rate=0.1):
        self.rate = rate

    def check(self, length=None):
        seqs.check_fraction(self.rate, "rate", open_low=True)

    def _draw(self, refs, n, rng, length):
        parents_codes, parents = seqs.backgrounds(n, length, rng, refs, shuffle=False)
        hit = rng.random((n, length)) < self.rate
        shift = rng.integers(1, 4, size=(n, length), dtype=np.int8)
        codes = np.where(hit, (parents_codes + shift) % 4, parents_codes).astype(np.int8)
        return codes, {"parent": parents, "n_mutations": hit.sum(1)}


@register("shuffle")
class Shuffle(Library):
    """Dinucleotide-shuffled references: same 2-mer composition, no motif left.

    Args: none.

    Design: ``parent``, ``gc``.
    """

    uses_references = True

    def _draw(self, refs, n, rng, length):
        codes, parents = seqs.backgrounds(n, length, rng, refs, shuffle=True)
        return codes, {"parent": parents, "gc": seqs.gc_of(codes)}


@register("implant")
class Implant(Library):
    """Motif sites implanted into shuffled backgrounds, with a controlled arrangement.

    Each sequence draws a motif, a copy number, an orientation, a first position
    and (with two copies or more) a start-to-start spacing; sites are sampled from
    the motif's frequency matrix and placed on dinucleotide shuffles of the
    references (Markov backgrounds without references).

    Args:
        motifs: dict name -> ``(W, 4)`` frequency/count matrix or JASPAR matrix ID,
            or a list of those (resolved with :func:`keras_iml.models.pwm.load_motifs`).
        copies: copy numbers to draw from (0 keeps the background: a control).
        orientation: orientations to draw from (``"+"``, ``"-"``).
        positions: allowed first-copy starts (None: uniform over the feasible ones).
        spacing: allowed start-to-start spacings (None: uniform over the
            non-overlapping feasible ones).
        heterotypic: probability that each further copy draws its own motif.

    Design: ``motif`` (first copy, ``"none"`` without copies), ``motifs`` (every
    copy, ``+``-joined), ``copies``, ``position`` (first copy start, -1 without),
    ``orientation``, ``spacing`` (NaN with fewer than 2 copies), ``parent``.
    """

    uses_references = True

    def __init__(self, motifs=None, copies=(0, 1, 2), orientation=("+", "-"), positions=None,
                 spacing=None, heterotypic=0.5):
        self.motifs = motifs
        self.copies = copies
        self.orientation = orientation
        self.positions = positions
        self.spacing = spacing
        self.heterotypic = heterotypic

    def check(self, length=None):
        if self.motifs is None:
            raise ValueError("The implant library needs motifs. Received: motifs=None")
        seqs.check_choices(self.copies, "copies", low=0)
        seqs.check_choices(self.orientation, "orientation", allowed=("+", "-"))
        if self.positions is not None:
            seqs.check_choices(self.positions, "positions", low=0)
        if self.spacing is not None:
            seqs.check_choices(self.spacing, "spacing", low=1)
        seqs.check_fraction(self.heterotypic, "heterotypic")
        motifs = self.resolved()
        width = max(len(p) for _, p in motifs)
        most = max(self.copies)
        if length is not None and most * width > length:
            raise ValueError(
                f"{most} copies of a {width}-bp motif do not fit in {length} bp. "
                f"Received: copies={self.copies!r}"
            )

    def resolved(self):
        """The motifs as a list of ``(name, pfm)`` (resolved once)."""
        cached = self.__dict__.get("_resolved")
        if cached is None or cached[0] is not self.motifs:
            cached = (self.motifs, resolve_motifs(self.motifs))
            self.__dict__["_resolved"] = cached
        return cached[1]

    def _draw(self, refs, n, rng, length):
        codes, parents = seqs.backgrounds(n, length, rng, refs, shuffle=True)
        columns = implant_codes(codes, self.resolved(), rng, copies=self.copies,
                                orientation=self.orientation, positions=self.positions,
                                spacing=self.spacing, heterotypic=self.heterotypic)
        columns["parent"] = parents
        return codes, columns


@register("gc_shift")
class GCShift(Library):
    """Backgrounds whose GC content is drawn uniformly in a range (a composition sweep).

    Args:
        gc_range: ``(low, high)`` GC fractions.
        background: ``"markov"`` (first-order chain with CpG depletion; GC strictly
            inside (0, 1)) or ``"iid"``.

    Design: ``target_gc`` (drawn, rounded to 0.01), ``gc`` (realised).
    """

    def __init__(self, gc_range=(0.2, 0.8), background="markov"):
        self.gc_range = gc_range
        self.background = background

    def check(self, length=None):
        if self.background not in ("markov", "iid"):
            raise ValueError(f"`background` must be 'markov' or 'iid'. Received: background={self.background!r}")
        lo, hi = seqs.check_range(self.gc_range, "gc_range", 0.0, 1.0)
        if self.background == "markov" and (lo < 0.01 or hi > 0.99):
            raise ValueError(
                "`gc_range` must lie in [0.01, 0.99] for Markov backgrounds. "
                f"Received: gc_range={self.gc_range!r}"
            )

    def _draw(self, refs, n, rng, length):
        lo, hi = (float(v) for v in self.gc_range)
        target = np.round(rng.uniform(lo, hi, size=n), 2)
        if self.background == "iid":
            p = np.stack([1 - target, target, target, 1 - target], 1) / 2
            cum = np.cumsum(p, 1)[:, None, :3]
            codes = (rng.random((n, length))[..., None] > cum).sum(-1).astype(np.int8)
        else:
            codes = np.empty((n, length), np.int8)
            for value in np.unique(target):
                rows = np.flatnonzero(target == value)
                codes[rows] = seqs.markov_backgrounds(len(rows), length, value, rng)
        return codes, {"target_gc": target, "gc": seqs.gc_of(codes)}


@register("kmer_shift")
class KmerShift(Library):
    """Backgrounds enriched for one random k-mer, planted ``count`` times without overlap.

    Args:
        k: ``(low, high)`` k-mer lengths to draw from.
        count: ``(low, high)`` numbers of planted copies.

    Design: ``kmer``, ``k``, ``count`` (copies planted: the draw, or as many
    as fit without overlap), ``parent``, ``gc``.
    """

    uses_references = True

    def __init__(self, k=(3, 6), count=(1, 10)):
        self.k = k
        self.count = count

    def check(self, length=None):
        k_lo, k_hi = seqs.check_range(self.k, "k", 1, 32, integer=True)
        seqs.check_range(self.count, "count", 0, 10**6, integer=True)
        if length is not None and k_hi > length:
            raise ValueError(f"`k` must not exceed the sequence length {length}. Received: k={self.k!r}")

    def _draw(self, refs, n, rng, length):
        codes, parents = seqs.backgrounds(n, length, rng, refs, shuffle=True)
        ks = rng.integers(self.k[0], self.k[1] + 1, size=n)
        counts = rng.integers(self.count[0], self.count[1] + 1, size=n)
        kmers = []
        for i in range(n):
            k, c = int(ks[i]), int(counts[i])
            unit = rng.integers(0, 4, size=k).astype(np.int8)
            offset = int(rng.integers(0, k))
            slots = (length - offset) // k
            chosen = rng.choice(slots, size=min(c, slots), replace=False)
            for s in chosen:
                codes[i, offset + k * s : offset + k * s + k] = unit
            counts[i] = len(chosen)
            kmers.append("".join("ACGT"[b] for b in unit))
        return codes, {"kmer": kmers, "k": ks, "count": counts, "parent": parents,
                       "gc": seqs.gc_of(codes)}


@register("out_of_distribution")
class OutOfDistribution(Library):
    """Sequences unlike a genome: low-complexity repeats, extreme GC, homopolymer runs.

    Args:
        kinds: kinds to draw from: ``"repeat"`` (a random 2-6 bp unit tandemly
            repeated over the whole sequence), ``"extreme_gc"`` (i.i.d. at GC 0.05
            or 0.95), ``"homopolymer"`` (1-3 runs of one base, the same in a
            sequence, 10 bp to a quarter of the sequence, in a Markov background).

    Design: ``kind``, ``detail`` (the unit, the GC or the run bases), ``gc``.
    """

    KINDS = ("repeat", "extreme_gc", "homopolymer")

    def __init__(self, kinds=("repeat", "extreme_gc", "homopolymer")):
        self.kinds = kinds

    def check(self, length=None):
        seqs.check_choices(self.kinds, "kinds", allowed=self.KINDS)

    def _draw(self, refs, n, rng, length):
        kinds = np.asarray(self.kinds, dtype=object)[rng.integers(0, len(self.kinds), size=n)]
        codes = np.empty((n, length), np.int8)
        detail = np.empty(n, dtype=object)
        rows = np.flatnonzero(kinds == "repeat")
        for i in rows:
            unit = rng.integers(0, 4, size=int(rng.integers(2, 7))).astype(np.int8)
            codes[i] = np.resize(np.roll(unit, -int(rng.integers(0, len(unit)))), length)
            detail[i] = "".join("ACGT"[b] for b in unit)
        rows = np.flatnonzero(kinds == "extreme_gc")
        gc = np.where(rng.random(len(rows)) < 0.5, 0.05, 0.95)
        cum = np.cumsum(np.stack([1 - gc, gc, gc, 1 - gc], 1) / 2, 1)[:, None, :3]
        codes[rows] = (rng.random((len(rows), length))[..., None] > cum).sum(-1)
        detail[rows] = [f"gc={g}" for g in gc]
        rows = np.flatnonzero(kinds == "homopolymer")
        codes[rows] = seqs.markov_backgrounds(len(rows), length, seqs.GENOME_GC, rng)
        shortest = min(10, length)
        for i in rows:
            runs, base = [], int(rng.integers(0, 4))  # one base a sequence: rows per base
            for _ in range(int(rng.integers(1, 4))):
                run = int(rng.integers(shortest, max(shortest, length // 4) + 1))
                start = int(rng.integers(0, length - run + 1))
                codes[i, start : start + run] = base
                runs.append(f"{'ACGT'[base]}{run}")
            detail[i] = ",".join(runs)
        return codes, {"kind": kinds, "detail": detail, "gc": seqs.gc_of(codes)}
