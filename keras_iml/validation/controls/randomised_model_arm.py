"""The randomised-model arm: a method explaining a copy of the model with every weight redrawn."""

import numpy as np

from keras_iml.metrics.base import NotApplicable
from keras_iml.metrics.randomisation import randomised_copy
from keras_iml.stats import stable_seed
from keras_iml.validation.controls.base import Control, ControlArm, register

__all__ = ["RandomisedModel"]


@register("randomised_model")
class RandomisedModel(Control):
    """``method`` (default: the protocol's first) explaining a copy of the model whose
    every weight is redrawn from N(0, s.d. of the original tensor): the last step of
    the model-parameter randomisation cascade. A map that still scores well explains
    the input, not the model.

    Args:
        method: the label of the method to re-run (None: the first that ran).
    """

    kind = "randomised_model"
    order = 30

    def __init__(self, method=None):
        self.method = method

    def make(self, run):
        ctx = run.ctx
        label = self.method or (run.real[0] if run.real else None)
        if label is None or label not in ctx.methods or ctx.methods[label] is None:
            run.skip("randomised_model", f"no re-runnable method {label!r} for the randomised-model arm")
            return
        arm = f"randomised_model:{label}"
        seed = stable_seed(ctx.seed, "randomised_model")
        try:
            copy = _randomised_copy(ctx, seed)
        except NotApplicable as err:
            run.skip(arm, str(err))
            return
        run.add(ControlArm(arm, self.kind, label, seed,
                           f"{label} explaining a copy of the model with every weight redrawn from "
                           "N(0, s.d. of the original tensor)", {"method": label}),
                method=ctx.methods[label], model=copy)


def _randomised_copy(ctx, seed):
    # A copy made for a model of the same architecture in an earlier run sharing the
    # cache is overwritten, keeping its compiled functions (as the zoo's pool does).
    key = ("randomised_model_arm", id(ctx.model))
    kept = ctx.cache.get_model(key)
    copy = kept[1] if kept is not None and kept[0] is ctx.model else None
    copy = randomised_copy(ctx.model, np.random.default_rng(seed), copy=copy)
    ctx.cache.set_model(key, (ctx.model, copy))
    return copy
