"""Layer analysis for fast ISM: which layers of a model are *local*, and how they map windows.

A layer is local when output position ``j`` depends only on a fixed window of input
positions ``[j*s - pad_left, j*s - pad_left + span)``: convolutions, pooling, and
position-wise layers (activations, batch/layer normalization, dropout at inference,
Dense applied on the channel axis). Fast ISM recomputes only the window a mutation
reaches through the leading local layers of a model (see :mod:`._fast_ism`).

Only layers whose class is exactly one of the known Keras classes are local: a user
subclass could override ``call``, so it is treated as unknown (the rest of the model
then runs in full on the spliced feature map, which is always correct).
"""

import numpy as np

import keras

__all__ = ["local_spec", "same_padding"]

# Position-wise whatever their configuration (at inference).
_POSITIONWISE = (
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.ELU,
    keras.layers.Dropout,
    keras.layers.SpatialDropout1D,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
    keras.layers.ActivityRegularization,
    keras.layers.Identity,
    keras.layers.Rescaling,
    keras.layers.Dense,  # on a rank-3 input it acts on the channel axis only
)
# Position-wise when they act on the channel axis only.
_CHANNEL_AXIS = (
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.Softmax,
)


def same_padding(length, span, stride):
    """TensorFlow's "SAME" padding: ``(pad_left, pad_right, out_length)``."""
    out = -(-length // stride)
    total = max((out - 1) * stride + span - length, 0)
    return total // 2, total - total // 2, out


def _axis_is_channels(layer):
    axis = layer.axis
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    return len(axes) == 1 and axes[0] in (-1, 2)


def local_spec(layer, in_shape, out_shape):
    """How a layer maps windows, or None when it is not local.

    Args:
        layer: a Keras layer.
        in_shape, out_shape: its input and output shapes (traced on a real batch).

    Returns:
        None; ``{"kind": "pointwise"}``; or for a windowed layer a dict with
        ``kind`` ("conv", "max", "avg"), ``span``, ``stride``, ``dilation``,
        ``pad_left``, ``pad_right``, ``pad_value`` and ``out_length``.
    """
    if len(in_shape) != 3 or len(out_shape) != 3:
        return None
    if getattr(layer, "compute_dtype", "float32") != "float32":
        return None
    kind = type(layer)
    if kind in _POSITIONWISE or (kind in _CHANNEL_AXIS and _axis_is_channels(layer)):
        return {"kind": "pointwise"} if in_shape[1] == out_shape[1] else None
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        return None
    if kind is keras.layers.Conv1D:
        if layer.groups != 1:
            return None
        dilation = int(layer.dilation_rate[0])
        spec = {"kind": "conv", "stride": int(layer.strides[0]), "dilation": dilation,
                "span": dilation * (int(layer.kernel_size[0]) - 1) + 1, "pad_value": 0.0}
    elif kind in (keras.layers.MaxPooling1D, keras.layers.AveragePooling1D):
        is_max = kind is keras.layers.MaxPooling1D
        spec = {"kind": "max" if is_max else "avg", "stride": int(layer.strides[0]),
                "dilation": 1, "span": int(layer.pool_size[0]),
                "pad_value": -np.inf if is_max else 0.0}
    else:
        return None
    length, span, stride = int(in_shape[1]), spec["span"], spec["stride"]
    if layer.padding == "valid":
        left, right, out = 0, 0, (length - span) // stride + 1
    elif layer.padding == "same":
        left, right, out = same_padding(length, span, stride)
    elif layer.padding == "causal" and spec["kind"] == "conv":
        left, right = span - 1, 0
        out = (length - 1) // stride + 1
    else:
        return None
    if out != out_shape[1] or out < 1:  # geometry not understood: treat as non-local
        return None
    spec.update(pad_left=left, pad_right=right, out_length=out, in_length=length,
                padding=layer.padding)
    return spec
