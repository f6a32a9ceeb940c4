"""Control arms of a validation run: placebo, randomised model and positive controls.

A metric's value means something only next to what a map that knows nothing scores
on it. Every run therefore adds, as a clinical trial would, arms that are not
treatments:

* **placebo** (``placebo:<method>``), one per method: model-independent noise
  matched to that method's own smoothness, sparsity and marginal distribution
  (:func:`keras_iml.methods.placebo.match_placebo`). Every metric row of a method
  is compared with the same row of its own placebo.
* **randomised model** (``randomised_model:<method>``): the method explaining a
  copy of the model whose every weight is redrawn (the last step of the
  model-parameter randomisation cascade). A map that still scores well explains the
  input, not the model.
* **positive controls** (``positive:ism``, and ``positive:ground_truth`` where a
  planted motif mask is given): maps that are right by construction, faithful
  (in-silico mutagenesis of the same model) or true (the planted sites on their
  observed bases). A metric on which the positive control does not beat placebo
  has no assay sensitivity on these data.

The arms, their settings and seeds are fixed by the protocol (``controls``) before
any result is seen, and recorded in ``ValidationReport.controls``.
"""

import dataclasses

import numpy as np

from keras_iml.attributions import Attributions
from keras_iml.metrics.base import NotApplicable
from keras_iml.stats import stable_seed
from keras_iml.metrics.randomisation import randomised_copy
from keras_iml.methods.placebo import match_placebo

__all__ = ["ControlArm", "DEFAULT_CONTROLS", "check_controls", "add_arms", "KINDS"]

KINDS = ("method", "placebo", "randomised_model", "positive_control")
#: The default ``controls`` of a protocol.
DEFAULT_CONTROLS = {"placebo": True, "randomised_model": {"method": None}, "positive": True}


@dataclasses.dataclass
class ControlArm:
    """One control arm of a run.

    Attributes:
        label: its label in every table (``placebo:saliency``...).
        kind: ``"placebo"``, ``"randomised_model"`` or ``"positive_control"``.
        matches: the method it is a control for (its placebo partner is
            ``placebo:<matches>``).
        seed: the seed its maps were drawn with.
        description: how it is made, in words.
        config: the settings of its maps (the placebo's matched width and quantiles...).
    """

    label: str
    kind: str
    matches: str
    seed: int
    description: str
    config: dict = dataclasses.field(default_factory=dict)

    def row(self):
        return {"arm": self.label, "kind": self.kind, "matches": self.matches, "seed": self.seed,
                "description": self.description, "config": _compact_config(self.config)}


def _compact_config(config):
    out = {}
    for key, value in config.items():
        if key == "quantiles" and value is not None:
            value = f"{len(value)} quantiles from {value[0]:.3g} to {value[-1]:.3g}"
        out[key] = value
    return out


def check_controls(controls):
    """Normalises a protocol's ``controls``: None/True (defaults), False/"none", or a dict."""
    if controls is None or controls is True:
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULT_CONTROLS.items()}
    if controls is False or controls == "none":
        return {"placebo": False, "randomised_model": False, "positive": False}
    if not isinstance(controls, dict):
        raise ValueError(
            "`controls` must be True, False, 'none' or a dict with keys 'placebo', "
            f"'randomised_model', 'positive'. Received: controls={controls!r}"
        )
    unknown = set(controls) - set(DEFAULT_CONTROLS)
    if unknown:
        raise ValueError(
            f"Unknown `controls` keys {sorted(unknown, key=repr)}; expected a subset of "
            f"{sorted(DEFAULT_CONTROLS)}. Received: controls={controls!r}"
        )
    out = check_controls(None)
    for key, value in controls.items():
        if key == "randomised_model" and isinstance(value, dict):
            if set(value) - {"method"}:
                raise ValueError(f"`controls['randomised_model']` takes only 'method'. Received: {value!r}")
            out[key] = {"method": value.get("method")}
        elif isinstance(value, bool):
            out[key] = {"method": None} if (key == "randomised_model" and value) else value
        else:
            raise ValueError(f"`controls[{key!r}]` must be a bool{' or a dict' if key == 'randomised_model' else ''}. "
                             f"Received: {value!r}")
    return out


def add_arms(ctx, controls, explain):
    """Adds the control arms of ``controls`` to the run's Context.

    Args:
        ctx: the run's :class:`keras_iml.metrics.Context`, its methods explained.
        controls: normalised ``controls`` (:func:`check_controls`).
        explain: ``explain(label, seed)`` explaining one label of ``ctx.methods`` into
            ``ctx.attributions`` (the runner's, which records failures as not run).

    Returns:
        ``(arms, not_run)``: list of :class:`ControlArm`, and ``(arm, reason)`` pairs
        for arms that could not be made.
    """
    arms, not_run = [], []
    real = [label for label in ctx.real_methods if label in ctx.attributions]
    if ctx.model is not None and controls.get("positive"):
        _add_positive(ctx, arms, not_run)
    if controls.get("placebo") and ctx.model is None:
        not_run.append(("placebo", "control arms are made by the engine, which needs a model "
                                   "(attributions given precomputed without one)"))
    elif controls.get("placebo"):
        for label in real + [a.label for a in arms if a.matches not in real]:
            base = next((a.matches for a in arms if a.label == label), label)
            _add_placebo(ctx, label, base, arms, explain)
    spec = controls.get("randomised_model")
    if spec and ctx.model is not None:
        _add_randomised(ctx, spec.get("method"), real, arms, not_run, explain)
    return arms, not_run


def _add_placebo(ctx, label, base, arms, explain):
    arm = f"placebo:{base}"
    if arm in ctx.attributions:
        return
    seed = stable_seed(ctx.seed, "placebo", base)
    method = match_placebo(ctx.attributions[label], ctx.x, seed=seed)
    ctx.methods[arm] = method
    explain(arm, seed)
    arms.append(ControlArm(
        arm, "placebo", base, seed,
        f"model-independent noise matched to {base}'s smoothness (Gaussian s.d. "
        f"{method.width:g} positions) and its distribution of values"
        + (" on the observed bases" if method.observed_only else ""),
        method.get_config()))


def _add_randomised(ctx, method_label, real, arms, not_run, explain):
    label = method_label or (real[0] if real else None)
    if label is None or label not in ctx.methods or ctx.methods[label] is None:
        not_run.append(("randomised_model", f"no re-runnable method {label!r} for the randomised-model arm"))
        return
    arm = f"randomised_model:{label}"
    seed = stable_seed(ctx.seed, "randomised_model")
    try:
        copy = _randomised_copy(ctx, seed)
    except NotApplicable as err:
        not_run.append((arm, str(err)))
        return
    ctx.methods[arm] = ctx.methods[label]
    ctx.arm_models[arm] = copy
    explain(arm, seed)
    arms.append(ControlArm(
        arm, "randomised_model", label, seed,
        f"{label} explaining a copy of the model with every weight redrawn from "
        "N(0, s.d. of the original tensor)", {"method": label}))


def _randomised_copy(ctx, seed):
    # A copy made for a model of the same architecture in an earlier run sharing the
    # cache is overwritten, keeping its compiled functions (as the zoo's pool does).
    key = ("randomised_model_arm", id(ctx.model))
    kept = ctx.cache.get_model(key)
    copy = kept[1] if kept is not None and kept[0] is ctx.model else None
    copy = randomised_copy(ctx.model, np.random.default_rng(seed), copy=copy)
    ctx.cache.set_model(key, (ctx.model, copy))
    return copy


def _add_positive(ctx, arms, not_run):
    try:
        ism = ctx.reference_ism()
    except (ValueError, TypeError, NotImplementedError) as err:
        not_run.append(("positive:ism", f"ISM could not explain the model: {err}"))
    else:
        ctx.attributions["positive:ism"] = ism
        ctx.methods["positive:ism"] = None
        arms.append(ControlArm("positive:ism", "positive_control", "ism", ctx.seed,
                               "in-silico mutagenesis of the same model (faithful by construction)"))
    if ctx.ground_truth is not None:
        truth = (ctx.ground_truth == 1).astype(np.float32)[:, :, None] * ctx.x
        ctx.attributions["positive:ground_truth"] = Attributions(
            truth, method="ground_truth", params={"seed": ctx.seed})
        ctx.methods["positive:ground_truth"] = None
        arms.append(ControlArm("positive:ground_truth", "positive_control", "ground_truth", ctx.seed,
                               "the planted motif sites (1 on their observed bases, 0 elsewhere)"))
