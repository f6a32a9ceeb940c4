"""A ground-truth TF-binding benchmark: real JASPAR motifs planted by a labelled grammar.

Defaults (JASPAR CORE vertebrates, checked for width and information content):

* single (additive) motif: CTCF ``MA0139.2`` (15 bp);
* AND pair: SPI1 ``MA0080.7`` (13 bp) then IRF8 ``MA0652.2`` (13 bp), the PU.1-IRF
  composite element of myeloid enhancers;
* dose motif: REST ``MA0138.3`` (20 bp);
* decoys: GATA1 ``MA0035.4`` (11 bp; the JASPAR2026 version ``MA0035.5`` is a 7-bp
  core only) and MAX ``MA0058.3`` (10 bp).
"""

import dataclasses

import numpy as np
import pandas as pd

from keras_iml.datasets import background as _bg
from keras_iml.datasets import grammar as _grammar
from keras_iml.datasets.motif import as_motif

__all__ = ["TFBindingData", "make_tf_binding"]

_EYE = np.eye(4, dtype=np.float32)
_COLUMNS = ["seq", "motif_id", "tf_name", "start", "end", "strand", "role", "rule", "site", "score"]


@dataclasses.dataclass
class TFBindingData:
    """A generated benchmark.

    Attributes:
        x: float32 one-hot ``(N, L, 4)``.
        y: float32 labels ``(N,)`` (1 = the grammar is satisfied).
        true_mask: bool ``(N, L)``, True on bases of planted grammar ("true") sites.
        decoy_mask: bool ``(N, L)``, True on bases of planted decoys.
        instances: DataFrame, one row per planted site: ``seq, motif_id, tf_name,
            start, end`` (half-open), ``strand`` (``+``: the motif reads 5'->3' on the
            given sequence), ``role`` (``true``/``decoy``), ``rule``, ``site`` (the
            sampled bases in motif orientation) and ``score`` (PWM log2-odds of the
            site against a uniform background).
        motifs: dict motif ID -> :class:`~keras_iml.datasets.motif.Motif`.
        params: the generator's arguments (JSON-friendly).
    """

    x: np.ndarray
    y: np.ndarray
    true_mask: np.ndarray
    decoy_mask: np.ndarray
    instances: pd.DataFrame
    motifs: dict
    params: dict

    def __len__(self):
        return len(self.x)

    @property
    def ground_truth(self):
        """int8 ``(N, L)`` mask: 1 on true motif bases, 2 on decoy bases, 0 elsewhere."""
        return (self.true_mask * 1 + self.decoy_mask * 2).astype(np.int8)

    @property
    def true_motif_ids(self):
        """IDs of the motifs that drive the labels."""
        return sorted(set(self.instances.loc[self.instances.role == "true", "motif_id"]))

    @property
    def decoy_motif_ids(self):
        """IDs of the decoy motifs."""
        return sorted(set(self.instances.loc[self.instances.role == "decoy", "motif_id"]))

    def subset(self, index):
        """The benchmark restricted to ``index`` (sequences renumbered from 0)."""
        index = np.arange(len(self))[index]
        new_id = pd.Series(np.arange(len(index)), index=index)
        table = self.instances[self.instances.seq.isin(index)].copy()
        table["seq"] = new_id.loc[table.seq].to_numpy()
        table = table.sort_values(["seq", "start"], kind="stable").reset_index(drop=True)
        return TFBindingData(
            self.x[index], self.y[index], self.true_mask[index], self.decoy_mask[index],
            table, dict(self.motifs), dict(self.params),
        )


def _check_int(value, name, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"`{name}` must be an int >= {low}. Received: {name}={value!r}")
    return int(value)


def _check_fraction(value, name, low=0.0, high=1.0):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not (
        low <= value <= high
    ):
        raise ValueError(f"`{name}` must be in [{low}, {high}]. Received: {name}={value!r}")
    return float(value)


def _rules(grammar):
    rules = list(_grammar.GRAMMARS) if grammar == "mixed" else (
        [grammar] if isinstance(grammar, str) else list(grammar)
    )
    if not rules or any(r not in _grammar.GRAMMARS for r in rules) or len(set(rules)) != len(rules):
        raise ValueError(
            f"`grammar` must be 'mixed' or one or more distinct rules of {_grammar.GRAMMARS}. "
            f"Received: grammar={grammar!r}"
        )
    return rules


def _load(rules, single_motif, pair_motifs, dose_motif, decoys, release, length):
    spec, loaded = {}, []
    if "single" in rules:
        spec["single"] = as_motif(single_motif, release, "single_motif")
        loaded.append(("single_motif", spec["single"]))
    if "and" in rules:
        if isinstance(pair_motifs, str) or len(pair_motifs) != 2:
            raise ValueError(
                f"`pair_motifs` must hold exactly two motifs. Received: pair_motifs={pair_motifs!r}"
            )
        spec["pair"] = tuple(as_motif(m, release, "pair_motifs", i) for i, m in enumerate(pair_motifs))
        loaded += [("pair_motifs", m) for m in spec["pair"]]
    if "dose" in rules:
        spec["dose_motif"] = as_motif(dose_motif, release, "dose_motif")
        loaded.append(("dose_motif", spec["dose_motif"]))
    if decoys is None:
        decoys = []
    elif isinstance(decoys, str) or (isinstance(decoys, np.ndarray) and decoys.ndim == 2):
        decoys = [decoys]  # one ID or one matrix
    decoys = list(decoys)
    decoy_motifs = [as_motif(m, release, "decoys", 100 + i) for i, m in enumerate(decoys)]
    loaded += [("decoys", m) for m in decoy_motifs]
    for arg, motif in loaded:
        if motif.length > length:
            raise ValueError(
                f"`{arg}` motif {motif.motif_id} ({motif.name}) is {motif.length} bp, longer "
                f"than the sequences. Received: length={length}"
            )
    return spec, decoy_motifs, {m.motif_id: m for _, m in loaded}


def make_tf_binding(
    n=2000, length=200, *, grammar="mixed", single_motif="MA0139.2",
    pair_motifs=("MA0080.7", "MA0652.2"), dose_motif="MA0138.3",
    decoys=("MA0035.4", "MA0058.3"), decoy_rate=0.5, spacing=(2, 8), orientation="same",
    misarranged=True, dose=2, near_miss_rate=0.5, positive_fraction=0.5, background="iid",
    gc=0.41, cpg_ratio=0.25, background_source=None, gc_shift=0.0, positional_bias=0.0,
    motif_position=None, release=None, seed=0,
):
    """Generates a TF-binding benchmark with known causal motifs and decoys.

    Labels follow a grammar (see :mod:`keras_iml.datasets.grammar`); decoys are
    planted in every sequence independently of its label (each decoy motif with
    probability ``decoy_rate``), so they carry no information about the label unless
    a confounder is switched on.

    Args:
        n: number of sequences.
        length: sequence length in bp.
        grammar: ``"single"``, ``"and"``, ``"dose"``, a list of them (a positive
            follows one rule drawn uniformly) or ``"mixed"`` (all three).
        single_motif: JASPAR ID (or ``(W, 4)`` matrix) for the additive rule.
        pair_motifs: two motifs for the AND rule, in planting order.
        dose_motif: motif for the dose rule.
        decoys: motifs planted without label association (may be empty).
        decoy_rate: probability that each decoy motif is planted in a sequence.
        spacing: ``(min, max)`` gap in bp between the two AND motifs.
        orientation: ``"same"`` (both on one strand) or ``"opposite"`` strands.
        misarranged: whether AND near misses include wrongly arranged pairs.
        dose: sites needed for the dose rule (positives carry ``dose`` or ``dose + 1``).
        near_miss_rate: fraction of negatives carrying a near miss of a rule.
        positive_fraction: fraction of positives.
        background: ``"iid"`` (set GC) or ``"dinuc"`` (dinucleotide shuffles).
        gc: background GC content.
        cpg_ratio: CpG observed/expected of generated ``"dinuc"`` sources.
        background_source: one-hot ``(M, length, 4)`` sequences to dinucleotide
            shuffle for ``background="dinuc"`` (e.g. genomic windows).
        gc_shift: confounder: positives' background GC is ``gc + gc_shift``.
        positional_bias: confounder: probability that a decoy sits in the first half
            of a positive and in the second half of a negative (anywhere when that
            half has no room left).
        motif_position: confounder: None (grammar sites anywhere), an int ``p`` or a
            range ``(lo, hi)``: every grammar block (positives and near misses) starts
            at ``p`` (at a position in ``[lo, hi]``), so a model trained on these data
            sees the motifs at one place only (anywhere when that place is taken).
        release: JASPAR release (None: pyjaspar's default).
        seed: seed of the only random generator used.

    Returns:
        A :class:`TFBindingData`.

    Example:
        >>> data = make_tf_binding(n=500, length=200, grammar="single", seed=0)
        >>> data.x.shape, sorted(data.instances.role.unique())
        ((500, 200, 4), ['decoy', 'true'])
    """
    n = _check_int(n, "n", 1)
    length = _check_int(length, "length", 1)
    rules = _rules(grammar)
    gc = _bg.check_gc(gc)
    gc_shift = _check_fraction(gc_shift, "gc_shift", -1.0, 1.0)
    if not -1.0 <= gc_shift <= 1.0 or not 0.0 <= gc + gc_shift <= 1.0:
        raise ValueError(
            f"`gc_shift` gives positives an impossible GC content gc + gc_shift = {gc + gc_shift:g} "
            f"(must be in [0, 1]). Received: gc={gc}, gc_shift={gc_shift!r}"
        )
    for name, value in [("decoy_rate", decoy_rate), ("near_miss_rate", near_miss_rate),
                        ("positional_bias", positional_bias)]:
        _check_fraction(value, name)
    positive_fraction = _check_fraction(positive_fraction, "positive_fraction")
    motif_region = _motif_region(motif_position, length)
    dose = _check_int(dose, "dose", 1)
    if orientation not in _grammar.ORIENTATIONS:
        raise ValueError(
            f"`orientation` must be one of {_grammar.ORIENTATIONS}. Received: orientation={orientation!r}"
        )
    if (not isinstance(spacing, (tuple, list)) or len(spacing) != 2
            or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) for s in spacing)
            or not 0 <= spacing[0] <= spacing[1]):
        raise ValueError(f"`spacing` must be (min, max) ints with 0 <= min <= max. Received: spacing={spacing!r}")
    if background not in _bg.BACKGROUNDS:
        raise ValueError(f"`background` must be one of {_bg.BACKGROUNDS}. Received: background={background!r}")
    if background_source is not None and (background != "dinuc" or gc_shift):
        raise ValueError(
            "`background_source` is used with background='dinuc' and no gc_shift (shuffles keep "
            f"the source's GC). Received: background={background!r}, gc_shift={gc_shift!r}"
        )
    spec, decoy_motifs, motifs = _load(rules, single_motif, pair_motifs, dose_motif, decoys, release, length)
    spec.update(spacing=(int(spacing[0]), int(spacing[1])), orientation=orientation, dose=dose,
                misarranged=bool(misarranged), far=(10, 30))
    rng = np.random.default_rng(seed)

    n_pos = int(round(n * positive_fraction))
    y = np.zeros(n, dtype=np.float32)
    y[rng.permutation(n)[:n_pos]] = 1.0
    codes = _backgrounds(y, length, background, gc, gc_shift, cpg_ratio, background_source, rng)
    near_rules = [r for r in rules if r != "single"]
    rows = []
    true_mask = np.zeros((n, length), dtype=bool)
    decoy_mask = np.zeros((n, length), dtype=bool)
    half = length // 2
    for i in range(n):
        positive = y[i] == 1
        blocks = []
        if positive:
            blocks += _grammar.positive_blocks(rules[int(rng.integers(len(rules)))], spec, rng)
        elif near_rules and rng.random() < near_miss_rate:
            blocks += _grammar.near_miss_blocks(near_rules[int(rng.integers(len(near_rules)))], spec, rng)
        if motif_region is not None:
            for block in blocks:
                block.region = (motif_region[0], motif_region[1] + block.length)
        for motif in decoy_motifs:
            if rng.random() < decoy_rate:
                block = _grammar.Block(
                    [_grammar.Site(motif, 0, "+" if rng.random() < 0.5 else "-", "decoy", "decoy")],
                    motif.length)
                if positional_bias and rng.random() < positional_bias:
                    block.region = (0, half) if positive else (half, length)
                blocks.append(block)
        starts = _grammar.place_blocks(blocks, length, rng)
        for block, start in zip(blocks, starts):
            for site in block.sites:
                rows.append(_plant(codes, true_mask, decoy_mask, i, start + site.offset, site, rng))
    instances = pd.DataFrame(rows, columns=_COLUMNS)
    instances = instances.sort_values(["seq", "start"], kind="stable").reset_index(drop=True)
    params = dict(
        n=n, length=length, grammar=rules, motifs={k: m.name for k, m in motifs.items()},
        decoy_rate=float(decoy_rate), spacing=list(spec["spacing"]), orientation=orientation,
        misarranged=bool(misarranged), dose=dose, near_miss_rate=float(near_miss_rate),
        positive_fraction=positive_fraction, background=background, gc=gc,
        cpg_ratio=float(cpg_ratio), gc_shift=float(gc_shift),
        positional_bias=float(positional_bias),
        motif_position=None if motif_region is None else list(motif_region), release=release, seed=seed,
    )
    return TFBindingData(_EYE[codes], y, true_mask, decoy_mask, instances, motifs, params)


def _motif_region(motif_position, length):
    """``(lo, hi)`` allowed grammar-block starts, or None."""
    if motif_position is None:
        return None
    ok = isinstance(motif_position, (int, np.integer)) and not isinstance(motif_position, bool)
    bounds = (motif_position, motif_position) if ok else motif_position
    try:
        lo, hi = bounds
        ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (lo, hi))
    except (TypeError, ValueError):
        ok = False
    if not ok or not 0 <= lo <= hi < length:
        raise ValueError(
            f"`motif_position` must be None, an int or a pair (lo, hi) of ints with "
            f"0 <= lo <= hi < length={length}. Received: motif_position={motif_position!r}"
        )
    return int(lo), int(hi)


def _backgrounds(y, length, background, gc, gc_shift, cpg_ratio, source, rng):
    n = len(y)
    codes = np.empty((n, length), dtype=np.int8)
    for label, class_gc in ((0.0, gc), (1.0, gc + gc_shift)):
        idx = np.flatnonzero(y == label)
        if not idx.size:
            continue
        if background == "iid":
            codes[idx] = _bg.iid_codes(idx.size, length, class_gc, rng)
        else:
            codes[idx] = _bg.dinuc_codes(idx.size, length, rng, source=source, gc=class_gc,
                                         cpg_ratio=cpg_ratio)
    return codes


def _plant(codes, true_mask, decoy_mask, seq, start, site, rng):
    motif = site.motif
    bases = motif.sample(rng)
    end = start + motif.length
    codes[seq, start:end] = bases if site.strand == "+" else 3 - bases[::-1]
    (true_mask if site.role == "true" else decoy_mask)[seq, start:end] = True
    score = float(motif.log_odds()[np.arange(motif.length), bases].sum())
    return (seq, motif.motif_id, motif.name, start, end, site.strand, site.role, site.rule,
            "".join("ACGT"[b] for b in bases), score)
