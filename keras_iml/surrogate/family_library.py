"""The ``families`` library: sequence families a model may lean on without being told to.

A confounder is rarely one k-mer: a low-complexity run, a dinucleotide repeat or a
GC-rich stretch reaches the model through many k-mers at once, each too weak to rank
among a k-mer surrogate's top weights (a 10-bp T run is spread over the 4-mers ``TTTT``,
``ATTT``, ``TTTA``, ...). This library implants one member of a family at a random
place of a motif-free background, so that the model's response to the family is
measured directly, family by family, against the same backgrounds
(:func:`keras_iml.surrogate.findings.confounders`, rows ``family:<name>``).

Families (:data:`FAMILIES`): a homopolymer run of each base (``poly_A`` … ``poly_T``),
dinucleotide and trinucleotide tandem repeats (a random unit that is not a
homopolymer), GC-rich and AT-rich stretches (random G/C or A/T bases).
"""

import numpy as np

from keras_iml.surrogate import _sequences as seqs
from keras_iml.surrogate.libraries import Library, register

__all__ = ["Families", "FAMILIES"]


def _run(base):
    return lambda rng, width: np.full(width, base, np.int8)


def _repeat(unit_length):
    def draw(rng, width):
        while True:
            unit = rng.integers(0, 4, size=unit_length)
            if len(set(unit.tolist())) > 1:
                return np.resize(unit, width).astype(np.int8)
    return draw


def _from(bases):
    return lambda rng, width: rng.choice(bases, size=width).astype(np.int8)


#: family name -> ``draw(rng, width) -> codes (width,)``.
FAMILIES = {
    "poly_A": _run(0), "poly_C": _run(1), "poly_G": _run(2), "poly_T": _run(3),
    "dinucleotide_repeat": _repeat(2), "trinucleotide_repeat": _repeat(3),
    "gc_rich": _from([1, 2]), "at_rich": _from([0, 3]),
}


@register("families")
class Families(Library):
    """One member of a sequence family implanted in each motif-free background.

    Args:
        families: names of :data:`FAMILIES` to draw from (evenly).
        width: ``(low, high)`` bases of the implant.

    Design: ``family``, ``unit`` (the implanted bases), ``start``, ``width``,
    ``parent``, ``gc``.
    """

    uses_references = True

    def __init__(self, families=tuple(FAMILIES), width=(8, 12)):
        self.families = families
        self.width = width

    def check(self, length=None):
        seqs.check_choices(self.families, "families", allowed=tuple(FAMILIES))
        low, high = seqs.check_range(self.width, "width", 1, 10**6, integer=True)
        if length is not None and high > length:
            raise ValueError(f"`width` must not exceed the sequence length {length}. "
                             f"Received: width={self.width!r}")

    def _draw(self, refs, n, rng, length):
        codes, parents = seqs.backgrounds(n, length, rng, refs, shuffle=True)
        names = np.asarray(self.families, dtype=object)[np.arange(n) % len(self.families)]
        names = names[rng.permutation(n)]
        widths = rng.integers(self.width[0], self.width[1] + 1, size=n)
        starts = rng.integers(0, length - widths + 1)
        units = []
        for i in range(n):
            member = FAMILIES[names[i]](rng, int(widths[i]))
            codes[i, starts[i]:starts[i] + widths[i]] = member
            units.append("".join("ACGT"[b] for b in member))
        return codes, {"family": names, "unit": units, "start": starts, "width": widths,
                       "parent": parents, "gc": seqs.gc_of(codes)}
