"""`TraceCache`: explainers (with their traced graphs) and metric-built models, kept
between calls.

Tracing a model's graphs costs more than running them on a batch, so every entry
point that explains a model more than once keeps its :class:`~keras_iml.explainer.Explainer`
here: the wrapper one per model, ``validate`` one per run (unless given ``cache=``),
the zoo's pool one per architecture, and ``keras_iml.explain`` the last few models
(:mod:`keras_iml.explanations`). Models a metric builds (randomised copies, PWM
oracles) are kept beside them.

Example:
    >>> cache = keras_iml.TraceCache()
    >>> a = keras_iml.explain(model, x, "saliency", cache=cache)
    >>> b = keras_iml.explain(model, x2, "saliency", cache=cache)  # no new trace
"""

from __future__ import annotations

import warnings

import keras
from keras_iml.engine import targets
from keras_iml.explainer import Explainer

__all__ = ["TraceCache", "resolve_cache"]


class TraceCache:
    """Explainers and metric-built models, reused between calls (see the module docstring)."""

    def __init__(self):
        self._explainers = {}
        self._models = {}

    def __len__(self):
        return len(self._explainers) + len(self._models)

    def __repr__(self):
        return f"TraceCache(explainers={len(self._explainers)}, models={len(self._models)})"

    def explainer(self, model, target=None, logit=False, gradient_correction=False,
                  alphabet="ACGT", n_policy="uniform", dna_input=None):
        """The :class:`Explainer` of ``model`` for these settings, made on first use.

        The entry keeps the model alive, so its ``id`` cannot be reused by another
        object while it exists.
        """
        if not isinstance(model, keras.Model):
            raise TypeError(f"`model` must be a keras.Model. Received: model of type {type(model).__name__}")
        targets.check_target(target)
        key = (id(model), targets.target_key(target), bool(logit), bool(gradient_correction),
               alphabet, n_policy, dna_input)
        entry = self._explainers.get(key)
        if entry is None or entry[0] is not model:
            explainer = Explainer(model, target, logit=logit, gradient_correction=gradient_correction,
                                  alphabet=alphabet, n_policy=n_policy, dna_input=dna_input)
            entry = self._explainers[key] = (model, explainer)
        return entry[1]

    def model(self, key, build):
        """``build()``, made once per ``key`` (a model a metric builds and reuses)."""
        if key not in self._models:
            self._models[key] = build()
        return self._models[key]

    def get_model(self, key, default=None):
        """The model kept under ``key``, or ``default``."""
        return self._models.get(key, default)

    def set_model(self, key, value):
        """Keeps ``value`` under ``key`` (e.g. copies a metric overwrites in later runs)."""
        self._models[key] = value

    def clear(self):
        """Drops every explainer (and its compiled graphs) and every kept model."""
        self._explainers.clear()
        self._models.clear()


def resolve_cache(cache, functions=None, default=None):
    """The :class:`TraceCache` a call uses: ``cache``, the deprecated ``functions``
    store, or ``default()`` (a fresh cache when None); TypeError for another object."""
    if functions is not None:
        warnings.warn("`functions=` is deprecated; pass a keras_iml.TraceCache as `cache=`.",
                      DeprecationWarning, stacklevel=3)
        if isinstance(functions, dict):  # the old dict store: keep a cache inside it
            functions = functions.setdefault("keras_iml.trace_cache", TraceCache())
        cache = cache if cache is not None else functions
    if cache is None:
        cache = default() if default is not None else TraceCache()
    if not isinstance(cache, TraceCache):
        raise TypeError(f"`cache` must be a keras_iml.TraceCache or None. Received: {type(cache).__name__}")
    return cache
