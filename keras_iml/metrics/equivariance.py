"""Tier 1: equivariance of attributions to reverse complement and small shifts.

DNA is read on both strands and a motif means the same a few bases to the left:
attributions of the reverse complement, flipped back onto the forward strand, and
of a slightly shifted sequence, shifted back, should rank positions as the forward
attributions do (Shrikumar et al. 2017 and Zhou et al. 2021 on reverse-complement
equivariance of genomic models).
"""

import numpy as np

from keras_iml import dna
from keras_iml.metrics.base import Metric, NotApplicable, register
from keras_iml.stats import similarity_rows

__all__ = ["ReverseComplementEquivariance", "ShiftEquivariance"]



@register("rc_equivariance")
class ReverseComplementEquivariance(Metric):
    """Correlation of forward importance and reverse-complement importance.

    The method explains the reverse complement of each sequence; the map is
    reverse-complemented back onto the forward strand and compared with the forward
    map. High values need a model that treats both strands alike.

    Args:
        n_sequences: size of the seeded subsample (None: every sequence).
        similarity: ``"pearson"`` (default) or ``"spearman"``.
    """

    order = 6
    quick_options = {"n_sequences": 16}
    tier = 1
    higher_is_better = True
    requires = frozenset({"attributions", "method", "model"})

    def __init__(self, n_sequences=64, similarity="pearson"):
        self.n_sequences = n_sequences
        self.similarity = similarity

    def compute(self, ctx, method):
        inst = ctx.method_of(method)
        if not ctx.reverse_complement_ok():
            raise NotApplicable(f"alphabet {ctx.alphabet!r} is not complement-symmetric")
        if ctx.aux is not None:
            raise NotApplicable("the model takes auxiliary inputs, whose reverse complement is not known")
        index = ctx.subsample(self.n_sequences, ("rc_equivariance",))
        base = ctx.on_subsample(method, index).position_importance
        rc = ctx.explain(inst, ctx.reverse_complement(ctx.x[index]), model=ctx.model_for(method),
                         seed=ctx.attribution_seed(method))
        back = np.abs(dna.reverse_complement(rc.values)).sum(-1)
        return ctx.scatter(index, similarity_rows(base, back, self.similarity))


@register("shift_equivariance")
class ShiftEquivariance(Metric):
    """Correlation of importance before and after shifting the sequence.

    For a shift ``s > 0`` the sequence moves ``s`` bases to the left and ``s``
    random bases (seeded) fill the end (``s < 0``: to the right, filled at the
    start); the shifted map is aligned back and compared on the overlapping
    positions. The score is the mean over ``shifts``.

    Args:
        shifts: non-zero integer shifts, each smaller than the sequence length.
        n_sequences: size of the seeded subsample (None: every sequence).
        similarity: ``"pearson"`` (default) or ``"spearman"``.
    """

    order = 7
    quick_options = {"n_sequences": 16, "shifts": [1]}
    tier = 1
    higher_is_better = True
    requires = frozenset({"attributions", "method", "model"})

    def __init__(self, shifts=(1, 2), n_sequences=64, similarity="pearson"):
        self.shifts = shifts
        self.n_sequences = n_sequences
        self.similarity = similarity

    def compute(self, ctx, method):
        inst = ctx.method_of(method)
        shifts = [int(s) for s in self.shifts]
        if not shifts or any(s == 0 or abs(s) >= ctx.length for s in shifts):
            raise ValueError(
                f"`shifts` must be non-zero ints smaller than the sequence length "
                f"{ctx.length}. Received: shifts={self.shifts!r}"
            )
        if ctx.aux is not None:
            raise NotApplicable("the model takes auxiliary inputs, whose shift is not known")
        index = ctx.subsample(self.n_sequences, ("shift_equivariance",))
        base = ctx.on_subsample(method, index).position_importance
        x = ctx.x[index]
        total = np.zeros(len(index))
        for s in shifts:
            fill = dna.random_sequences(len(index), abs(s), rng=ctx.rng("shift", s))
            moved = np.concatenate([x[:, s:], fill], 1) if s > 0 else np.concatenate([fill, x[:, :s]], 1)
            imp = ctx.explain(inst, moved, model=ctx.model_for(method),
                              seed=ctx.attribution_seed(method)).position_importance
            if s > 0:
                total += similarity_rows(base[:, s:], imp[:, :-s], self.similarity)
            else:
                total += similarity_rows(base[:, :s], imp[:, -s:], self.similarity)
        return ctx.scatter(index, total / len(shifts))
