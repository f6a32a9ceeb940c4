"""Tier 2: an oracle model whose mechanism is known by construction.

A PWM-scanning Keras model (:func:`keras_iml.models.pwm.pwm_model`) outputs the
best log-odds match of one JASPAR motif. Its answer to "which bases matter" is
known exactly — the bases of the best match — so a faithful method must put its
peak there (a known-mechanism check in the spirit of the synthetic benchmarks of
Pan & Reynolds 2025). It tests the method alone, on the user's sequences,
independently of the user's model.
"""

import hashlib

import numpy as np

from keras_iml.datasets.planting import plant_site
from keras_iml.metrics.base import Metric, NotApplicable, register
from keras_iml.models.pwm import best_match, load_motifs, pwm_model
from keras_iml.motifs.pfm import log_odds

__all__ = ["PWMOracle"]


@register("pwm_oracle")
class PWMOracle(Metric):
    """Share of sequences whose attribution peak falls on the PWM oracle's best match.

    A site sampled from ``motif`` is planted in (a seeded subsample of) the data
    and a PWM model of that motif is built for the sequence length. Per sequence the
    score is 1 when the position of highest importance lies inside the window the
    model scores (its best match), else 0.

    Args:
        motif: JASPAR matrix ID or ``(W, 4)`` frequency matrix.
        n_sequences: size of the seeded subsample (None: every sequence).
    """

    order = 13
    quick_options = {"n_sequences": 16}
    tier = 2
    higher_is_better = True
    requires = frozenset({"attributions", "method"})
    threshold = 0.9

    def __init__(self, motif="MA0139.2", n_sequences=64):
        self.motif = motif
        self.n_sequences = n_sequences

    def _setup(self, ctx):
        def build():
            label, pfm = load_motifs([self.motif], name="motif")[0]
            if ctx.length < len(pfm):
                raise NotApplicable(f"sequences ({ctx.length} bp) are shorter than {label} ({len(pfm)} bp)")
            index = ctx.subsample(self.n_sequences, ("pwm_oracle",))
            planted, _, _ = plant_site(ctx.x[index], pfm, ctx.rng("pwm_oracle", label))
            start, _, _ = best_match(planted, log_odds(pfm, base=np.e))
            digest = hashlib.sha1(np.ascontiguousarray(pfm, np.float64).tobytes()).hexdigest()
            model = ctx.shared(("pwm_oracle_model", digest, ctx.length),
                               lambda: pwm_model(pfm, ctx.length, name="pwm_oracle"))
            return index, planted, start, len(pfm), model

        return ctx.derived(("pwm_oracle", repr(self.motif), self.n_sequences), build)

    def compute(self, ctx, method):
        inst = ctx.method_of(method)
        ctx.same_model_only(method, "the oracle model replaces it")
        index, planted, start, width, model = self._setup(ctx)
        try:
            attr = ctx.explain(inst, planted, model=model, seed=ctx.attribution_seed(method),
                               rows=index, target=None, logit=False)
        except (ValueError, TypeError, NotImplementedError) as err:
            raise NotApplicable(f"the method cannot run on the PWM oracle model: {err}") from err
        imp = attr.position_importance
        peak = np.lexsort((ctx.tiebreak[index], -imp), axis=1)[:, 0]
        hit = (peak >= start) & (peak < start + width)
        return ctx.scatter(index, hit.astype(float))

    def adverse_reason(self, row, value, threshold):
        return "the attribution peak missed the PWM match the oracle model scores"
