"""Sequence helpers shared by the query libraries: base codes, backgrounds, option checks.

Sequences are handled as int8 base codes ``(n, L)`` (0..3 = ACGT) while a library
builds them, and turned into float32 one-hot arrays once, at the end.
"""

import numbers

import numpy as np

from keras_iml import dna
from keras_iml.datasets.background import markov_codes

__all__ = ["EYE", "codes_of", "one_hot", "gc_of", "backgrounds", "check_int", "check_fraction",
           "check_choices", "check_range", "kmer_code", "kmer_string", "markov_backgrounds",
           "reverse_complement_codes"]

EYE = np.eye(4, dtype=np.float32)
GENOME_GC = 0.41  # Markov fallback backgrounds: human-like GC and CpG depletion
GENOME_CPG = 0.25


def codes_of(x):
    """Base codes ``(n, L)`` int8 of a one-hot array (an ``N`` column reads as its argmax)."""
    return np.asarray(x).argmax(-1).astype(np.int8)


def one_hot(codes):
    """float32 one-hot ``(n, L, 4)`` of base codes."""
    return EYE[np.asarray(codes, dtype=np.int64)]


def gc_of(codes):
    """GC fraction of each row of base codes ``(n, L)``."""
    codes = np.asarray(codes)
    return ((codes == 1) | (codes == 2)).mean(1)


def backgrounds(n, length, rng, refs=None, shuffle=True):
    """``n`` background sequences, as codes, and the reference each came from.

    Args:
        n: number of sequences.
        length: their length.
        rng: a ``numpy.random.Generator``.
        refs: optional reference codes ``(M, length)``; parents are drawn from them
            with replacement. None draws first-order Markov backgrounds (GC 0.41,
            CpG observed/expected 0.25), parent ``-1``.
        shuffle: dinucleotide-shuffle the chosen references (keeps their
            dinucleotide composition, destroys their motifs).

    Returns:
        ``(codes (n, length) int8, parents (n,) int64)``.
    """
    if refs is None:
        return markov_codes(n, length, GENOME_GC, rng, cpg_ratio=GENOME_CPG), np.full(n, -1)
    refs = np.asarray(refs)
    parents = rng.integers(0, len(refs), size=n)
    if not shuffle:
        return refs[parents].astype(np.int8), parents
    # all the shuffles of one parent in one call (dna.dinuc_shuffle's per-sequence work is
    # shared by its n_shuffles): each query takes the next unused shuffle of its parent
    unique, inverse = np.unique(parents, return_inverse=True)
    counts = np.bincount(inverse)
    order = np.argsort(inverse, kind="stable")
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n) - (np.cumsum(counts) - counts)[inverse[order]]
    shuffled = dna.dinuc_shuffle(one_hot(refs[unique]), rng, n_shuffles=int(counts.max()))
    return codes_of(shuffled[inverse, rank]), parents


def markov_backgrounds(n, length, gc, rng):
    """``(n, length)`` int8 codes of a first-order Markov chain at ``gc`` with CpG depletion."""
    return markov_codes(n, length, gc, rng, cpg_ratio=GENOME_CPG)


def reverse_complement_codes(codes):
    """Reverse complement of base codes ``(..., L)``."""
    return (3 - np.asarray(codes))[..., ::-1]


def kmer_code(kmer):
    """Integer code of a k-mer string (base 4, first letter most significant)."""
    value = 0
    for letter in kmer:
        value = 4 * value + "ACGT".index(letter)
    return value


def kmer_string(code, k):
    """The k-mer string of an integer code."""
    return "".join("ACGT"[(int(code) >> (2 * (k - 1 - j))) & 3] for j in range(k))


# -- option checks (Keras style: the message names the option and what was received) --------
def check_int(value, name, low=None, high=None):
    """``value`` as an int in ``[low, high]``, or ValueError naming ``name``."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or (low is not None and value < low) or (high is not None and value > high):
        bounds = f" in [{low}, {high}]" if high is not None else f" >= {low}" if low is not None else ""
        raise ValueError(f"`{name}` must be an int{bounds}. Received: {name}={value!r}")
    return int(value)


def check_fraction(value, name, low=0.0, high=1.0, open_low=False, open_high=False):
    """``value`` as a float in ``[low, high]`` (ends optionally open), or ValueError."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        ok = (value > low if open_low else value >= low) and (value < high if open_high else value <= high)
    if not ok:
        left, right = "(" if open_low else "[", ")" if open_high else "]"
        raise ValueError(f"`{name}` must be a number in {left}{low}, {high}{right}. Received: {name}={value!r}")
    return float(value)


def check_choices(values, name, allowed=None, low=None):
    """A non-empty tuple of allowed values (ints ``>= low`` when ``allowed`` is None)."""
    items = (values,) if isinstance(values, (str, numbers.Number)) else values
    try:
        items = tuple(items)
    except TypeError:
        items = ()
    bad = not items
    for item in items:
        if allowed is not None:
            bad = bad or item not in allowed
        else:
            bad = bad or not isinstance(item, numbers.Integral) or isinstance(item, bool) \
                or (low is not None and item < low)
    if bad:
        what = f"values from {allowed}" if allowed is not None else f"ints >= {low}"
        raise ValueError(f"`{name}` must be a non-empty tuple of {what}. Received: {name}={values!r}")
    return items


def check_range(value, name, low, high, integer=False):
    """A ``(lo, hi)`` pair with ``low <= lo <= hi <= high``, or ValueError naming ``name``."""
    try:
        lo, hi = value
        ok = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in (lo, hi))
        ok = ok and low <= lo <= hi <= high
        if integer:
            ok = ok and all(isinstance(v, numbers.Integral) for v in (lo, hi))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        kind = "ints" if integer else "numbers"
        raise ValueError(
            f"`{name}` must be a pair (low, high) of {kind} with {low} <= low <= high <= {high}. "
            f"Received: {name}={value!r}"
        )
    return (int(lo), int(hi)) if integer else (float(lo), float(hi))
