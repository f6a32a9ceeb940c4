"""Tier 2: completeness (the convergence delta) and agreement with ISM.

Completeness (Sundararajan et al. 2017; Shrikumar et al. 2017): for IG, DeepLIFT,
DeepLIFT-SHAP and expected gradients the attributions of a sequence should add up
to ``f(x) - f(reference)``; the method reports the difference (its convergence
delta). In-silico mutagenesis is the model's own answer to "what does this base
do": gradient-based maps should rank positions as ISM does (Koo & Ploenzke 2021).
"""

import numpy as np

from keras_iml.metrics.base import Metric, NotApplicable, register
from keras_iml.stats import spearman_rows

__all__ = ["Completeness", "ISMAgreement"]


@register("completeness")
class Completeness(Metric):
    """|convergence delta| in units of the output's standard deviation over the data.

    ``|sum(attributions) - (f(x) - f(reference))| / sd(f(x))``, per sequence, for
    methods that report a convergence delta; other methods are not run. Lower is
    better.
    """

    order = 11
    tier = 2
    higher_is_better = False
    requires = frozenset({"attributions", "model"})
    threshold = 0.05
    dataset_relative = True  # in units of the outputs' s.d. over the data
    # A property the method itself defines (its convergence delta): a placebo map has
    # none, so this metric has no placebo arm and is judged on its threshold alone.
    placebo_comparable = False

    def compute(self, ctx, method):
        delta = ctx.attributions[method].convergence_delta
        if delta is None:
            raise NotApplicable("the method defines no completeness property (no convergence_delta)")
        return np.abs(delta.astype(np.float64)) / ctx.output_scale()

    def adverse_reason(self, row, value, threshold):
        return f"attributions do not sum to the output difference (|delta| = {value:.3g} sd)"


@register("ism_agreement")
class ISMAgreement(Metric):
    """Spearman correlation of the method's position importance with ISM's.

    ISM importance at a position is the summed |effect| of its three substitutions
    (``f(x with b at i) - f(x)``). Computed once per run (or reused when ``ism`` is
    one of the validated methods); ISM itself is not compared with itself.
    """

    order = 12
    tier = 2
    higher_is_better = True
    requires = frozenset({"attributions", "model"})
    threshold = 0.2

    def compute(self, ctx, method):
        from keras_iml import methods

        if ctx.attributions[method].method == "ism":
            raise NotApplicable("the method is ISM itself")
        if "ism" not in methods.names():
            raise NotApplicable("no 'ism' method is registered")
        ism = ctx.reference_ism()
        return spearman_rows(ctx.importance(method), ism.position_importance)
