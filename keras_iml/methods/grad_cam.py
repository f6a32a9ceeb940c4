"""Grad-CAM (Selvaraju et al. 2017) for 1-D convolutional sequence models.

Native because tf-explain's ``GradCAM`` only runs with an explicit ``layer_name`` and
returns an image-shaped heat map (no mapping of a ``valid`` convolution's
positions back onto the sequence), and xplique's GradCAM does not run
on ``(N, L, 4)`` inputs. Here the class-activation map of a Conv1D layer is mapped
back to the ``L`` input positions through the receptive-field centres of its
positions, computed from the layers' kernel sizes, strides, dilations and padding.
"""

import numpy as np

import keras
from keras_iml.methods.base import AttributionMethod, register
from keras_iml.methods.integrated_gradients import check_positive_int

__all__ = ["GradCAM", "conv_layers", "position_centres"]

_CONV = (keras.layers.Conv1D, keras.layers.SeparableConv1D, keras.layers.DepthwiseConv1D)
_POOL = (keras.layers.MaxPooling1D, keras.layers.AveragePooling1D)


def _explained(model):
    unwrap = getattr(model, "_iml_explained_model", None)
    return unwrap() if unwrap is not None else model


def _graph_layers(model):
    """The model's layers, or a ValueError for models without a layer graph."""
    try:
        inputs = model.inputs
    except AttributeError:
        inputs = None
    if not inputs:
        raise ValueError(
            "grad_cam needs a Sequential or functional model (it reads an intermediate "
            "layer's output); subclassed models have no layer graph. Received: model of "
            f"type {type(model).__name__}"
        )
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def conv_layers(model):
    """Names of the model's 1-D convolution layers, in order."""
    return [layer.name for layer in _graph_layers(_explained(model)) if isinstance(layer, _CONV)]


def _find_layer(model, name):
    layers = _graph_layers(model)
    convs = [layer.name for layer in layers if isinstance(layer, _CONV)]
    if name is None:
        if not convs:
            raise ValueError(
                "grad_cam found no Conv1D layer in the model; name a layer with a 3-D "
                f"output (N, L', C) with `layer`. Received: layer=None; layers: "
                f"{[layer.name for layer in layers]}"
            )
        name = convs[-1]
    if not isinstance(name, str):
        raise ValueError(f"`layer` must be a layer name or None. Received: layer={name!r}")
    match = [layer for layer in layers if layer.name == name]
    if not match:
        raise ValueError(
            f"`layer` {name!r} is not a layer of the model. Conv layers: {convs}. "
            f"Received: layer={name!r}"
        )
    layer = match[0]
    shape = getattr(layer.output, "shape", None)
    if shape is None or len(shape) != 3:
        raise ValueError(
            f"`layer` must have a 3-D output (N, L', C). Received: layer={name!r} with "
            f"output shape {shape}; conv layers: {convs}"
        )
    return layer


def _geometry(layer, n):
    """``(a, b, out_len)``: output j of ``layer`` is centred on input ``a + b * j``."""
    if isinstance(layer, _CONV):
        k, s = layer.kernel_size[0], layer.strides[0]
        eff = layer.dilation_rate[0] * (k - 1) + 1
        padding = layer.padding
    elif isinstance(layer, _POOL):
        eff, s, padding = layer.pool_size[0], layer.strides[0], layer.padding
    elif isinstance(layer, keras.layers.Cropping1D):
        left, right = layer.cropping
        return float(left), 1.0, n - left - right
    elif isinstance(layer, keras.layers.ZeroPadding1D):
        left, right = layer.padding
        return -float(left), 1.0, n + left + right
    else:
        return 0.0, 1.0, None  # length-preserving, checked by the caller
    if padding == "valid":
        return (eff - 1) / 2, float(s), (n - eff) // s + 1
    out = -(-n // s)
    if padding == "causal":
        return -(eff - 1) / 2, float(s), out
    pad_left = max((out - 1) * s + eff - n, 0) // 2
    return (eff - 1) / 2 - pad_left, float(s), out


def position_centres(model, layer, length, out_length):
    """Input positions on which the ``out_length`` outputs of ``layer`` are centred.

    Walks the chain of layers from the input to ``layer`` composing their
    receptive-field geometry (convolutions, pooling, cropping, padding; other
    layers must preserve the length). For graphs that are not a simple chain, or
    lengths that do not add up, the positions are spread evenly over the input.

    Returns:
        float array ``(out_length,)``, increasing.
    """
    fallback = (np.arange(out_length) + 0.5) * length / out_length - 0.5
    offset, stride, n = 0.0, 1.0, length
    prev = model.inputs[0] if len(model.inputs) == 1 else None
    for current in _graph_layers(model):
        try:
            chained = prev is not None and current.input is prev
        except (AttributeError, ValueError):
            chained = False
        if not chained:
            return fallback
        a, b, out = _geometry(current, n)
        if out is None:
            out = current.output.shape[1] if current.output.shape[1] is not None else n
            if out != n:
                return fallback
        offset, stride, n = offset + stride * a, stride * b, out
        prev = current.output
        if current is layer:
            break
    return offset + stride * np.arange(out_length) if n == out_length else fallback


def _upsample(cam, centres, length):
    """Linear interpolation of ``cam`` ``(B, L')`` from ``centres`` onto ``0..L-1``."""
    basis = np.eye(len(centres), dtype=np.float64)
    grid = np.arange(length, dtype=np.float64)
    weights = np.stack([np.interp(grid, centres, row) for row in basis])  # (L', L)
    return (cam.astype(np.float64) @ weights).astype(np.float32)


def _as_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def _head(model, function):
    """Output tensors to expose beside the layer, and a function mapping them to raw outputs."""
    if not function.logit:
        return list(model.outputs), lambda outs: outs[0] if len(outs) == 1 else list(outs)
    last = model.layers[-1]
    if isinstance(last, keras.layers.Activation):
        return [last.input], lambda outs: outs[0]
    if isinstance(last, keras.layers.Dense):

        def logits(outs):
            z = keras.ops.matmul(outs[0], last.kernel)
            return z + last.bias if last.use_bias else z

        return [last.input], logits
    raise ValueError(
        "grad_cam with `logit=True` needs a final Dense or Activation layer. Received: "
        f"last layer {last.name!r} of type {type(last).__name__}"
    )


@register("grad_cam")
class GradCAM(AttributionMethod):
    """Grad-CAM map of a 1-D convolution layer, upsampled to the input length.

    With activations ``A`` ``(L', C)`` of ``layer``, the channel weights are the
    position-averaged gradients ``w_c = mean_j d f / d A[j, c]`` and the map is
    ``cam = relu(sum_c w_c A[:, c])``. Output position ``j`` is placed at the centre
    of its receptive field (``valid`` convolutions and pooling shift and stretch the
    positions) and the map is linearly interpolated onto the ``L`` input positions.
    ``values = cam * x`` (non-zero only at observed bases) and ``hypothetical`` is
    ``cam`` on every base. ``gradient_correction`` does not apply (the gradient is
    taken with respect to the activations, not the one-hot input).

    Works for Sequential and functional models (it builds a model exposing the
    layer's output beside the model's outputs; the user's model is not changed);
    subclassed models raise a ValueError. ``logit=True`` is supported when the last
    layer is a Dense or Activation layer with sigmoid/softmax.

    Args:
        layer: name of the layer (any layer with a 3-D output); None picks the last
            Conv1D layer.
        chunk_size: sequences per compiled call.

    Example:
        >>> keras_iml.explain(model, x, "grad_cam", layer="conv1d_1").values
    """

    def __init__(self, layer=None, chunk_size=256):
        self.layer = layer
        self.chunk_size = chunk_size

    def check_params(self, function):
        check_positive_int(self.chunk_size, "chunk_size")
        if function.aux_names:
            raise ValueError(
                "grad_cam does not explain models with auxiliary inputs. "
                f"Received: a model with inputs {function.aux_names} besides the DNA"
            )
        model = _explained(function.model)
        _find_layer(model, self.layer)
        _head(model, function)

    def _cam_function(self, function):
        """A compiled ``x -> cam (B, L')``, kept on the ModelFunction (traced once).

        The model is split at the layer (``features`` up to it, ``head`` from it to the
        outputs) when the layer feeds the outputs through a chain; the gradient at the
        activations is then the gradient of ``head`` (any backend). Otherwise (skip
        connections around the layer) a model exposing both the activations and the
        outputs is differentiated at the activations (TensorFlow and PyTorch).
        """
        model = _explained(function.model)
        layer = _find_layer(model, self.layer)

        def build():
            ops, backend = keras.ops, function.backend
            head_outputs, to_raw = _head(model, function)
            try:
                features = keras.Model(model.inputs, layer.output)
                head = keras.Model(layer.output, head_outputs)
            except ValueError:
                features = head = None
            if head is not None:
                grad_of = backend.value_and_grad(lambda a: function.select(to_raw(_as_list(head(a)))))

                def activations_and_grad(x):
                    activation = features(x, training=False)
                    return activation, grad_of(activation)[1]
            else:
                probe = keras.Model(model.inputs, [layer.output, *head_outputs])

                def forward(x):
                    outs = probe(x, training=False)
                    return outs[0], function.select(to_raw(list(outs[1:])))

                def activations_and_grad(x):
                    return backend.intermediate_grad(forward, x)

            def cam_fn(x):
                activation, grad = activations_and_grad(x)
                weights = ops.mean(grad, axis=1, keepdims=True)
                return ops.relu(ops.sum(weights * activation, axis=-1))

            return function.compile(cam_fn, [((None, None, 4), "float32")])

        return function.compiled(("keras_iml.grad_cam", layer.name), build), model, layer

    def attribute(self, function, x, rngs):
        cam_fn, model, layer = self._cam_function(function)
        cam = function.batched(cam_fn, x, self.chunk_size)
        centres = position_centres(model, layer, x.shape[1], cam.shape[1])
        cam = _upsample(cam, centres, x.shape[1])
        return {
            "values": cam[:, :, None] * x,
            "hypothetical": np.repeat(cam[:, :, None], 4, axis=-1),
        }
