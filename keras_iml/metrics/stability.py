"""Tier 1: stability of attributions across an ensemble of models of the same task.

Models trained from different random initialisations on the same data reach
similar accuracy but can explain their predictions differently; Pan & Reynolds
(PLoS Comput Biol 2025) measure this as the per-position relative standard
deviation of |attribution| across models and report its median.
"""

import numpy as np

from keras_iml.metrics.base import Metric, register

__all__ = ["EnsembleStability"]


@register("ensemble_stability")
class EnsembleStability(Metric):
    """Median per-position relative standard deviation of importance across models.

    For each sequence, the method explains the validated model and every ensemble
    member (same options, same seed); at each position the standard deviation of
    position importance (|attribution| summed over bases) across the models is
    divided by its mean (positions with mean 0 are left out), and the median over
    positions is the sequence's score. 0 = identical maps; independent
    half-normal maps give ≈ 0.75. Aggregated by the median, as in Pan & Reynolds.

    Args:
        n_sequences: size of the seeded subsample (None: every sequence).
    """

    order = 5
    tier = 1
    higher_is_better = False
    requires = frozenset({"attributions", "method", "model", "ensemble"})
    placebo_ceiling = True
    aggregate = "median"
    quick = False

    def __init__(self, n_sequences=64):
        self.n_sequences = n_sequences

    def compute(self, ctx, method):
        inst = ctx.method_of(method)
        ctx.same_model_only(method, "the ensemble members are not randomised")
        index = ctx.subsample(self.n_sequences, ("ensemble_stability",))
        seed = ctx.attribution_seed(method)
        maps = [ctx.on_subsample(method, index).position_importance]
        for member in ctx.ensemble:
            maps.append(ctx.explain(inst, ctx.x[index], model=member, seed=seed,
                                    rows=index).position_importance)
        stack = np.stack(maps).astype(np.float64)  # (K, n, L)
        mean = stack.mean(0)
        std = stack.std(0, ddof=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(mean > 0, std / mean, np.nan)
        return ctx.scatter(index, _nanmedian_rows(rel))


def _nanmedian_rows(a):
    out = np.full(len(a), np.nan)
    ok = np.isfinite(a).any(1)
    out[ok] = np.nanmedian(a[ok], axis=1)
    return out
