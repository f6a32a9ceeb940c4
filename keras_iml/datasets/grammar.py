"""Labelled motif grammars and the placement of motif sites into sequences.

A grammar decides, for each sequence, which motif sites to plant and so its label:

* ``"single"`` (additive): a positive carries one site of the single motif;
  negatives carry none.
* ``"and"`` (epistatic): a positive carries both pair motifs, the second one
  ``spacing`` bp after the first, in the set ``orientation``; a negative "near miss"
  carries one of them alone, or both in the wrong arrangement (the other
  orientation at an allowed gap, or the right orientation 10 to 30 bp beyond the
  largest allowed gap).
* ``"dose"``: a positive carries at least ``dose`` sites of the dose motif; a near
  miss carries fewer (1 to ``dose - 1``).

Every planted grammar site has role ``"true"``; the ``rule`` column of the instance
table says why it was planted (``single``, ``and``, ``dose`` in positives;
``and_partial``, ``and_misarranged``, ``dose_below`` in negatives). Decoys have role
``"decoy"`` and rule ``"decoy"``.
"""

import dataclasses

import numpy as np

__all__ = ["GRAMMARS", "Site", "Block", "positive_blocks", "near_miss_blocks", "place_blocks"]

GRAMMARS = ("single", "and", "dose")
ORIENTATIONS = ("same", "opposite")


@dataclasses.dataclass
class Site:
    """One motif site inside a block: ``offset`` bp from the block start, on ``strand``."""

    motif: object
    offset: int
    strand: str
    role: str
    rule: str


@dataclasses.dataclass
class Block:
    """Sites planted together (a pair keeps its spacing); ``region`` bounds the start."""

    sites: list
    length: int
    region: tuple = None


def _flip(strand):
    return "-" if strand == "+" else "+"


def _single(motif, rng, role, rule):
    return Block([Site(motif, 0, "+" if rng.random() < 0.5 else "-", role, rule)], motif.length)


def _pair(first, second, gap, same, rng, rule):
    """A pair block. On the block's strand the first motif comes first.

    The block is drawn on either strand; when it lands on the minus strand, the
    whole arrangement is reverse-complemented (offsets mirrored, strands flipped), so
    the spacing and the relative orientation stay as drawn.
    """
    total = first.length + gap + second.length
    s2 = "+" if same else "-"
    sites = [Site(first, 0, "+", "true", rule), Site(second, first.length + gap, s2, "true", rule)]
    if rng.random() < 0.5:
        sites = [
            Site(s.motif, total - s.offset - s.motif.length, _flip(s.strand), s.role, s.rule)
            for s in sites
        ]
    return Block(sites, total)


def positive_blocks(rule, spec, rng):
    """Blocks that make a sequence positive under ``rule``."""
    if rule == "single":
        return [_single(spec["single"], rng, "true", "single")]
    if rule == "and":
        a, b = spec["pair"]
        lo, hi = spec["spacing"]
        gap = int(rng.integers(lo, hi + 1))
        return [_pair(a, b, gap, spec["orientation"] == "same", rng, "and")]
    if rule == "dose":
        count = int(rng.integers(spec["dose"], spec["dose"] + 2))
        return [_single(spec["dose_motif"], rng, "true", "dose") for _ in range(count)]
    raise ValueError(f"`grammar` must name rules among {GRAMMARS}. Received: {rule!r}")


def near_miss_blocks(rule, spec, rng):
    """Blocks of a negative that come close to ``rule`` without satisfying it."""
    if rule == "and":
        a, b = spec["pair"]
        kinds = ["partial_a", "partial_b"] + (["misarranged"] if spec["misarranged"] else [])
        kind = kinds[int(rng.integers(len(kinds)))]
        if kind == "partial_a":
            return [_single(a, rng, "true", "and_partial")]
        if kind == "partial_b":
            return [_single(b, rng, "true", "and_partial")]
        lo, hi = spec["spacing"]
        if rng.random() < 0.5:  # wrong orientation, right spacing
            gap = int(rng.integers(lo, hi + 1))
            return [_pair(a, b, gap, spec["orientation"] != "same", rng, "and_misarranged")]
        gap = int(rng.integers(hi + spec["far"][0], hi + spec["far"][1] + 1))
        return [_pair(a, b, gap, spec["orientation"] == "same", rng, "and_misarranged")]
    if rule == "dose":
        if spec["dose"] < 2:  # one site is already a positive: no near miss exists
            return []
        count = int(rng.integers(1, spec["dose"]))
        return [_single(spec["dose_motif"], rng, "true", "dose_below") for _ in range(count)]
    return []


def place_blocks(blocks, length, rng):
    """Random non-overlapping start positions for ``blocks`` in a sequence of ``length``.

    Longer blocks are placed first; each start is uniform among the free positions
    (within the block's ``region`` when given).

    Returns:
        list of start positions, in the order of ``blocks``.

    Raises:
        ValueError: when the blocks cannot all fit.
    """
    free = np.ones(length, dtype=bool)
    starts = [None] * len(blocks)
    for i in sorted(range(len(blocks)), key=lambda j: -blocks[j].length):
        block = blocks[i]
        w = block.length
        if w > length:
            raise ValueError(
                f"A planted block of {w} bp does not fit in `length`={length}."
            )
        cum = np.concatenate([[0], np.cumsum(~free)])
        ok = cum[w:] - cum[: length - w + 1] == 0
        if block.region is not None:
            lo, hi = block.region
            mask = np.zeros_like(ok)
            mask[max(lo, 0) : max(hi - w + 1, 0)] = True
            if (ok & mask).any():
                ok &= mask
        candidates = np.flatnonzero(ok)
        if candidates.size == 0:
            total = sum(b.length for b in blocks)
            raise ValueError(
                f"Cannot place {len(blocks)} motif blocks ({total} bp in all) without overlap "
                f"in `length`={length}; use longer sequences or fewer/shorter motifs."
            )
        start = int(rng.choice(candidates))
        starts[i] = start
        free[start : start + w] = False
    return starts
