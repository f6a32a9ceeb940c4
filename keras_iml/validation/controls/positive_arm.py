"""Positive controls: maps right by construction (ISM of the same model; the planted sites)."""

import numpy as np

from keras_iml.attributions import Attributions
from keras_iml.validation.controls.base import Control, ControlArm, register

__all__ = ["Positive"]


@register("positive")
class Positive(Control):
    """In-silico mutagenesis of the same model (faithful by construction), and, where
    a planted motif mask is given, the planted sites on their observed bases (true by
    construction). A metric on which they do not beat placebo has no assay
    sensitivity on these data."""

    expect = "positive"
    kind = "positive_control"
    order = 0

    def make(self, run):
        ctx = run.ctx
        try:
            ism = ctx.reference_ism()
        except (ValueError, TypeError, NotImplementedError) as err:
            run.skip("positive:ism", f"ISM could not explain the model: {err}")
        else:
            run.add(ControlArm("positive:ism", self.kind, "ism", ctx.seed,
                               "in-silico mutagenesis of the same model (faithful by construction)"),
                    attributions=ism)
        if ctx.ground_truth is not None:
            truth = (ctx.ground_truth == 1).astype(np.float32)[:, :, None] * ctx.x
            run.add(ControlArm("positive:ground_truth", self.kind, "ground_truth", ctx.seed,
                               "the planted motif sites (1 on their observed bases, 0 elsewhere)"),
                    attributions=Attributions(truth, method="ground_truth", params={"seed": ctx.seed}))
