"""Tier 2: deletion and insertion curves with sequence-valid infill.

Deletion (Petsiuk et al. 2018, RISE; Samek et al. 2017, region perturbation)
replaces the positions an attribution ranks highest, in growing fractions, and
tracks the model's output; insertion starts from an uninformative sequence and puts
the top-ranked bases back. Both are compared with a random ranking of the same
sequence. Deleted positions are filled with the bases of a dinucleotide-shuffled
copy of the sequence (or random bases) — never zeros, which are not DNA and put the
model off its input distribution (Hooker et al. 2019).
"""

import numpy as np
import pandas as pd

from keras_iml import dna
from keras_iml.metrics.base import Metric, MetricResult, register

__all__ = ["Deletion", "Insertion", "INFILLS", "perturbation_curves"]

INFILLS = ("dinuc_shuffle", "shuffle", "random")
DEFAULT_FRACTIONS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)


def _infill(ctx, kind):
    """Infill of every sequence, drawn from a generator keyed by the sequence itself."""
    def build():
        rngs = ctx.sequence_rngs(("infill", kind))
        if kind == "dinuc_shuffle":
            return dna.dinuc_shuffle(ctx.x, rngs)
        if kind == "shuffle":
            return np.stack([dna.shuffle(row, rng) for row, rng in zip(ctx.x, rngs)]).astype(np.float32)
        return np.concatenate([dna.random_sequences(1, ctx.length, rng=rng) for rng in rngs])

    return ctx.derived(("infill", kind), build)


def _check(fractions, infill, n_random):
    f = np.asarray(fractions, dtype=np.float64)
    if f.ndim != 1 or f.size < 2 or (np.diff(f) <= 0).any() or f[0] < 0 or f[-1] > 1:
        raise ValueError(
            "`fractions` must be at least 2 increasing values in [0, 1]. "
            f"Received: fractions={fractions!r}"
        )
    if infill not in INFILLS:
        raise ValueError(f"`infill` must be one of {INFILLS}. Received: infill={infill!r}")
    if isinstance(n_random, bool) or not isinstance(n_random, int) or n_random < 1:
        raise ValueError(f"`n_random` must be a positive int. Received: n_random={n_random!r}")
    return f


def _outputs(ctx, start, replacement, ranks, counts, index):
    """Model outputs ``(n, F)`` when the ``counts[f]`` top-ranked positions are replaced.

    ``index``: the run's sequence of each row (whose auxiliary inputs it takes).
    """
    n, length = ranks.shape
    out = np.empty((n, len(counts)))
    chunk = max(1, 2_000_000 // (len(counts) * length))
    for c0 in range(0, n, chunk):
        sl = slice(c0, c0 + chunk)
        mask = ranks[sl, None, :] < counts[None, :, None]  # (c, F, L)
        xs = np.where(mask[..., None], replacement[sl, None], start[sl, None])
        rows = np.repeat(index[sl], len(counts))
        out[sl] = ctx.predict(xs.reshape((-1, length, 4)), rows=rows).reshape(-1, len(counts))
    return out


def perturbation_curves(ctx, method, mode, fractions, infill, n_random, n_sequences):
    """Outputs along ranked and random perturbations.

    Args:
        ctx: the run's Context.
        method: label of the method.
        mode: ``"deletion"`` (replace top-ranked bases by infill) or ``"insertion"``
            (start from the infill and put the top-ranked original bases back).

    Returns:
        ``(index, fractions, ranked, random)`` with ``ranked`` ``(n, F)`` and
        ``random`` ``(n, F)`` (mean over ``n_random`` random rankings).
    """
    f = _check(fractions, infill, n_random)
    index = ctx.subsample(n_sequences, ("perturbation", mode))
    x = ctx.x[index]
    fill = _infill(ctx, infill)[index]
    start, replacement = (x, fill) if mode == "deletion" else (fill, x)
    length = x.shape[1]
    counts = np.round(f * length).astype(int)
    # Rank positions by the signed contribution of the observed base, highest first.
    order = np.lexsort((ctx.tiebreak[index], -ctx.signed(method)[index]), axis=1)
    ranks = np.argsort(order, axis=1)
    ranked = _outputs(ctx, start, replacement, ranks, counts, index)
    # The random-ranking baseline does not depend on the method: computed once per
    # run and shared, so every method is compared with the same baseline.
    def build():
        rngs = ctx.sequence_rngs(("random_ranking", mode), index)
        random = np.zeros_like(ranked)
        for _ in range(n_random):
            keys = np.stack([rng.random(length) for rng in rngs])
            random += _outputs(ctx, start, replacement, np.argsort(keys, 1), counts, index)
        return random / n_random

    key = ("random_curve", mode, tuple(counts), infill, n_random, index.tobytes())
    return index, f, ranked, ctx.derived(key, build)


def _mean_value(curves, f):
    """Trapezoid area under each row of ``curves`` over ``f``, divided by the range of ``f``."""
    return ((curves[:, 1:] + curves[:, :-1]) / 2 * np.diff(f)).sum(1) / (f[-1] - f[0])


class _Perturbation(Metric):
    curve_section = "faithfulness"
    tier = 2
    higher_is_better = True
    requires = frozenset({"attributions", "model"})
    threshold = 0.0
    mode = None
    dataset_relative = True  # scaled by the spread of the model's outputs over the data

    def __init__(self, fractions=DEFAULT_FRACTIONS, infill="dinuc_shuffle", n_random=1,
                 n_sequences=None):
        self.fractions = fractions
        self.infill = infill
        self.n_random = n_random
        self.n_sequences = n_sequences

    def compute(self, ctx, method):
        index, f, ranked, random = perturbation_curves(
            ctx, method, self.mode, self.fractions, self.infill, self.n_random, self.n_sequences
        )
        auc_ranked, auc_random = _mean_value(ranked, f), _mean_value(random, f)
        sign = -1.0 if self.mode == "deletion" else 1.0
        score = sign * (auc_ranked - auc_random) / ctx.output_scale()
        curve = pd.concat(
            [
                pd.DataFrame({"method": method, "fraction": f, "output": ranked.mean(0), "kind": "ranked"}),
                pd.DataFrame({"method": method, "fraction": f, "output": random.mean(0), "kind": "random"}),
            ],
            ignore_index=True,
        )
        return MetricResult({self.name: ctx.scatter(index, score)}, curves={self.mode: curve})


@register("deletion")
class Deletion(_Perturbation):
    """Deletion score: how much faster the output falls than under a random ranking.

    Positions are ranked by the signed contribution of the observed base (most
    positive first) and replaced, in the given fractions of the sequence, by the
    same positions of a dinucleotide-shuffled copy (``infill``). With ``o(f)`` the
    output after replacing a fraction ``f``, ``AUC = mean-value of o over f``
    (trapezoid). Score = ``(AUC_random - AUC_ranked) / sd(f(x))`` in units of the
    output's standard deviation over the data; > 0 means better than random.

    Args:
        fractions: increasing fractions of positions in [0, 1].
        infill: ``"dinuc_shuffle"``, ``"shuffle"`` or ``"random"`` bases.
        n_random: random rankings averaged for the baseline curve (drawn once per
            run and shared by every method).
        n_sequences: size of the seeded subsample (None: every sequence).
    """

    order = 8
    quick_options = {"fractions": [0.0, 0.05, 0.1, 0.2, 0.5]}
    mode = "deletion"

    def adverse_reason(self, row, value, threshold):
        return f"deleting the top-ranked bases lowered the output no faster than random ({value:.3g})"


@register("insertion")
class Insertion(_Perturbation):
    """Insertion score: how much faster the output rises than under a random ranking.

    Starts from the infill sequence and restores the top-ranked original bases in
    the given fractions. Score = ``(AUC_ranked - AUC_random) / sd(f(x))``; > 0 means
    better than random. Arguments as for ``deletion``.
    """

    order = 9
    quick_options = {"fractions": [0.0, 0.05, 0.1, 0.2, 0.5]}
    mode = "insertion"

    def adverse_reason(self, row, value, threshold):
        return f"inserting the top-ranked bases raised the output no faster than random ({value:.3g})"
