"""Tier 3: known-motif enrichment of attributions, without ground truth.

When no mask is known (real data, zoo models), the motifs a model *should* use are
often known — the JASPAR matrices of the TF it was trained on. The sequences are
scanned with those matrices (log-odds PWM scan with a FIMO-style p-value threshold,
Grant et al. 2011), and the share of the top-k % attribution mass that falls inside
motif hits is compared with its expectation when importance is shuffled across
positions (which equals the share of positions covered by hits).
"""

import numpy as np

from keras_iml.metrics.base import Metric, NotApplicable, register
from keras_iml.models.pwm import scan, score_threshold
from keras_iml.motifs.pfm import log_odds
from keras_iml.stats import top_k_mask

__all__ = ["MotifEnrichment", "motif_hits"]


def motif_hits(x, motifs, pvalue=1e-4, both_strands=True):
    """Boolean ``(N, L)`` mask of the bases covered by a PWM hit of any motif.

    Args:
        x: one-hot ``(N, L, 4)``.
        motifs: list of ``(label, pfm)`` (see :func:`keras_iml.models.pwm.load_motifs`).
        pvalue: per-window p-value threshold of a hit (uniform background).
        both_strands: scan both strands.

    Returns:
        ``(mask, used)``: the mask and the labels of the motifs that fit in ``L``.
    """
    n, length = x.shape[:2]
    coverage = np.zeros((n, length + 1), dtype=np.int32)
    used = []
    for label, pfm in motifs:
        if len(pfm) > length:
            continue
        weights = log_odds(pfm, base=np.e)
        hit = (scan(x, weights, both_strands) >= score_threshold(weights, pvalue)).any(-1)
        rows, starts = np.nonzero(hit)
        np.add.at(coverage, (rows, starts), 1)
        np.add.at(coverage, (rows, starts + len(pfm)), -1)
        used.append(label)
    return np.cumsum(coverage, axis=1)[:, :length] > 0, used


@register("motif_enrichment")
class MotifEnrichment(Metric):
    """Excess share of top-k % attribution mass inside known-motif hits.

    ``S = sum_{top k %, in hits} imp / sum_{top k %} imp`` minus its expectation
    under a position shuffle of the importance, ``h`` = share of positions covered by
    hits. 0 = chance, 1 - h = every top position in a hit. Sequences without hits
    score NaN.

    Args:
        k: percentage of positions taken as the top.
        pvalue: p-value threshold of a PWM hit.
    """

    order = 18
    tier = 3
    higher_is_better = True
    requires = frozenset({"attributions", "motifs"})
    threshold = 0.0

    def __init__(self, k=10, pvalue=1e-4):
        self.k = k
        self.pvalue = pvalue

    def compute(self, ctx, method):
        hits, used = ctx.derived(("motif_hits", self.pvalue), lambda: motif_hits(ctx.x, ctx.motifs, self.pvalue))
        if not used:
            raise NotApplicable(f"every motif is longer than the sequences ({ctx.length} bp)")
        imp = ctx.importance(method).astype(np.float64)
        top = top_k_mask(imp, self.k, ctx.tiebreak)
        mass = (imp * top).sum(1)
        inside = (imp * top * hits).sum(1)
        share = hits.mean(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            score = inside / mass - share
        score[(share == 0) | (mass == 0)] = np.nan
        return score

    def adverse_reason(self, row, value, threshold):
        return f"top attributions are not enriched in known-motif hits (excess share {value:.3g})"
