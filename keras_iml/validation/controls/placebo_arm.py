"""The placebo arm: one per method, model-independent noise matched to the method."""

from keras_iml.methods.placebo import match_placebo
from keras_iml.stats import stable_seed
from keras_iml.validation.controls.base import Control, ControlArm, register

__all__ = ["Placebo"]


@register("placebo")
class Placebo(Control):
    """Model-independent noise matched to each method's smoothness, sparsity and
    marginal distribution (:func:`keras_iml.methods.placebo.match_placebo`), for every
    method and for every arm made before it whose ``matches`` is not a method."""

    kind = "placebo"
    order = 20
    comparator = True

    def make(self, run):
        ctx, maps = run.ctx, run.maps
        bases = list(run.real) + [a.matches for a in run.arms if a.matches not in run.real]
        sources = {**{label: label for label in run.real},
                   **{a.matches: a.label for a in run.arms if a.matches not in run.real}}
        for base in dict.fromkeys(bases):
            label = f"placebo:{base}"
            if label in maps:
                continue
            seed = stable_seed(ctx.seed, "placebo", base)
            method = match_placebo(maps[sources[base]], ctx.x, seed=seed)
            run.add(ControlArm(
                label, self.kind, base, seed,
                f"model-independent noise matched to {base}'s smoothness (Gaussian s.d. "
                f"{method.width:g} positions) and its distribution of values"
                + (" on the observed bases" if method.observed_only else ""),
                method.get_config()), method=method)
