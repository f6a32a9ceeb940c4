"""Tier 1: cross-method agreement (Spearman, top-k % Jaccard, sign agreement).

Every pair of validated methods is compared sequence by sequence; the runner also
assembles the method x method matrix of the aggregates. Methods explaining the same
model should agree in which positions matter (Krishna et al. 2022, "The
disagreement problem in explainable machine learning").
"""

import numpy as np

from keras_iml.metrics.base import PairwiseMetric, register
from keras_iml.stats import spearman_rows, top_k_mask

__all__ = ["Spearman", "Jaccard", "SignAgreement"]


def _check_k(k):
    if isinstance(k, bool) or not isinstance(k, (int, float)) or not 0 < k <= 100:
        raise ValueError(f"`k` must be a percentage in (0, 100]. Received: k={k!r}")


@register("spearman")
class Spearman(PairwiseMetric):
    """Spearman rank correlation of two methods' position importance, per sequence.

    Position importance is |attribution| summed over bases. Identical maps give 1,
    independent ones ≈ 0. A sequence below the threshold (default 0: the two
    methods rank positions in opposite orders) is an adverse event for the pair.
    """

    order = 0
    tier = 1
    higher_is_better = True
    threshold = 0.0

    def compute_pair(self, ctx, a, b):
        return spearman_rows(ctx.importance(a), ctx.importance(b))


@register("jaccard")
class Jaccard(PairwiseMetric):
    """Jaccard index of the two methods' top-``k`` % positions, per sequence.

    ``|A ∩ B| / |A ∪ B|`` with exactly ``round(k L / 100)`` positions per set (ties
    broken by the run's fixed random keys). Identical maps give 1; independent maps
    give about ``k / (200 - k)`` (0.053 for k = 10).

    Args:
        k: percentage of positions in each top set.
    """

    order = 1
    tier = 1
    higher_is_better = True

    def __init__(self, k=10):
        self.k = k

    def row_names(self):
        return [f"jaccard_top{self.k:g}"]

    def compute_pair(self, ctx, a, b):
        _check_k(self.k)
        ta = top_k_mask(ctx.importance(a), self.k, ctx.tiebreak)
        tb = top_k_mask(ctx.importance(b), self.k, ctx.tiebreak)
        return (ta & tb).sum(1) / (ta | tb).sum(1)


@register("sign_agreement")
class SignAgreement(PairwiseMetric):
    """Share of important positions where two methods agree on the sign, per sequence.

    Positions: the union of both methods' top-``k`` % by importance. Sign: of the
    signed contribution of the observed base (``keras_iml.metrics.signed_contribution``,
    comparable across saliency, input-masked methods and ISM). Identical maps give
    1, independent ones ≈ 0.5.

    Args:
        k: percentage of positions taken from each method.
    """

    order = 2
    tier = 1
    higher_is_better = True

    def __init__(self, k=10):
        self.k = k

    def compute_pair(self, ctx, a, b):
        _check_k(self.k)
        union = top_k_mask(ctx.importance(a), self.k, ctx.tiebreak) | top_k_mask(
            ctx.importance(b), self.k, ctx.tiebreak
        )
        same = np.sign(ctx.signed(a)) == np.sign(ctx.signed(b))
        return (same & union).sum(1) / union.sum(1)
