"""Fast in-silico mutagenesis: recompute only what a single-base substitution changes.

The idea of fastISM (Nair et al. 2022), written natively for Keras 3 (fastISM itself
does not run under Keras 3 and does not handle GlobalMaxPooling heads). A model that
is a chain of layers is split into a *local* prefix (convolutions, pooling,
position-wise layers; see :mod:`._ism_layers`) and a *tail* (everything from the first
other layer on: global pooling, Flatten, Dense, or anything unknown). A functional
model that branches after a chain (two global poolings concatenated, a residual
block, several outputs) is that chain followed by the rest of its graph as one tail
step (:func:`_chain_then_graph`). For a batch:

1. the unmutated feature maps of every local stage are computed once (by the model's
   own layers);
2. for each mutation at position ``i`` only a fixed-width window around ``i`` is
   recomputed through the local stages: the stage input window is the cached map
   with the previous stage's recomputed window laid over it, and the stage's
   operation runs on it with "valid" padding (the cached maps are padded the way
   the layer pads: zeros for convolutions, ``-inf`` for max pooling, counted
   averages for "same" average pooling);
3. the last window is spliced into the cached map and the tail runs on it in full,
   followed by the target reduction (``function.select``), so every target option
   works. With ``logit=True`` the tail stops before the final activation.

Window positions and widths depend only on the position ``i`` and the model's
geometry; they are tabulated once per (model, length) with numpy, and all mutants of
a chunk run in one compiled ``tf.function`` (gathers, a batched valid convolution,
the tail).
"""

import warnings

import numpy as np
import tensorflow as tf

import keras
from keras_iml.engine import backend as backend_lib
from keras_iml.engine import fast_paths
from keras_iml.engine import graph as graph_lib
from keras_iml.engine.fast_paths import chain_layers
from keras_iml.methods._ism_layers import local_spec

__all__ = ["FastISM", "build"]


def _ceil_div(a, b):
    return -((-a) // b)


class _Stage:
    """One windowed layer (or an identity) followed by position-wise layers."""

    def __init__(self, spec, layer):
        self.spec = spec
        self.layer = layer  # the windowed layer, None for a leading identity stage
        self.post = []  # position-wise layers applied after it

    @property
    def layers(self):
        return ([self.layer] if self.layer is not None else []) + self.post

    def set_geometry(self, prev_start, prev_width):
        """Tabulates, for each mutated position, the input and output windows."""
        s, k = self.spec["stride"], self.spec["span"]
        left, out_len = self.spec["pad_left"], self.spec["out_length"]
        lo = np.maximum(_ceil_div(prev_start + left - k + 1, s), 0)
        hi = np.minimum(_ceil_div(prev_start + prev_width + left, s), out_len)
        width = int(min(max(int((hi - lo).max()), 1), out_len))
        start = np.clip(lo, 0, out_len - width)
        self.prev_start = tf.constant(prev_start, tf.int32)
        self.prev_width = int(prev_width)
        self.in_start = tf.constant(start * s, tf.int32)  # padded coordinates
        self.in_width = (width - 1) * s + k
        self.out_start = tf.constant(start, tf.int32)
        self.width = width
        if self.spec["kind"] == "avg" and self.spec["padding"] == "same":
            j = np.arange(out_len) * s
            valid = np.minimum(j + k, left + self.spec["in_length"]) - np.maximum(j, left)
            self.avg_scale = tf.constant(k / valid, tf.float32)
        return start, width

    def window(self, h, out_start):
        """The stage's operation on input windows ``(M, in_width, C)`` (valid padding)."""
        kind, layer = self.spec["kind"], self.layer
        s = self.spec["stride"]
        if kind == "conv":
            y = tf.nn.convolution(h, tf.convert_to_tensor(layer.kernel), strides=s,
                                  padding="VALID", dilations=self.spec["dilation"])
            if layer.use_bias:
                y = y + tf.convert_to_tensor(layer.bias)
            if layer.activation is not None:
                y = layer.activation(y)
        elif kind == "max":
            y = tf.nn.max_pool1d(h, self.spec["span"], s, "VALID")
        elif kind == "avg":
            y = tf.nn.avg_pool1d(h, self.spec["span"], s, "VALID")
            if self.spec["padding"] == "same":
                cols = out_start[:, None] + tf.range(self.width)[None, :]
                y = y * tf.gather(self.avg_scale, cols)[..., None]
        else:  # identity stage
            y = h
        for post in self.post:
            y = post(y, training=False)
        return y


def _trace(layers, length):
    """Input and output shapes of each layer on a (1, length, 4) batch."""
    h = tf.zeros((1, length, 4), tf.float32)
    shapes = []
    for layer in layers:
        out = layer(h, training=False)
        if not tf.is_tensor(out):
            shapes.append((tuple(h.shape), ()))
            break
        shapes.append((tuple(h.shape), tuple(out.shape)))
        h = out
    return shapes


def _split(layers, shapes):
    """Local stages and the index where the tail starts."""
    stages = []
    for index, (layer, (in_shape, out_shape)) in enumerate(zip(layers, shapes)):
        spec = local_spec(layer, in_shape, out_shape)
        if spec is None:
            return stages, index
        if spec["kind"] == "pointwise":
            if not stages:
                identity = {"kind": "identity", "stride": 1, "span": 1, "dilation": 1,
                            "pad_left": 0, "pad_right": 0, "pad_value": 0.0,
                            "out_length": in_shape[1], "in_length": in_shape[1],
                            "padding": "valid"}
                stages.append(_Stage(identity, None))
            stages[-1].post.append(layer)
        else:
            stages.append(_Stage(spec, layer))
        stages[-1].out_channels = int(out_shape[-1])
    return stages, len(layers)


class _GraphTail:
    """The rest of a functional graph from one tensor on, called like a layer."""

    def __init__(self, graph_slice):
        self.graph_slice = graph_slice

    def __call__(self, h, training=False):
        return self.graph_slice([h], training=training)


def _chain_then_graph(model):
    """Layers of a functional model that starts as a chain and then branches: the
    chain's layers (each the one consumer of the tensor before it), then the rest of
    the graph from the chain's last tensor as one :class:`_GraphTail`. None when the
    model is not functional, has several inputs or branches at its input.

    The local stages are then the chain's local prefix (a branch at e.g. two global
    poolings concatenated, as in a Basset-like head, is all tail), so ISM recomputes
    only the windows a mutation reaches up to the branch.
    """
    graph = graph_lib.model_graph(model)
    if graph is None or len(graph[0]) != 1:
        return None
    inputs, outputs = graph
    nodes = graph_lib.graph_nodes(inputs, outputs)
    tensor, chain = inputs[0], []
    while True:
        users = [n for n in nodes if any(t is tensor for t in n.input_tensors)]
        if len(users) != 1 or len(users[0].input_tensors) != 1 or len(users[0].output_tensors) != 1 \
                or isinstance(users[0].operation, keras.Model) or any(o is tensor for o in outputs):
            break
        chain.append(users[0].operation)
        tensor = users[0].output_tensors[0]
    if not chain:
        return None
    return chain + [_GraphTail(graph_lib.GraphSlice([tensor], model.output, name=f"{model.name}_tail"))]


def _final_layer(function, tail):
    """Tail layers to run and the pre-activation of the last one (logit), or None."""
    if not function.logit:
        return list(tail), None
    model_layers = getattr(function.model, "layers", None) or []
    if not tail or not model_layers or tail[-1] is not model_layers[-1]:
        return None
    last = tail[-1]
    if type(last) is keras.layers.Activation:
        return list(tail[:-1]), None
    if type(last) is keras.layers.Dense:
        def pre_activation(h):
            z = tf.matmul(h, tf.convert_to_tensor(last.kernel))
            return z + tf.convert_to_tensor(last.bias) if last.use_bias else z

        return list(tail[:-1]), pre_activation
    return None


def build(function, length, example=None):
    """A :class:`FastISM` for ``function`` at this sequence length, or None.

    None means the model is not a chain with a local prefix (subclassed, branching,
    multi-input, no convolution or pooling first, ...) and the general path is used.

    Args:
        function: a :class:`keras_iml.engine.ModelFunction`.
        length: the sequence length ``L``.
        example: optional ``(B, L, 4)`` batch; the plan is checked to reproduce
            ``function(example)`` (a safety net; a mismatch warns and returns None).
    """
    layers = chain_layers(function.model) or _chain_then_graph(function.model)
    if not layers:
        return None
    try:
        shapes = _trace(layers, length)
    except (ValueError, TypeError, tf.errors.OpError):
        return None  # the general path reports the model's own error, if any
    stages, tail_start = _split(layers, shapes)
    if not any(stage.layer is not None for stage in stages):
        return None
    tail = _final_layer(function, layers[tail_start:])
    if tail is None:
        return None
    start, width = np.arange(length), 1
    for stage in stages:
        start, width = stage.set_geometry(start, width)
    runner = FastISM(function, stages, tail[0], tail[1], length, start, width)
    if example is not None:
        expected = function.select(function.raw_call(tf.constant(example))).numpy()
        got = runner.values(example)
        if not np.allclose(got, expected, rtol=1e-4, atol=1e-5 * (1 + np.abs(expected).max())):
            warnings.warn("Fast ISM could not reproduce the model's outputs; using the "
                          "general path (every mutant through the full model).", stacklevel=3)
            return None
    return runner


_POOLS = {keras.layers.GlobalMaxPooling1D: "max", keras.layers.GlobalAveragePooling1D: "avg"}


def _head_pool(tail):
    """The kind of global pooling the tail starts with ("max", "avg"), or None."""
    if not tail or type(tail[0]) not in _POOLS:
        return None
    layer = tail[0]
    if getattr(layer, "keepdims", False) or layer.data_format != "channels_last":
        return None
    return _POOLS[type(layer)]


def _cummax(h):
    """Inclusive running maximum along axis 1 (log-step doubling, static length)."""
    shift, length = 1, h.shape[1]
    while shift < length:
        shifted = tf.pad(h[:, :-shift], [[0, 0], [shift, 0], [0, 0]], constant_values=-np.inf)
        h = tf.maximum(h, shifted)
        shift *= 2
    return h


class FastISM:
    """Compiled fast-ISM passes for one model function and one sequence length.

    Use :func:`build`; call the instance with ``(x, n, i, b, chunk)`` to get
    ``(f(x), f(mutants))``. When the tail starts with GlobalMax/AveragePooling1D the
    pooled vector of a mutant is combined from the cached map without splicing it:
    the maximum of the cached prefix before the window, the cached suffix after it,
    and the new window; or the cached total minus the old window plus the new one.
    """

    def __init__(self, function, stages, tail, pre_activation, length, final_start, final_width):
        self.function = function
        self.stages = stages
        self.pool = _head_pool(tail)
        self.tail = tail[1:] if self.pool else tail
        self.pre_activation = pre_activation
        self.length = length
        self.final_start = tf.constant(final_start, tf.int32)
        self.final_width = final_width
        self.final_length = stages[-1].spec["out_length"]
        channels = [4] + [stage.out_channels for stage in stages]
        windows = [s.in_width * c for s, c in zip(stages, channels)]
        windows += [s.width * s.out_channels for s in stages]
        if self.pool is None:
            windows.append(self.final_length * channels[-1])
        #: floats held per mutant (to size chunks)
        self.feature_size = max(windows)
        x_spec = tf.TensorSpec([None, length, 4], tf.float32)
        pads = [tf.TensorSpec([None, None, c], tf.float32) for c in channels[:-1]]
        n_aux = 2 if self.pool else 1
        aux = [tf.TensorSpec([None, None, channels[-1]], tf.float32)] * n_aux
        ints = [tf.TensorSpec([None], tf.int32)] * 3
        self._prepare = tf.function(self._prepare_impl, input_signature=[x_spec])
        self._mutants = tf.function(self._mutants_impl, input_signature=[pads, aux, *ints])

    def _head(self, h):
        for layer in self.tail:
            h = layer(h, training=False)
        if self.pre_activation is not None:
            h = self.pre_activation(h)
        return self.function.select(h)

    def _prepare_impl(self, x):
        padded, h = [], x
        for stage in self.stages:
            spec = stage.spec
            padded.append(tf.pad(h, [[0, 0], [spec["pad_left"], spec["pad_right"]], [0, 0]],
                                 constant_values=spec["pad_value"]))
            for layer in stage.layers:
                h = layer(h, training=False)
        if self.pool == "max":
            edge = tf.fill(tf.stack([tf.shape(h)[0], 1, h.shape[-1]]), -np.inf)
            before = tf.concat([edge, _cummax(h)], axis=1)  # max of h[:, :j]
            after = tf.concat([tf.reverse(_cummax(tf.reverse(h, [1])), [1]), edge], axis=1)
            return padded, [before, after], self._head(tf.reduce_max(h, axis=1))
        if self.pool == "avg":
            return padded, [h, tf.reduce_sum(h, axis=1, keepdims=True)], self._head(
                tf.reduce_mean(h, axis=1))
        return padded, [h], self._head(h)

    def _mutants_impl(self, padded, aux, n, i, b):
        m = tf.range(tf.shape(n)[0])
        new = tf.one_hot(b, 4, dtype=tf.float32)[:, None, :]
        for stage, cache in zip(self.stages, padded):
            start = tf.gather(stage.in_start, i)
            rows = start[:, None] + tf.range(stage.in_width)[None, :]
            offset = rows - stage.spec["pad_left"] - tf.gather(stage.prev_start, i)[:, None]
            window = _overlay(cache, new, n, m, rows, offset, stage.prev_width)
            new = stage.window(window, tf.gather(stage.out_start, i))
        start = tf.gather(self.final_start, i)
        if self.pool == "max":
            before, after = (tf.reshape(a, [-1, a.shape[-1]]) for a in aux)
            rows = self.final_length + 1
            pooled = tf.maximum(tf.gather(before, n * rows + start),
                                tf.gather(after, n * rows + start + self.final_width))
            return self._head(tf.maximum(pooled, tf.reduce_max(new, axis=1)))
        cols = start[:, None] + tf.range(self.final_width)[None, :]
        final = aux[0]
        if self.pool == "avg":
            old = tf.gather(tf.reshape(final, [-1, final.shape[-1]]),
                            n[:, None] * self.final_length + cols)
            total = tf.gather(aux[1][:, 0], n)
            pooled = total + tf.reduce_sum(new, axis=1) - tf.reduce_sum(old, axis=1)
            return self._head(pooled / self.final_length)
        # splice the last window into the cached map and run the tail in full
        index = tf.stack([tf.broadcast_to(m[:, None], tf.shape(cols)), cols], axis=-1)
        spliced = tf.tensor_scatter_nd_update(tf.gather(final, n), index, new)
        # the tail sees the map's real length (TimeDistributed and Flatten need it)
        return self._head(tf.ensure_shape(spliced, [None, self.final_length, final.shape[-1]]))

    def values(self, x):
        """``f(x)`` computed through the cached stages (used to check the plan)."""
        return self._prepare(tf.convert_to_tensor(x, tf.float32))[2].numpy()

    def __call__(self, x, n, i, b, chunk):
        """Returns ``(f(x) (B,), f(mutant) (M,))`` for mutants ``(n, i, b)``."""
        padded, aux, f0 = self._prepare(tf.convert_to_tensor(x, tf.float32))
        outs = [
            self._mutants(padded, aux, *(tf.constant(a[s : s + chunk], tf.int32)
                                        for a in (n, i, b))).numpy()
            for s in range(0, len(n), chunk)
        ]
        return f0.numpy(), np.concatenate(outs) if outs else np.zeros(0, np.float32)


def _overlay(cache, new, n, m, rows, offset, width):
    """Windows ``(M, R, C)`` of the padded cache at ``rows``, with ``new`` laid over it."""
    channels = cache.shape[-1]
    length = tf.shape(cache)[1]
    flat_cache = tf.reshape(cache, [-1, channels])
    flat_new = tf.reshape(new, [-1, channels])
    inside = (offset >= 0) & (offset < width)
    old = tf.gather(flat_cache, n[:, None] * length + rows)
    fresh = tf.gather(flat_new, m[:, None] * width + tf.clip_by_value(offset, 0, width - 1))
    return tf.where(inside[..., None], fresh, old)


@fast_paths.register("ism", "receptive_field", priority=0, example=fast_paths.chain_example)
def _receptive_field_plugin(function, length, example=None):
    """Built-in ISM fast path (TensorFlow backend): chains with a local prefix."""
    if backend_lib.name() != "tensorflow" or function.aux_names:
        return None
    return build(function, length, example=example)
