"""Tier 1: sensitivity to the method's own hyper-parameters and seed repeatability.

An explanation that changes when an arbitrary choice changes (the IG baseline, the
DeepLIFT-SHAP reference set, the random draws of a stochastic method) says as much
about the choice as about the model (Sturmfels, Lundberg & Lee 2020 on IG
baselines).
"""

import numpy as np

from keras_iml import methods as _methods
from keras_iml.metrics.base import Metric, NotApplicable, register
from keras_iml.stats import similarity_rows

__all__ = ["HyperparameterSensitivity", "SeedRepeatability"]



@register("hyperparameter_sensitivity")
class HyperparameterSensitivity(Metric):
    """Correlation between the configured method and alternative settings.

    For each alternative configuration of the method (a list of option dicts merged
    over the configured options: by default what the method declares with
    :meth:`~keras_iml.methods.AttributionMethod.alternatives`), the attributions of
    the same sequences are recomputed with the same seed; the per-sequence score is
    the lowest correlation of position importance over the alternatives.

    Args:
        alternatives: dict registered method name -> list of option dicts, replacing
            the methods' own declarations (None: each method's ``alternatives()``).
        n_sequences: size of the seeded subsample (None: every sequence).
        similarity: ``"pearson"`` (default: dominated by the important positions)
            or ``"spearman"`` (every position's rank counts, background included).
    """

    order = 3
    quick_options = {"n_sequences": 16}
    tier = 1
    higher_is_better = True
    requires = frozenset({"attributions", "method", "model"})
    threshold = 0.5

    def __init__(self, alternatives=None, n_sequences=64, similarity="pearson"):
        self.alternatives = alternatives
        self.n_sequences = n_sequences
        self.similarity = similarity

    def _configs(self, method):
        if self.alternatives is None:
            declared = method.alternatives()
        else:
            declared = self.alternatives.get(method.name, [])
        current = method.get_config()
        configs, reasons = [], []
        for alt in declared:
            unknown = sorted(set(alt) - set(method.option_names()))
            if unknown:
                reasons.append(f"options {unknown} not accepted")
                continue
            config = {**current, **alt}
            if all(_same(config[k], current[k]) for k in alt):
                reasons.append(f"{alt} equals the configured options")
                continue
            configs.append(config)
        if not configs:
            why = "; ".join(reasons) or "no alternative configuration in the protocol"
            raise NotApplicable(f"{why} for method {method.name!r}")
        return configs

    def compute(self, ctx, method):
        inst = ctx.method_of(method)
        configs = self._configs(inst)
        index = ctx.subsample(self.n_sequences, ("hyperparameter_sensitivity",))
        base = ctx.on_subsample(method, index).position_importance
        worst = None
        for config in configs:
            alt = ctx.explain(_methods.get(inst.name, **config), ctx.x[index], rows=index,
                              model=ctx.model_for(method),
                              seed=ctx.attribution_seed(method))
            rho = similarity_rows(base, alt.position_importance, self.similarity)
            worst = rho if worst is None else np.minimum(worst, rho)
        return ctx.scatter(index, worst)


@register("seed_repeatability")
class SeedRepeatability(Metric):
    """Correlation between two runs of a stochastic method with different seeds.

    Position importance of the run with the protocol's seed against a run with
    seed + 1, per sequence. Only for methods that draw random numbers (references,
    noise, shuffles); a deterministic method is reported as not run. Pearson by
    default: with Spearman, the rank order of the many near-zero background
    positions — Monte-Carlo noise — dominates the score. For two runs with
    independent noise the expected Pearson correlation is ``var(signal) /
    (var(signal) + var(noise))``, so the default threshold 0.5 asks for at least as
    much reproducible signal as run-to-run noise.

    Args:
        n_sequences: size of the seeded subsample (None: every sequence).
        similarity: ``"pearson"`` or ``"spearman"``.
    """

    order = 4
    quick_options = {"n_sequences": 16}
    tier = 1
    higher_is_better = True
    requires = frozenset({"attributions", "method", "model"})
    threshold = 0.5

    def __init__(self, n_sequences=64, similarity="pearson"):
        self.n_sequences = n_sequences
        self.similarity = similarity

    def compute(self, ctx, method):
        inst = ctx.method_of(method)
        if not inst.stochastic:
            raise NotApplicable(f"method {inst.name!r} is deterministic with these options")
        index = ctx.subsample(self.n_sequences, ("seed_repeatability",))
        base = ctx.on_subsample(method, index).position_importance
        other = ctx.explain(inst, ctx.x[index], seed=ctx.attribution_seed(method) + 1, rows=index,
                            model=ctx.model_for(method))
        return ctx.scatter(index, similarity_rows(base, other.position_importance, self.similarity))


def _same(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False
