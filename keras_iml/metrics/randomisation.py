"""Tier 2: model-parameter randomisation test (Adebayo et al., NeurIPS 2018).

An explanation of a model must depend on the model. Layers are re-initialised in a
cascade from the output towards the input, on a *copy* of the model
(``keras.models.clone_model`` + ``set_weights``; the user's model is never
touched), and the method explains each randomised copy. A method whose maps
survive — stay similar to the original's once every layer is random — explains the
input, not the model (edge detectors in images; the one-hot input itself in DNA).
"""

import numpy as np
import pandas as pd

import keras
from keras_iml.metrics.base import Metric, MetricResult, NotApplicable, register
from keras_iml.stats import similarity_rows

__all__ = ["ModelRandomisation", "randomised_cascade", "randomised_copy"]


def _random_like(weights, variables, rng):
    out = []
    for w, var in zip(weights, variables):
        path = getattr(var, "path", None) or getattr(var, "name", "")
        scale = float(np.std(w))
        if "moving_" in path or scale == 0.0:
            out.append(w)  # batch-norm statistics and all-zero biases stay as they are
        else:
            out.append(rng.normal(0.0, scale, w.shape).astype(w.dtype))
    return out


def randomised_copy(model, rng, copy=None):
    """A copy of ``model`` with every weight tensor redrawn (the cascade's last step).

    Args:
        model: a Sequential or functional Keras model (not modified).
        rng: a numpy Generator.
        copy: optional earlier result for a model of the same architecture, whose
            weights are overwritten (keeping its compiled functions).

    Raises:
        NotApplicable: the model cannot be cloned or has no weights.
    """
    if not any(layer.weights for layer in model.layers):
        raise NotApplicable("the model has no weights to randomise")
    if copy is None:
        try:
            copy = keras.models.clone_model(model)
        except Exception as err:  # noqa: BLE001 - any cloning failure means "cannot run"
            raise NotApplicable(f"the model cannot be copied with keras.models.clone_model: {err}") from err
    for layer, target in zip(model.layers, copy.layers):
        if layer.weights:
            target.set_weights(_random_like(layer.get_weights(), layer.weights, rng))
    return copy


def randomised_cascade(model, rng, copies=None):
    """Copies of ``model`` with its weighted layers randomised cumulatively from the top.

    Each weight tensor is redrawn from ``N(0, sd(original tensor))`` (all-zero
    tensors and batch-norm moving statistics are kept).

    Args:
        model: a Sequential or functional Keras model (not modified).
        rng: a numpy Generator.
        copies: optional cascade returned by an earlier call for a model of the
            same architecture: its copies are overwritten instead of cloned again
            (the draws are the same as with fresh clones), so their compiled
            functions can be reused.

    Returns:
        list of ``(layer_name, copy)``: the copy has that layer and every layer above
        it randomised; the last copy has every weighted layer randomised.

    Raises:
        NotApplicable: the model cannot be cloned (e.g. a subclassed model without
            ``get_config``) or has no weights.
    """
    weighted = [i for i, layer in enumerate(model.layers) if layer.weights]
    if not weighted:
        raise NotApplicable("the model has no weights to randomise")
    order = list(reversed(weighted))
    state = model.get_weights()
    draws = {i: _random_like(model.layers[i].get_weights(), model.layers[i].weights, rng) for i in order}
    if copies is None or len(copies) != len(order):
        try:
            template = keras.models.clone_model(model)
        except Exception as err:  # noqa: BLE001 - any cloning failure means "cannot run"
            raise NotApplicable(f"the model cannot be copied with keras.models.clone_model: {err}") from err
        copies = [(model.layers[i].name, keras.models.clone_model(template)) for i in order]
    cascade = []
    for depth, (_, copy) in enumerate(copies, start=1):
        copy.set_weights(state)
        for i in order[:depth]:
            copy.layers[i].set_weights(draws[i])
        cascade.append((model.layers[order[depth - 1]].name, copy))
    return cascade


@register("randomisation")
class ModelRandomisation(Metric):
    """Similarity of the maps of the original and of the fully randomised model.

    Per sequence: Spearman correlation of position importance between the
    original model's attributions and those of a copy with every weighted layer
    re-initialised (same method options and seed). Lower is better; a sequence
    above the threshold is a *randomisation survivor*. The cascade (similarity
    after randomising the top 1, 2, ... layers) is reported as the curve
    ``"randomisation"`` with columns ``method, layers, layer, value``.

    Args:
        n_sequences: size of the seeded subsample (None: every sequence).
        similarity: ``"spearman"`` (default, as in Adebayo et al.) or ``"pearson"``.
    """

    order = 10
    quick_options = {"n_sequences": 16}
    curve_section = "randomisation"
    tier = 2
    higher_is_better = False
    requires = frozenset({"attributions", "method", "model"})
    threshold = 0.5

    def __init__(self, n_sequences=32, similarity="spearman"):
        self.n_sequences = n_sequences
        self.similarity = similarity

    def compute(self, ctx, method):
        inst = ctx.method_of(method)
        ctx.same_model_only(method, "randomising it again says nothing new")
        cascade = ctx.derived(("randomised_cascade",), lambda: _cascade(ctx))
        if isinstance(cascade, NotApplicable):
            raise cascade
        index = ctx.subsample(self.n_sequences, ("randomisation",))
        base = ctx.on_subsample(method, index).position_importance
        seed = ctx.attribution_seed(method)
        rows, rho = [], None
        for depth, (layer, copy) in enumerate(cascade, start=1):
            attr = ctx.explain(inst, ctx.x[index], model=copy, seed=seed, rows=index)
            rho = similarity_rows(base, attr.position_importance, self.similarity)
            rows.append({"method": method, "layers": depth, "layer": layer, "value": float(rho.mean())})
        return MetricResult({self.name: ctx.scatter(index, rho)},
                            curves={"randomisation": pd.DataFrame(rows)})

    def adverse_reason(self, row, value, threshold):
        return (f"randomisation survivor: the map of the fully randomised model still "
                f"correlates with the original ({self.similarity} {value:.3g} > {threshold:g})")


def _cascade(ctx):
    """The randomisation cascade of the run's model, or the NotApplicable saying why
    there is none (kept, so the reason is given once per run). Copies made for a model
    of the same architecture in an earlier run that shared the cache are overwritten,
    keeping their compiled functions."""
    key = ("randomised_copies", id(ctx.model))
    try:
        kept = ctx.cache.get_model(key)
        copies = kept[1] if kept is not None and kept[0] is ctx.model else None
        cascade = randomised_cascade(ctx.model, ctx.rng("randomisation"), copies=copies)
    except NotApplicable as err:
        return err
    ctx.cache.set_model(key, (ctx.model, cascade))
    return cascade
