"""Grad-CAM (Selvaraju et al. 2017) for 1-D convolutional sequence models.

Native because tf-explain's ``GradCAM`` only runs with an explicit ``layer_name`` and
returns an image-shaped heat map (no mapping of a ``valid`` convolution's
positions back onto the sequence), and xplique's GradCAM does not run
on ``(N, L, 4)`` inputs. Here the class-activation map of a Conv1D layer is mapped
back to the ``L`` input positions through the receptive-field centres of its
positions, computed from the layers' kernel sizes, strides, dilations and padding.

The layer is found on the model's graph (:func:`keras_iml.engine.graph.graph_nodes`),
not through ``layer.input`` / ``layer.output`` (a layer's *first* call, which is not the
one in the model for a Sequential model rebuilt when loaded from ``.keras``): by
default the last convolution on the path from the input to the explained output,
looking inside nested models. The model is split at that call into ``features``
(input -> activations) and ``head`` ((input, activations) -> outputs; the input is
there for skip connections around the layer), slices of the user's graph that add
nothing to its layers (:class:`~keras_iml.engine.graph.GraphSlice`), so the
gradient at the activations is a plain gradient on every backend.
"""

import numpy as np

import keras
from keras_iml.engine.graph import GraphSlice, graph_nodes, logit_head, model_graph, producer
from keras_iml.methods.base import AttributionMethod, register
from keras_iml.methods.integrated_gradients import check_positive_int

__all__ = ["GradCAM", "conv_layers", "position_centres", "target_layer"]

_CONV = (keras.layers.Conv1D, keras.layers.SeparableConv1D, keras.layers.DepthwiseConv1D)
_POOL = (keras.layers.MaxPooling1D, keras.layers.AveragePooling1D)


def _explained(model):
    unwrap = getattr(model, "_iml_explained_model", None)
    return unwrap() if unwrap is not None else model


def _one(items):
    items = list(items)
    return items[0] if len(items) == 1 else items


def _graph(model):
    """``(inputs, outputs)`` of a model with a layer graph, else a ValueError."""
    graph = model_graph(model)
    if graph is None:
        raise ValueError(
            "grad_cam needs a Sequential or functional model (it reads an intermediate "
            "layer's output); subclassed models have no layer graph. Received: model of "
            f"type {type(model).__name__}"
        )
    return graph


def _nested(layer):
    """Whether ``layer`` is a model (or graph slice) whose own graph can be searched."""
    return model_graph(layer) is not None


def _sites(model, outputs=None, prefix=()):
    """Every call on the path from the input to ``outputs`` (default: all), inputs first.

    A site is a tuple of nodes, outermost first: ``(node,)`` for a layer of ``model``,
    ``(node_of_nested_model, ...)`` for a layer inside a nested model.
    """
    inputs, all_outputs = _graph(model)
    for node in graph_nodes(inputs, all_outputs if outputs is None else outputs):
        site = prefix + (node,)
        yield site
        if _nested(node.operation):
            yield from _sites(node.operation, None, site)


def _path_outputs(model, target, output_names):
    """The output tensors ``target`` reads, and how to name them in messages."""
    _, outputs = _graph(model)
    name = target[0] if isinstance(target, tuple) and len(target) in (2, 3) \
        and isinstance(target[0], str) else target
    if isinstance(name, str) and name in output_names and len(output_names) == len(outputs):
        return [outputs[list(output_names).index(name)]], f"output {name!r}"
    return outputs, "the model's output" if len(outputs) == 1 else "the model's outputs"


def _all_layers(model):
    """Every layer of the model, nested ones (and those of graph slices) included."""
    stack, seen = list(getattr(model, "layers", None) or []), []
    while stack:
        layer = stack.pop(0)
        seen.append(layer)
        stack.extend(getattr(layer, "layers", None) or getattr(layer, "path_layers", None) or [])
    return seen


def conv_layers(model):
    """Names of the 1-D convolution layers on the model's graph (nested ones too), inputs first."""
    names = [site[-1].operation.name for site in _sites(_explained(model))
             if isinstance(site[-1].operation, _CONV)]
    return list(dict.fromkeys(names))


def _find(model, layer, target=None, output_names=()):
    """The site of ``layer`` (a name, a layer or None: the last convolution) on the target's path."""
    outputs, desc = _path_outputs(model, target, output_names)
    sites = list(_sites(model, outputs))
    convs = list(dict.fromkeys(s[-1].operation.name for s in sites if isinstance(s[-1].operation, _CONV)))
    if layer is None:
        found = [s for s in sites if isinstance(s[-1].operation, _CONV)]
        if not found:
            raise ValueError(
                f"grad_cam found no Conv1D layer on the path to {desc}; name a layer with a "
                f"3-D output (N, L', C) with `layer`. Received: layer=None"
            )
        return found[-1], desc
    if isinstance(layer, keras.layers.Layer):
        found = [s for s in sites if s[-1].operation is layer]
        name = layer.name
    elif isinstance(layer, str):
        found = [s for s in sites if s[-1].operation.name == layer]
        name = layer
    else:
        raise ValueError(f"`layer` must be a layer name or None. Received: layer={layer!r}")
    if not found:
        if any(candidate.name == name for candidate in _all_layers(model)):
            raise ValueError(f"`layer` {name!r} does not feed {desc}. Conv layers on its path: "
                             f"{convs}. Received: layer={name!r}")
        raise ValueError(f"`layer` {name!r} is not a layer of the model. Conv layers: {convs}. "
                         f"Received: layer={name!r}")
    if len(found) > 1:
        raise ValueError(f"`layer` {name!r} is called {len(found)} times in the model (a shared "
                         f"layer); grad_cam needs a layer called once. Received: layer={name!r}")
    shape = tuple(found[0][-1].output_tensors[0].shape)
    if len(found[0][-1].output_tensors) != 1 or len(shape) != 3:
        raise ValueError(f"`layer` must have a 3-D output (N, L', C). Received: layer={name!r} with "
                         f"output shape {shape}; conv layers: {convs}")
    return found[0], desc


def target_layer(model, target=None, layer=None, output_names=None):
    """The layer Grad-CAM reads for ``target``: ``layer``, or the last convolution on its path.

    Args:
        model: a Sequential or functional model (nested models are searched).
        target: the explained target (an output name selects that output's path).
        layer: a layer name, or None.
        output_names: the model's output names (default ``model.output_names``).

    Raises:
        ValueError: no convolution on the path, an unknown layer or one that does not
            feed the target, a subclassed model.
    """
    model = _explained(model)
    names = output_names if output_names is not None else getattr(model, "output_names", ())
    return _find(model, layer, target, list(names or ()))[0][-1].operation


# -- receptive-field geometry ------------------------------------------------------------
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


def _chain_before(node, inputs):
    """The nodes from the graph's ``inputs`` to ``node`` (exclusive) when they form a chain, else None."""
    chain, current = [], node
    while True:
        if len(current.input_tensors) != 1:
            return None
        if any(current.input_tensors[0] is t for t in inputs):
            return chain[::-1]
        parents = current.parent_nodes
        if len(parents) != 1 or parents[0].is_input or len(parents[0].output_tensors) != 1:
            return None
        chain.append(parents[0])
        current = parents[0]


def _expand(nodes):
    """Nested models in a chain replaced by their own chain of nodes (None if not a chain)."""
    out = []
    for node in nodes:
        if not _nested(node.operation):
            out.append(node)
            continue
        inputs, outputs = model_graph(node.operation)
        last = producer(outputs[0], graph_nodes(inputs, outputs)) if len(outputs) == 1 else None
        inner = None if last is None else _chain_before(last, inputs)
        inner = None if inner is None else _expand(inner + [last])
        if inner is None:
            return None
        out.extend(inner)
    return out


def _site_chain(model, site):
    """The chain of nodes from the model's input to the site's layer (inclusive), or None."""
    chain, level = [], model
    for node in site:
        before = _chain_before(node, model_graph(level)[0])
        level = node.operation
        before = None if before is None else _expand(before)
        if before is None:
            return None
        chain.extend(before)
    return chain + [site[-1]]


def _centres(model, site, length, out_length):
    fallback = (np.arange(out_length) + 0.5) * length / out_length - 0.5
    chain = _site_chain(model, site)
    if chain is None:
        return fallback
    offset, stride, n = 0.0, 1.0, length
    for node in chain:
        a, b, out = _geometry(node.operation, n)
        if out is None:
            out = node.output_tensors[0].shape[1] if node.output_tensors[0].shape[1] is not None else n
            if out != n:
                return fallback
        offset, stride, n = offset + stride * a, stride * b, out
    return offset + stride * np.arange(out_length) if n == out_length else fallback


def position_centres(model, layer, length, out_length):
    """Input positions on which the ``out_length`` outputs of ``layer`` are centred.

    Walks the chain of layers from the input to ``layer`` on the model's graph
    (through nested models) composing their receptive-field geometry (convolutions,
    pooling, cropping, padding; other layers must preserve the length). For graphs
    that are not a simple chain, or lengths that do not add up, the positions are
    spread evenly over the input.

    Args:
        model: a Sequential or functional model.
        layer: a layer of it (or its name).
        length: the input length ``L``.
        out_length: the layer's output length ``L'``.

    Returns:
        float array ``(out_length,)``, increasing.
    """
    model = _explained(model)
    site, _ = _find(model, layer)
    return _centres(model, site, length, out_length)


# -- splitting the model at the layer ----------------------------------------------------------
def _split(model, site, logit):
    """``(features, head)`` of ``model`` at ``site``.

    ``features(h)`` gives the layer's activations and ``head(h, a)`` the model's
    outputs (a list, or the logits with ``logit``) with the activations replaced by
    ``a``; ``h`` is the list of the model's input values. The pieces are
    :class:`~keras_iml.engine.graph.GraphSlice` layers (nothing is added to the model).
    """
    inputs, outputs = _graph(model)
    node, rest = site[0], site[1:]
    final = producer(outputs[0], graph_nodes(inputs, outputs)) if logit and len(outputs) == 1 else None
    pre = None if not rest else GraphSlice(inputs, list(node.input_tensors))

    def inner_input(h):
        return keras.tree.flatten(pre(h, training=False))

    if rest and logit and node is final:  # the layer is inside the final nested model
        inner_features, inner_head = _split(node.operation, rest, True)
        return (lambda h: inner_features(inner_input(h)),
                lambda h, a: inner_head(inner_input(h), a))
    wanted, to_raw = logit_head(inputs, outputs) if logit else (outputs, lambda values: values)
    if not rest:
        activation = node.output_tensors[0]
        features = GraphSlice(inputs, activation)
        head = GraphSlice([*inputs, activation], list(wanted))
        return (lambda h: features(h, training=False),
                lambda h, a: to_raw(keras.tree.flatten(head([*h, a], training=False))))
    post = GraphSlice([*inputs, *node.output_tensors], list(wanted))
    inner_features, inner_head = _split(node.operation, rest, False)

    def head(h, a):
        inner_out = inner_head(inner_input(h), a)
        return to_raw(keras.tree.flatten(post([*h, *inner_out], training=False)))

    return lambda h: inner_features(inner_input(h)), head


def _upsample(cam, centres, length):
    """Linear interpolation of ``cam`` ``(B, L')`` from ``centres`` onto ``0..L-1``."""
    basis = np.eye(len(centres), dtype=np.float64)
    grid = np.arange(length, dtype=np.float64)
    weights = np.stack([np.interp(grid, centres, row) for row in basis])  # (L', L)
    return (cam.astype(np.float64) @ weights).astype(np.float32)


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

    Works for Sequential, functional and nested models, and models loaded from
    ``.keras`` (it reads slices of the model's graph; the user's model is not
    changed); subclassed models have no graph to read and raise a ValueError.
    ``logit=True`` is supported when the last layer is a Dense or Activation layer
    with sigmoid/softmax.

    Args:
        layer: name of the layer (any layer with a 3-D output on the path to the
            explained output, nested models included); None picks the last
            convolution on the path from the input to the explained output (for a
            multi-output model with ``target="name"``, the path to that output).
        chunk_size: sequences per compiled call.

    Example:
        >>> keras_iml.explain(model, x, "grad_cam", layer="conv1d_1").values
    """

    def __init__(self, layer=None, chunk_size=256):
        self.layer = layer
        self.chunk_size = chunk_size

    def _site(self, function):
        """``(model, site)`` of the layer on the explained output's path (found once per function)."""
        model = _explained(function.model)
        source = getattr(function, "source_model", model)
        names = list(getattr(source, "output_names", None) or ())
        layer = self.layer if self.layer is None or isinstance(self.layer, str) else id(self.layer)
        site = function.compiled(("keras_iml.grad_cam.site", layer),
                                 lambda: _find(model, self.layer, function.target, names)[0])
        return model, site

    def check_params(self, function):
        check_positive_int(self.chunk_size, "chunk_size")
        if function.aux_names:
            raise ValueError(
                "grad_cam does not explain models with auxiliary inputs. "
                f"Received: a model with inputs {function.aux_names} besides the DNA"
            )
        model, _ = self._site(function)
        if function.logit:
            logit_head(*_graph(model))

    def _cam_function(self, function):
        """A compiled ``x -> cam (B, L')``, kept on the ModelFunction (traced once)."""
        model, site = self._site(function)

        def build():
            ops, backend = keras.ops, function.backend
            features, head = _split(model, site, function.logit)
            to_raw = (lambda outs: outs) if function.logit else _one

            grad_of = backend.value_and_grad(lambda a, x: function.select(to_raw(head([x], a))))

            def cam_fn(x):
                activation = features([x])
                grad = grad_of(activation, x)[1]
                weights = ops.mean(grad, axis=1, keepdims=True)
                return ops.relu(ops.sum(weights * activation, axis=-1))

            return function.compile(cam_fn, [function.x_spec])

        key = ("keras_iml.grad_cam", tuple(node.operation.name for node in site))
        return function.compiled(key, build), model, site

    def attribute(self, function, x, rngs):
        cam_fn, model, site = self._cam_function(function)
        cam = function.batched(cam_fn, x, self.chunk_size)
        cam = _upsample(cam, _centres(model, site, x.shape[1], cam.shape[1]), x.shape[1])
        return {
            "values": cam[:, :, None] * x,
            "hypothetical": np.repeat(cam[:, :, None], 4, axis=-1),
        }
