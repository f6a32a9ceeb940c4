"""Tier 3: localisation of attributions against a ground-truth motif mask.

Synthetic benchmarks with planted motifs know which bases cause the label; a
biologically valid explanation puts its importance there and not on decoys —
motifs planted at equal rates in both classes (Pan & Reynolds, PLoS Comput Biol
2025; Koo & Ploenzke 2021; Prakash et al. 2022). Position importance is
|attribution| summed over bases. The mask holds 1 on true-motif bases and 2 on
decoy bases; sequences without any true-motif base score NaN (not evaluated).
"""

import numpy as np
import pandas as pd

from keras_iml.metrics.base import Metric, MetricResult, NotApplicable, register
from keras_iml.stats import auroc_rows, average_precision_rows, top_k_mask

__all__ = ["LocalisationAUROC", "LocalisationAUPRC", "LocalisationRecall", "LocalisationPrecision"]

_REQ = frozenset({"attributions", "ground_truth"})


@register("localisation_auroc")
class LocalisationAUROC(Metric):
    """Per-sequence AUROC of position importance for the true-motif positions.

    1 = every motif base ranks above every other base; random maps give 0.5.
    """

    order = 14
    tier = 3
    higher_is_better = True
    requires = _REQ
    threshold = 0.75

    def compute(self, ctx, method):
        return auroc_rows(ctx.importance(method), ctx.ground_truth == 1)

    def adverse_reason(self, row, value, threshold):
        return f"true motif not localised (AUROC {value:.3g} < {threshold:g})"


@register("localisation_auprc")
class LocalisationAUPRC(Metric):
    """Per-sequence average precision of position importance for the true-motif positions.

    Chance level is the share of motif bases in the sequence.
    """

    order = 15
    tier = 3
    higher_is_better = True
    requires = _REQ

    def compute(self, ctx, method):
        return average_precision_rows(ctx.importance(method), ctx.ground_truth == 1)


class _TopK(Metric):
    curve_section = "localisation"
    tier = 3
    higher_is_better = True
    requires = _REQ
    label = None

    def __init__(self, ks=(1, 5, 10)):
        self.ks = ks

    def _ks(self):
        ks = list(self.ks) if isinstance(self.ks, (list, tuple)) else [self.ks]
        bad = [k for k in ks if isinstance(k, bool) or not isinstance(k, (int, float)) or not 0 < k <= 100]
        if not ks or bad:
            raise ValueError(f"`ks` must be percentages in (0, 100]. Received: ks={self.ks!r}")
        return ks

    def row_names(self):
        return [f"{self.name}@{k:g}" for k in self._ks()]

    def compute(self, ctx, method):
        rows, curve = {}, []
        for k, row in zip(self._ks(), self.row_names()):
            top = top_k_mask(ctx.importance(method), k, ctx.tiebreak)
            rows[row] = self.score(ctx, top)
            finite = rows[row][np.isfinite(rows[row])]
            curve.append({"method": method, "k": k, "value": float(finite.mean()) if finite.size else np.nan})
        return MetricResult(rows, curves={self.name: pd.DataFrame(curve)})


@register("localisation_recall")
class LocalisationRecall(_TopK):
    """Recall at top k %: share of the true-motif bases among the top k % of positions.

    One row per k (``localisation_recall@5``...). At most ``round(kL/100)`` / (motif
    bases), so small k cannot reach 1 for long motifs.

    Args:
        ks: percentages of positions.
    """

    order = 16
    def score(self, ctx, top):
        true = ctx.ground_truth == 1
        n_true = true.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n_true > 0, (top & true).sum(1) / n_true, np.nan)


@register("localisation_precision")
class LocalisationPrecision(_TopK):
    """Precision against decoys at top k %: ``1 - decoys / (true + decoys)`` in the top k %.

    Counts true-motif and decoy bases among the top k % of positions; 1 = no decoy
    base ranks there, 0 = only decoys. NaN when the top k % holds neither. A model
    that learned a confounder (a decoy tied to the label) fails it.

    Args:
        ks: percentages of positions.
    """

    order = 17
    threshold = 0.5

    def compute(self, ctx, method):
        if not (ctx.ground_truth == 2).any():
            raise NotApplicable("the ground truth marks no decoy positions (value 2)")
        return super().compute(ctx, method)

    def score(self, ctx, top):
        t = (top & (ctx.ground_truth == 1)).sum(1)
        d = (top & (ctx.ground_truth == 2)).sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(t + d > 0, t / (t + d), np.nan)

    def adverse_reason(self, row, value, threshold):
        return f"decoy bases outrank the true motif ({row} = {value:.3g})"
