"""`ModelPool`: one Keras model per architecture, reused across the models of a batch.

A zoo family has many models and few architectures (683 DeepBind TF models come in
13 variants). Tracing and optimising the graphs of every attribution method takes
seconds per model, far longer than explaining 16 short sequences with a small
model, so a batch worker keeps one model object per architecture: the next model
of that architecture has its weights copied in with ``set_weights``, and the
compiled functions kept in the architecture's :class:`keras_iml.TraceCache` (passed
to :func:`keras_iml.validate`) run again without tracing. The pool is an explicit
object owned by the worker loop; nothing is global.
"""

import collections
import json

import numpy as np

import keras
from keras_iml.trace_cache import TraceCache

__all__ = ["ModelPool", "architecture_key"]


def _layer_names(config):
    names = []
    for entry in config.get("layers", []) or []:
        if isinstance(entry, dict):
            name = entry.get("name") or (entry.get("config") or {}).get("name")
            if isinstance(name, str) and name not in names:
                names.append(name)
    return names


def _rename(value, mapping):
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, dict):
        return {k: _rename(v, mapping) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rename(v, mapping) for v in value]
    return value


def architecture_key(model):
    """A string that is equal for two models exactly when their architecture is.

    The model's config without its own name, with layer names replaced by their
    position (automatic names such as ``conv1d_7`` differ between two builds of one
    architecture; the wiring they describe does not), plus the shapes and dtypes of
    the weights.

    Raises:
        ValueError: the model has no serialisable config.
    """
    try:
        config = dict(model.get_config())
    except Exception as err:  # noqa: BLE001 - e.g. subclassed models without get_config
        raise ValueError(f"The model has no config to compare architectures: {err}") from err
    config.pop("name", None)
    mapping = {name: f"<layer {i}>" for i, name in enumerate(_layer_names(config))}
    weights = [(tuple(w.shape), str(np.dtype(w.dtype))) for w in model.get_weights()]
    return json.dumps([type(model).__name__, _rename(config, mapping), weights], sort_keys=True,
                      default=str)


class ModelPool:
    """Keeps one model (and its compiled functions) per architecture.

    Args:
        max_architectures: architectures kept at once; the least recently used
            one (its model and compiled functions) is dropped beyond that.

    Example:
        >>> pool = ModelPool()
        >>> for name in names:
        ...     model, cache = pool.adopt(keras_iml.zoo.load(name).model)
        ...     keras_iml.validate(model, x, cache=cache)
    """

    def __init__(self, max_architectures=16):
        if isinstance(max_architectures, bool) or not isinstance(max_architectures, int) \
                or max_architectures < 1:
            raise ValueError("`max_architectures` must be a positive int. "
                             f"Received: max_architectures={max_architectures!r}")
        self.max_architectures = max_architectures
        self._entries = collections.OrderedDict()

    def __len__(self):
        return len(self._entries)

    def adopt(self, model):
        """Returns ``(pooled_model, cache)`` computing what ``model`` computes.

        The pool holds its own copy of the first model of an architecture
        (``keras.models.clone_model``); every model adopted later has its weights
        copied into that copy. ``model`` itself is never modified. A model that
        cannot be compared or cloned is returned as it is, with a new cache.
        """
        try:
            key = architecture_key(model)
        except ValueError:
            return model, TraceCache()
        entry = self._entries.get(key)
        if entry is None:
            try:
                pooled = keras.models.clone_model(model)
            except Exception:  # noqa: BLE001 - not clonable: no reuse, still correct
                return model, TraceCache()
            entry = self._entries[key] = (pooled, TraceCache())
            while len(self._entries) > self.max_architectures:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        entry[0].set_weights(model.get_weights())
        return entry
