"""Translators from Keras 1/2 layer configs to Keras 3 layers, and their weight layouts.

Each translator takes a legacy layer config and returns a :class:`Translated`: the
Keras 3 layer and a function that turns the legacy weight arrays (in stored order,
with their stored names) into the Keras 3 layer's weights. Translators are looked up
in ``TRANSLATORS`` by class name. Nothing here evaluates code from a model file:
Lambda layers, ``Merge`` layers with a function mode and unknown activations are
refused with :class:`~keras_iml.zoo.sources.errors.UnsupportedLayerError`.
"""

import dataclasses

import numpy as np

import keras
from keras_iml.zoo.sources.errors import UnsupportedLayerError

__all__ = ["TRANSLATORS", "Translated", "legacy_hard_sigmoid", "translate", "refuse_code"]


@keras.saving.register_keras_serializable(package="keras_iml")
def legacy_hard_sigmoid(x):
    """Keras 1/2 ``hard_sigmoid``: ``clip(0.2 x + 0.5, 0, 1)`` (Keras 3's is x/6 + 0.5)."""
    return keras.ops.clip(0.2 * x + 0.5, 0.0, 1.0)


_ACTIVATIONS = {
    None: "linear", "linear": "linear", "relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh",
    "softmax": "softmax", "softplus": "softplus", "softsign": "softsign", "elu": "elu",
    "selu": "selu", "exponential": "exponential", "hard_sigmoid": legacy_hard_sigmoid,
}


@dataclasses.dataclass
class Translated:
    """A Keras 3 layer and the converter of its legacy weights."""

    layer: keras.layers.Layer
    convert: object = None  # callable(arrays, names) -> list of arrays, or None (no weights)


def _activation(name, layer_name):
    if isinstance(name, dict):
        name = name.get("config", {}).get("name") if name.get("class_name") == "function" else name
    if name not in _ACTIVATIONS:
        raise UnsupportedLayerError(
            f"Layer {layer_name!r} uses activation {name!r}, which is not a built-in Keras "
            "activation; keras_iml does not execute custom functions from model files."
        )
    return _ACTIVATIONS[name]


def _get(cfg, *keys, default=None):
    for key in keys:
        if key in cfg:
            return cfg[key]
    return default


def _one(value):
    return value[0] if isinstance(value, (list, tuple)) else value


def _padding(cfg):
    pad = _get(cfg, "padding", "border_mode", default="valid")
    if pad not in ("valid", "same", "causal"):
        raise UnsupportedLayerError(f"Layer {cfg.get('name')!r}: padding {pad!r} is not supported.")
    return pad


def _identity(arrays, names):  # noqa: ARG001
    return list(arrays)


def refuse_code(cfg, class_name, layer_name):
    """Raises if a config holds serialized Python code (Lambda, function modes)."""
    if class_name == "Lambda":
        raise UnsupportedLayerError(
            f"Layer {layer_name!r} is a Lambda layer: it holds serialized Python code, which "
            "keras_iml never executes. Use a family builder (keras_iml.zoo) for this model."
        )
    if isinstance(cfg, dict):
        for key in ("function", "function_type", "output_shape_type", "mode_type"):
            value = cfg.get(key)
            if key in ("output_shape_type", "mode_type") and value in (None, "raw"):
                continue
            if value is not None:
                raise UnsupportedLayerError(
                    f"Layer {layer_name!r} ({class_name}) holds serialized code in its "
                    f"config ({key!r}); keras_iml never executes code from a model file."
                )
        for value in cfg.values():
            if isinstance(value, dict) and "class_name" in value:
                refuse_code(value.get("config", {}), value["class_name"], layer_name)


# -- layers with weights ------------------------------------------------------------

def _dense(cfg, ctx):
    name = cfg["name"]
    layer = keras.layers.Dense(
        int(_get(cfg, "units", "output_dim")), activation=_activation(cfg.get("activation"), name),
        use_bias=bool(_get(cfg, "use_bias", "bias", default=True)), name=name)
    return Translated(layer, _identity)


def _conv1d(cfg, ctx):
    name = cfg["name"]
    layer = keras.layers.Conv1D(
        int(_get(cfg, "filters", "nb_filter")), int(_one(_get(cfg, "kernel_size", "filter_length"))),
        strides=int(_one(_get(cfg, "strides", "subsample_length", default=1))),
        padding=_padding(cfg),
        dilation_rate=int(_one(_get(cfg, "dilation_rate", "atrous_rate", default=1))),
        activation=_activation(cfg.get("activation"), name),
        use_bias=bool(_get(cfg, "use_bias", "bias", default=True)), name=name)

    def convert(arrays, names):  # noqa: ARG001
        kernel = np.asarray(arrays[0])
        if kernel.ndim == 4:  # Keras 1: (filter_length, 1, input_dim, nb_filter)
            kernel = kernel[:, 0]
        if ctx.get("theano_kernels"):
            kernel = kernel[::-1]  # Theano convolves (flipped kernel); TF cross-correlates
        return [np.ascontiguousarray(kernel)] + list(arrays[1:])

    return Translated(layer, convert)


def _batchnorm(cfg, ctx):  # noqa: ARG001
    name = cfg["name"]
    if int(cfg.get("mode", 0)) != 0:
        raise UnsupportedLayerError(f"Layer {name!r}: Keras-1 BatchNormalization mode "
                                    f"{cfg.get('mode')} is not supported (only mode 0).")
    axis = _one(cfg.get("axis", -1))
    layer = keras.layers.BatchNormalization(
        axis=int(axis), momentum=float(cfg.get("momentum", 0.99)),
        epsilon=float(cfg.get("epsilon", 1e-3)), center=bool(cfg.get("center", True)),
        scale=bool(cfg.get("scale", True)), name=name)
    return Translated(layer, _identity)  # gamma, beta, mean, variance (Keras 1 "running_std" is a variance)


_GATES = {"LSTM": ("i", "f", "c", "o"), "GRU": ("z", "r", "h")}


def _recurrent(cfg, ctx, class_name):
    name = cfg["name"]
    if cfg.get("stateful"):
        raise UnsupportedLayerError(f"Layer {name!r}: stateful recurrent layers are not supported.")
    kwargs = dict(
        units=int(_get(cfg, "units", "output_dim")),
        activation=_activation(cfg.get("activation", "tanh"), name),
        recurrent_activation=_activation(
            _get(cfg, "recurrent_activation", "inner_activation", default="hard_sigmoid"), name),
        use_bias=bool(_get(cfg, "use_bias", "bias", default=True)),
        return_sequences=bool(cfg.get("return_sequences", False)),
        go_backwards=bool(cfg.get("go_backwards", False)), name=name)
    if class_name == "GRU":
        kwargs["reset_after"] = bool(cfg.get("reset_after", False))
    layer = getattr(keras.layers, class_name)(**kwargs)
    gates = _GATES[class_name]

    def convert(arrays, names):
        if len(arrays) == 3 * len(gates):  # Keras 1: W_g, U_g, b_g per gate
            by_name = {"_".join(str(n).split("_")[-2:]): a for n, a in zip(names, arrays)}
            try:
                return [np.concatenate([by_name[f"{kind}_{g}"] for g in gates], axis=-1)
                        for kind in ("W", "U", "b")]
            except KeyError:
                raise ValueError(
                    f"Layer {name!r}: cannot match Keras-1 {class_name} weights to gates. "
                    f"Received names: {list(names)}") from None
        return list(arrays)

    return Translated(layer, convert)


def _lstm(cfg, ctx):
    return _recurrent(cfg, ctx, "LSTM")


def _gru(cfg, ctx):
    return _recurrent(cfg, ctx, "GRU")


def _inner(cfg, ctx):
    inner = cfg["layer"]
    inner_cfg = dict(inner["config"])
    return translate(inner["class_name"], inner_cfg, ctx)


#: Layers that, on a ``(N, T, C)`` input, already act on each step alone: wrapped in a
#: ``TimeDistributed`` they are translated to themselves.
_STEPWISE = ("Dense", "Activation", "Dropout")


def _time_distributed(cfg, ctx):
    """``TimeDistributed(inner)``; ``TimeDistributed(Dense)`` becomes a plain ``Dense``.

    Keras 3's ``Dense`` on a ``(N, T, C)`` tensor multiplies the last axis, which is
    what ``TimeDistributed(Dense)`` computes, in one matmul. Keras 3's
    ``TimeDistributed`` instead vectorises a loop over the steps: FactorNet's
    ``TimeDistributed(Dense)`` over 969 steps then needed about 0.5 GB per sequence
    for a gradient (and 24 GB for integrated gradients on one sequence).
    """
    inner = _inner(cfg, ctx)
    if cfg["layer"]["class_name"] in _STEPWISE:
        config = dict(inner.layer.get_config(), name=cfg["name"])
        return Translated(type(inner.layer).from_config(config), inner.convert)
    return Translated(keras.layers.TimeDistributed(inner.layer, name=cfg["name"]), inner.convert)


def _bidirectional(cfg, ctx):
    inner = _inner(cfg, ctx)
    merge = cfg.get("merge_mode", "concat")
    layer = keras.layers.Bidirectional(inner.layer, merge_mode=merge, name=cfg["name"])

    def convert(arrays, names):
        half = len(arrays) // 2
        return (inner.convert(arrays[:half], names[:half])
                + inner.convert(arrays[half:], names[half:]))

    return Translated(layer, convert)


# -- layers without weights ---------------------------------------------------------

def _simple(factory):
    def translator(cfg, ctx):  # noqa: ARG001
        return Translated(factory(cfg))
    return translator


def _pool(kind):
    def factory(cfg):
        size = int(_one(_get(cfg, "pool_size", "pool_length", default=2)))
        strides = _one(_get(cfg, "strides", "stride", default=None)) or size
        return getattr(keras.layers, kind)(size, strides=int(strides), padding=_padding(cfg),
                                           name=cfg["name"])
    return factory


_MERGE_MODES = {"sum": "Add", "mul": "Multiply", "ave": "Average", "max": "Maximum"}


def _merge(cfg):
    mode = cfg.get("mode", "sum")
    if mode == "concat":
        return keras.layers.Concatenate(axis=int(cfg.get("concat_axis", -1)), name=cfg["name"])
    if mode not in _MERGE_MODES:
        raise UnsupportedLayerError(f"Layer {cfg['name']!r}: Merge mode {mode!r} is not supported.")
    return getattr(keras.layers, _MERGE_MODES[mode])(name=cfg["name"])


def _pair(value):
    """A Keras 1/2 ``cropping``: one int for both ends, or a pair."""
    return (value, value) if isinstance(value, int) else tuple(value)


def _dropout(cfg):
    return keras.layers.Dropout(float(_get(cfg, "rate", "p", default=0.0)), name=cfg["name"])


TRANSLATORS = {
    "Dense": _dense,
    "Conv1D": _conv1d,
    "Convolution1D": _conv1d,
    "BatchNormalization": _batchnorm,
    "LSTM": _lstm,
    "GRU": _gru,
    "TimeDistributed": _time_distributed,
    "Bidirectional": _bidirectional,
    "MaxPooling1D": _simple(_pool("MaxPooling1D")),
    "MaxPool1D": _simple(_pool("MaxPooling1D")),
    "AveragePooling1D": _simple(_pool("AveragePooling1D")),
    "AvgPool1D": _simple(_pool("AveragePooling1D")),
    "GlobalMaxPooling1D": _simple(lambda c: keras.layers.GlobalMaxPooling1D(name=c["name"])),
    "GlobalAveragePooling1D": _simple(lambda c: keras.layers.GlobalAveragePooling1D(name=c["name"])),
    "Flatten": _simple(lambda c: keras.layers.Flatten(name=c["name"])),
    "Dropout": _simple(_dropout),
    "SpatialDropout1D": _simple(_dropout),
    "Activation": _simple(lambda c: keras.layers.Activation(
        _activation(c.get("activation"), c["name"]), name=c["name"])),
    "Reshape": _simple(lambda c: keras.layers.Reshape(tuple(c["target_shape"]), name=c["name"])),
    "Permute": _simple(lambda c: keras.layers.Permute(tuple(c["dims"]), name=c["name"])),
    "Cropping1D": _simple(lambda c: keras.layers.Cropping1D(
        tuple(int(v) for v in _pair(c.get("cropping", (1, 1)))), name=c["name"])),
    "Merge": _simple(_merge),
    "Concatenate": _simple(lambda c: keras.layers.Concatenate(axis=int(c.get("axis", -1)),
                                                              name=c["name"])),
    "Add": _simple(lambda c: keras.layers.Add(name=c["name"])),
    "Average": _simple(lambda c: keras.layers.Average(name=c["name"])),
    "Multiply": _simple(lambda c: keras.layers.Multiply(name=c["name"])),
    "Maximum": _simple(lambda c: keras.layers.Maximum(name=c["name"])),
}


def translate(class_name, cfg, ctx):
    """The Keras 3 translation of one legacy layer config.

    Args:
        class_name: the legacy class name.
        cfg: its config dict (must contain ``name``).
        ctx: options, e.g. ``{"theano_kernels": True}``.

    Returns:
        A :class:`Translated`.
    """
    name = cfg.get("name", "?")
    refuse_code(cfg, class_name, name)
    if class_name not in TRANSLATORS:
        raise UnsupportedLayerError(
            f"Layer {name!r} has class {class_name!r}, which keras_iml cannot translate to "
            f"Keras 3. Supported classes: {sorted(TRANSLATORS)}"
        )
    return TRANSLATORS[class_name](cfg, ctx)
