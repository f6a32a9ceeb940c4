"""`keras_iml.wrap(model)` and `IMLMixin`: Keras models with `.explain()` and `.validate()`."""

import keras

from keras_iml.explain import explain as _explain
from keras_iml.explainer import TraceCache
from keras_iml.validation import validate as _validate

__all__ = ["IMLMixin", "IMLModel", "wrap"]


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
        return self.iml_cache.explainer(self._iml_explained_model(), target=target, **kwargs)

    def explain(self, x, method="saliency", **kwargs):
        """Attributions for ``x``; see :func:`keras_iml.explain` for the arguments."""
        kwargs.setdefault("alphabet", self.alphabet)
        kwargs.setdefault("cache", self.iml_cache)
        return _explain(self._iml_explained_model(), x, method, **kwargs)

    def validate(self, x, y=None, **kwargs):
        """Tiered validation of explanations; see :func:`keras_iml.validate` for the arguments."""
        kwargs.setdefault("alphabet", self.alphabet)
        kwargs.setdefault("cache", self.iml_cache)
        return _validate(self._iml_explained_model(), x, y, **kwargs)


@keras.saving.register_keras_serializable(package="keras_iml")
class IMLModel(IMLMixin, keras.Model):
    """A Keras model that delegates ``call`` to a wrapped model and adds explanations.

    The wrapped model is used as it is (weights shared, nothing modified), so
    ``predict``, ``evaluate`` and saving to ``.keras`` work as before.

    Args:
        model: the Keras model to wrap.
        alphabet: column order of its one-hot encoding.
        metadata: optional JSON-serializable dict (e.g. a zoo model's TF names).
    """

    def __init__(self, model, alphabet="ACGT", metadata=None, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        self.alphabet = alphabet
        self.metadata = dict(metadata or {})

    def _iml_explained_model(self):
        return self.model

    def call(self, inputs, training=False):
        return self.model(inputs, training=training)

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
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"])
        return cls(**config)


def wrap(model, *, alphabet="ACGT", metadata=None):
    """Wraps a Keras model so that it gains ``.explain()`` and ``.validate()``.

    Args:
        model: a Sequential, functional or subclassed Keras model taking one-hot DNA
            ``(N, L, 4)``.
        alphabet: column order of the one-hot encoding.
        metadata: optional dict kept with the model.

    Returns:
        An :class:`IMLModel`.

    Example:
        >>> iml = keras_iml.wrap(model)
        >>> attr = iml.explain(x, "integrated_gradients")
    """
    if isinstance(model, IMLModel):
        return model
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"`model` must be a keras.Model. Received: model of type {type(model).__name__}"
        )
    if len(alphabet) != 4:
        raise ValueError(f"`alphabet` must have 4 letters. Received: alphabet={alphabet!r}")
    wrapped = IMLModel(model, alphabet=alphabet, metadata=metadata, name=f"iml_{model.name}")
    if model.built:
        wrapped.built = True
    return wrapped
