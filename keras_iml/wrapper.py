"""`keras_iml.wrap(model)` and `IMLMixin`: Keras models with `.explain()` and `.validate()`."""

from __future__ import annotations

import inspect
import re
from typing import Mapping, Sequence

import keras

from keras_iml.engine import graph as graph_lib
from keras_iml.engine import input_kinds, targets
from keras_iml.explanations import explain as _explain
from keras_iml.surrogate import distill as _distill
from keras_iml.trace_cache import TraceCache
from keras_iml.validation import validate as _validate

__all__ = ["IMLMixin", "IMLModel", "wrap"]


def _doc_from(function):
    """Gives a method the whole docstring of ``function``, whose ``model`` it supplies.

    The method's own docstring gives the summary; ``function``'s description, Args
    (less ``model``), Returns and Example follow, the example calling the method, so
    that ``help(iml.explain)`` shows every argument and stays in step with the function.
    """

    def decorate(method):
        own = inspect.cleandoc(method.__doc__ or "")
        text = inspect.cleandoc(function.__doc__ or "")
        body = text.split("\n", 1)[1] if "\n" in text else ""
        lines, skipping = [], False
        for line in body.splitlines():
            indent = len(line) - len(line.lstrip())
            if line.lstrip().startswith("model:"):
                skipping, model_indent = True, indent
                continue
            if skipping and (not line.strip() or indent > model_indent):
                if not line.strip():
                    skipping = False
                    lines.append(line)
                continue
            skipping = False
            lines.append(line)
        body = "\n".join(lines)
        name = function.__name__
        body = re.sub(rf"^( *)>>> (.*?)keras_iml\.{name}\(model, ",
                      rf"\1>>> iml = keras_iml.wrap(model)\n\1>>> \2iml.{name}(", body,
                      count=1, flags=re.MULTILINE)
        body = re.sub(rf"keras_iml\.{name}\(model, ", f"iml.{name}(", body)
        method.__doc__ = f"{own}\n{body}"
        return method

    return decorate


class IMLMixin:
    """Adds ``explain`` and ``validate`` to a Keras model class.

    Example:
        >>> class MyModel(keras_iml.IMLMixin, keras.Model):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.conv = keras.layers.Conv1D(8, 5, activation="relu")
        ...         self.pool = keras.layers.GlobalMaxPooling1D()
        ...         self.out = keras.layers.Dense(1)
        ...     def call(self, x):
        ...         return self.out(self.pool(self.conv(x)))
        >>> MyModel().explain(x, "saliency")
    """

    #: Column order of the one-hot encoding the model expects.
    alphabet = "ACGT"

    #: Names of the classes along the last axis of a per-position output ``(N, L, C)``
    #: (e.g. SpliceAI's ``("none", "acceptor", "donor")``), so that ``target=("donor", 5000)``
    #: reads; None: classes are given as ints.
    classes = None

    def _iml_named(self, kwargs):
        """``kwargs`` with a class name in ``target`` replaced by its index."""
        if self.classes is not None and kwargs.get("target") is not None:
            names = getattr(self._iml_explained_model(), "output_names", None) or ()
            kwargs["target"] = targets.name_classes(kwargs["target"], self.classes, names)
        return kwargs

    def _iml_explained_model(self):
        """The model whose outputs are explained (the wrapped one for IMLModel)."""
        return self

    @property
    def iml_cache(self):
        """The :class:`keras_iml.TraceCache` of this model's explainers.

        Like ``predict``, which keeps its compiled ``predict_function`` on the model,
        the compiled explain functions are kept on this object so that repeated calls
        are traced once; ``iml_cache.clear()`` drops them.
        """
        cache = self.__dict__.get("_iml_trace_cache")
        if cache is None:
            cache = TraceCache()
            object.__setattr__(self, "_iml_trace_cache", cache)  # not a tracked Keras attribute
        return cache

    def explainer(self, target=None, **kwargs):
        """The :class:`keras_iml.Explainer` of this model for ``target`` (kept in :attr:`iml_cache`)."""
        kwargs.setdefault("alphabet", self.alphabet)
        target = self._iml_named({"target": target})["target"]
        return self.iml_cache.explainer(self._iml_explained_model(), target=target, **kwargs)

    @_doc_from(_explain)
    def explain(self, x, method="saliency", **kwargs):
        """Attributions of this model's predictions for DNA (:func:`keras_iml.explain`).

        The arguments, return value and example are those of :func:`keras_iml.explain`
        (``help()`` shows them here), ``model`` being this model; ``alphabet`` defaults
        to the model's :attr:`alphabet` and ``cache`` to its :attr:`iml_cache`.
        """
        kwargs.setdefault("alphabet", self.alphabet)
        kwargs.setdefault("cache", self.iml_cache)
        return _explain(self._iml_explained_model(), x, method, **self._iml_named(kwargs))

    @_doc_from(_validate)
    def validate(self, x, y=None, **kwargs):
        """Validates this model's explanations over a whole dataset (:func:`keras_iml.validate`).

        The arguments, return value and example are those of :func:`keras_iml.validate`
        (``help()`` shows them here), ``model`` being this model; ``alphabet`` defaults
        to the model's :attr:`alphabet` and ``cache`` to its :attr:`iml_cache`.
        """
        kwargs.setdefault("alphabet", self.alphabet)
        kwargs.setdefault("cache", self.iml_cache)
        return _validate(self._iml_explained_model(), x, y, **self._iml_named(kwargs))

    @_doc_from(_distill)
    def distill(self, x=None, **kwargs):
        """Readable surrogates of this model and their fidelity per query library (:func:`keras_iml.distill`).

        The arguments, return value and example are those of :func:`keras_iml.distill`,
        ``model`` being this model; ``alphabet`` defaults to the model's :attr:`alphabet`
        and ``cache`` to its :attr:`iml_cache`.
        """
        kwargs.setdefault("alphabet", self.alphabet)
        kwargs.setdefault("cache", self.iml_cache)
        return _distill(self._iml_explained_model(), x, **self._iml_named(kwargs))


@keras.saving.register_keras_serializable(package="keras_iml")
class IMLModel(IMLMixin, keras.Model):
    """A Keras model that delegates ``call`` to a wrapped model and adds explanations.

    The wrapped model is used as it is (weights shared, nothing modified), so
    ``predict``, ``evaluate`` and saving to ``.keras`` work as before.

    Args:
        model: the Keras model to wrap.
        alphabet: column order of its one-hot encoding.
        metadata: optional JSON-serializable dict (e.g. a zoo model's TF names).
        tokens: for a model taking integer tokens ``(N, L)`` through an ``Embedding``,
            the token of each base in ``alphabet`` order, or a dict base -> token
            (default: token ``i`` is ``alphabet[i]``); see :mod:`keras_iml.engine.graph`.
    """

    def __init__(self, model, alphabet="ACGT", metadata=None, tokens=None, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        self.alphabet = alphabet
        self.metadata = dict(metadata or {})
        self.tokens = None if tokens is None else list(graph_lib.check_tokens(tokens, alphabet))

    @property
    def classes(self):
        """The class names of a per-position output: ``metadata["classes"]``, or None."""
        classes = self.metadata.get("classes")
        return None if classes is None else tuple(classes)

    def _iml_explained_model(self):
        """The wrapped model, or its one-hot equivalent for a token model (built once)."""
        explained = self.__dict__.get("_iml_explained")
        if explained is None:
            explained, _ = input_kinds.adapt(self.model, tokens=self.tokens)
            object.__setattr__(self, "_iml_explained", explained)  # not a tracked Keras attribute
        return explained

    def call(self, inputs, training=False):
        return self.model(inputs, training=training)

    # -- the wrapped model's own attributes, forwarded ---------------------------------------
    @property
    def inputs(self):
        """The wrapped model's input tensors."""
        return self.model.inputs

    @property
    def outputs(self):
        """The wrapped model's output tensors."""
        return self.model.outputs

    @property
    def input(self):
        return self.model.input

    @property
    def output(self):
        return self.model.output

    @property
    def input_shape(self):
        return self.model.input_shape

    @property
    def output_shape(self):
        return self.model.output_shape

    def get_layer(self, name=None, index=None):
        """A layer of the wrapped model, by name or index (:meth:`keras.Model.get_layer`).

        ``layers`` itself is left to Keras: ``.keras`` files store the weights under
        it (``iml.model.layers`` lists the wrapped model's layers).
        """
        return self.model.get_layer(name=name, index=index)

    def summary(self, *args, **kwargs):
        """The wrapped model's summary (:meth:`keras.Model.summary`)."""
        return self.model.summary(*args, **kwargs)

    def build(self, input_shape):
        if not self.model.built:
            self.model.build(input_shape)
        self.built = True

    def get_config(self):
        config = super().get_config()
        config.update(
            model=keras.saving.serialize_keras_object(self.model),
            alphabet=self.alphabet,
            metadata=self.metadata,
            tokens=self.tokens,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"])
        return cls(**config)


def wrap(model: keras.Model, *, alphabet: str = "ACGT", metadata: dict | None = None,
         tokens: Sequence[int] | Mapping[str, int] | None = None) -> IMLModel:
    """Wraps a Keras model so that it gains ``.explain()`` and ``.validate()``.

    Args:
        model: a Sequential, functional or subclassed Keras model taking one-hot DNA
            ``(N, L, 4)``, or integer tokens ``(N, L)`` feeding a
            ``keras.layers.Embedding`` (explained through its one-hot equivalent, so
            ``x`` is still DNA strings or one-hot; see :mod:`keras_iml.engine.graph`).
        alphabet: column order of the one-hot encoding.
        metadata: optional dict kept with the model.
        tokens: for a token model, the token of each base in ``alphabet`` order or a
            dict base -> token. Default: token ``i`` is ``alphabet[i]``.

    Returns:
        An :class:`IMLModel`.

    Raises:
        ValueError: the model's DNA input cannot be made one-hot (a 2-D input that
            does not feed an ``Embedding`` of at least 4 tokens).

    Example:
        >>> iml = keras_iml.wrap(model)
        >>> attr = iml.explain(x, "integrated_gradients")
        >>> iml = keras_iml.wrap(token_model, tokens={"A": 1, "C": 2, "G": 3, "T": 4})
    """
    if isinstance(model, IMLModel):
        return model
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"`model` must be a keras.Model. Received: model of type {type(model).__name__}"
        )
    if len(alphabet) != 4:
        raise ValueError(f"`alphabet` must have 4 letters. Received: alphabet={alphabet!r}")
    wrapped = IMLModel(model, alphabet=alphabet, metadata=metadata, tokens=tokens,
                       name=f"iml_{model.name}")
    wrapped._iml_explained_model()  # refuses a DNA input that cannot be made one-hot, now
    if model.built:
        wrapped.built = True
    return wrapped
