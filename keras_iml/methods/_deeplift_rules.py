"""DeepLIFT gradient rules, registered once as TensorFlow gradient overrides.

DeepLIFT (Shrikumar et al. 2017) replaces the derivative of every nonlinear
operation by a *multiplier* ``m`` with ``m * (input - reference input) =
(output - reference output)``; linear operations keep their gradients, so the chain
rule composes multipliers and the input attributions ``(x - r) * m`` sum to
``f(x) - f(r)`` ("summation to delta").

The rules below are TensorFlow gradient functions. The engine traces the model
twice in one graph: on the inputs ``x`` (``b`` rows, plainly) and on the
references (``b * k`` rows, ``k`` per input, grouped by input, under
``gradient_override_map``). It pairs every overridden op of the reference trace
with its *twin* in the input trace (:func:`set_twins`), so a rule reads the input
activations from the twin, repeated for each of the input's ``k`` references
(:func:`expand`). Only the reference trace is differentiated: the input's forward
pass runs once per input, however many references it has, and the backward pass
costs what a plain gradient of the ``b * k`` rows costs. The multipliers below are
symmetric in the two sides except for tie-breaking, which is kept as written.

Rules:

* **Rescale** (elementwise ops: ReLU family, sigmoid, tanh, softplus, ...):
  ``m = (y_x - y_r) / (z_x - z_r)``; where ``|z_x - z_r| <= EPS`` the derivative at
  the midpoint ``(z_x + z_r) / 2`` is used instead.
* **Max** (``MaxPool`` windows and ``Max`` reductions, i.e. max pooling and global
  max pooling): the window's difference ``D = max x - max r`` goes to the argmax of
  the *larger* of the two windows: to the input's argmax ``i`` when ``max x >= max r``
  (multiplier ``D / (x_i - r_i)``), else to the reference's argmax ``j``
  (``D / (x_j - r_j)``). Since ``x_i - r_i >= D >= 0`` in the first case and
  ``x_j - r_j <= D < 0`` in the second, the multiplier lies in ``[0, 1]`` and never
  divides a nonzero ``D`` by a vanishing input difference, so summation to delta
  holds exactly, also when the two maxima sit at different positions (routing
  ``D`` through the input's argmax only, i.e. the gradient, as captum and
  tangermeme do, loses it there). This is the rule shap's DeepExplainer uses for
  max pooling; here it also covers ``Max`` reductions (global max pooling), where
  tied maxima share the difference evenly as in TensorFlow's own gradient. In a
  window, ``D`` goes to the first maximum (as ``MaxPoolGrad`` routes); for
  non-overlapping VALID pooling (Keras' default) the rule is one pass over the
  windows instead of two ``MaxPoolGrad`` calls over the whole activation.
* **Softmax** (last axis): the softmax Jacobian averaged along the straight line
  from the reference logits to the input logits (8-point Gauss-Legendre), each
  output's row rescaled so that its contributions sum exactly to
  ``softmax(z_x)_k - softmax(z_r)_k``.
"""

import numpy as np
import tensorflow as tf

__all__ = [
    "EPS",
    "ELEMENTWISE",
    "FUSE_MIN_SIZE",
    "OVERRIDES",
    "RULE_TYPES",
    "TILED_MAXPOOL",
    "expand",
    "fusing",
    "set_twins",
]

#: Input differences at or below this use the midpoint derivative (rescale rule).
EPS = 1e-6

#: Tensors with at least this many elements use XLA-fused rules.
FUSE_MIN_SIZE = 1 << 20

#: Non-overlapping VALID max pooling uses the one-pass window rule (else MaxPoolGrad).
TILED_MAXPOOL = True

_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805
_TWO_OVER_SQRT_PI = 1.1283791670955126


# Derivative of each supported elementwise op, as a function of its input (and of
# LeakyRelu's ``alpha``).
ELEMENTWISE = {
    "Relu": lambda z, a: tf.cast(z > 0, z.dtype),
    "Relu6": lambda z, a: tf.cast((z > 0) & (z < 6), z.dtype),
    "LeakyRelu": lambda z, a: tf.where(z > 0, tf.ones_like(z), a * tf.ones_like(z)),
    "Elu": lambda z, a: tf.where(z > 0, tf.ones_like(z), tf.exp(tf.minimum(z, 0.0))),
    "Selu": lambda z, a: _SELU_SCALE
    * tf.where(z > 0, tf.ones_like(z), _SELU_ALPHA * tf.exp(tf.minimum(z, 0.0))),
    "Sigmoid": lambda z, a: tf.sigmoid(z) * (1.0 - tf.sigmoid(z)),
    "Tanh": lambda z, a: 1.0 - tf.square(tf.tanh(z)),
    "Softplus": lambda z, a: tf.sigmoid(z),
    "Softsign": lambda z, a: 1.0 / tf.square(1.0 + tf.abs(z)),
    "Exp": lambda z, a: tf.exp(z),
    "Square": lambda z, a: 2.0 * z,
    "Abs": lambda z, a: tf.sign(z),
    "Erf": lambda z, a: _TWO_OVER_SQRT_PI * tf.exp(-tf.square(z)),
    "Erfc": lambda z, a: -_TWO_OVER_SQRT_PI * tf.exp(-tf.square(z)),
}


_TWINS_ATTR = "_keras_iml_deeplift_twins"

# Forward functions of the piecewise-linear ops, recomputed inside the rescale rule
# (exactly as the forward pass computed them) instead of read from memory.
_PIECEWISE_LINEAR = {
    "Relu": lambda z, a: tf.nn.relu(z),
    "Relu6": lambda z, a: tf.nn.relu6(z),
    "LeakyRelu": lambda z, a: tf.nn.leaky_relu(z, a),
}


def set_twins(graph, pairs, batch, repeats, fuse):
    """Records, on the graph being traced, the input-side twin of each overridden op.

    Args:
        graph: the graph being traced.
        pairs: ``(reference-side op, input-side op)`` pairs.
        batch: scalar int32 tensor, the number ``b`` of inputs.
        repeats: scalar int32 tensor, the number ``k`` of references per input.
        fuse: whether rules on large tensors may use XLA (see :func:`_fused`).
    """
    twins = {op.name: twin for op, twin in pairs}
    setattr(graph, _TWINS_ATTR, (twins, batch, repeats, bool(fuse)))


def fusing(graph):
    """Whether the trace being built may use XLA-fused kernels (see :func:`set_twins`)."""
    return getattr(graph, _TWINS_ATTR, (None, None, None, False))[3]


def _twin(op):
    twins = getattr(op.graph, _TWINS_ATTR, None)
    if twins is None or op.name not in twins[0]:
        raise LookupError(f"DeepLIFT: no input twin recorded for op {op.name!r}.")
    return twins[0][op.name]


def _grouped(small, big):
    """``small`` as ``(b, 1, T, ...)`` and ``big`` as ``(b, k, T, ...)``, checked.

    Row ``p`` of the reference side belongs to input ``p // k``. Every tensor on
    the path keeps the batch as its outermost axis (checked op by op in
    :mod:`keras_iml.methods._deeplift_graph`), so the reference side is ``b``
    blocks of ``k`` copies of the input side's layout, also where a layer merged
    the batch with another axis (``T > 1``, e.g. a reshape to ``(B * L, C)``). The shapes are
    checked at run time too: the reference side must have ``k`` times as many rows
    of the same trailing shape. Axis ``a > 0`` of the op becomes axis ``a + 2``.
    """
    _, batch, repeats, _ = getattr(small.graph, _TWINS_ATTR)
    shape_s, shape_b = tf.shape(small), tf.shape(big)
    ok = tf.reduce_all(tf.equal(shape_s[1:], shape_b[1:])) & tf.equal(
        shape_b[0], repeats * shape_s[0])
    check = tf.debugging.Assert(ok, [
        "DeepLIFT: input and reference activations do not line up (the batch axis "
        "must stay outermost); shapes:", shape_s, shape_b])
    with tf.control_dependencies([check]):
        small = tf.reshape(small, tf.concat([[batch, 1, -1], shape_s[1:]], 0))
    return small, tf.reshape(big, tf.concat([[batch, repeats, -1], shape_b[1:]], 0))


def expand(small, big):
    """The input-side tensor ``small`` repeated for each reference, shaped like ``big``."""
    small, grouped = _grouped(small, big)
    return tf.reshape(tf.broadcast_to(small, tf.shape(grouped)), tf.shape(big))


def _fused(fn, *args):
    """``fn(*args)``, compiled with XLA when the trace allows it and tensors are large.

    Without fusion each rule makes ~10 full passes over activation-sized tensors,
    several times the cost of the model's own backward pass on CPU; XLA runs them
    as one loop (reading the input side, broadcast over its references, from
    cache). XLA compiles once per shape (~0.1 s a rule), so the engine traces a
    fused variant only for calls it pads to one fixed chunk shape, and small
    tensors skip XLA even there.
    """
    if not fusing(args[0].graph):
        return fn(*args)
    fused = tf.function(fn, jit_compile=True, autograph=False)
    return tf.cond(tf.size(args[0]) >= FUSE_MIN_SIZE, lambda: fused(*args), lambda: fn(*args))


def _safe_div(num, den, fallback):
    far = tf.abs(den) > EPS
    return tf.where(far, num / tf.where(far, den, tf.ones_like(den)), fallback)


@tf.RegisterGradient("KerasImlDeepLiftRescale")
def _rescale_grad(op, grad):
    twin = _twin(op)
    derivative = ELEMENTWISE[op.type]
    alpha = op.get_attr("alpha") if op.type == "LeakyRelu" else 0.0
    forward = _PIECEWISE_LINEAR.get(op.type)

    def rule(zr, zx, yr, yx, g):
        mid = 0.5 * (zx + zr)
        return g * _safe_div(yx - yr, zx - zr, derivative(mid, tf.cast(alpha, mid.dtype)))

    def recomputed(zr, zx, g):
        return rule(zr, zx, forward(zr, alpha), forward(zx, alpha), g)

    zx, zr = _grouped(twin.inputs[0], op.inputs[0])
    g = tf.reshape(grad, tf.shape(zr))
    if forward is not None:
        m = _fused(recomputed, zr, zx, g)
    else:
        yx, yr = _grouped(twin.outputs[0], op.outputs[0])
        m = _fused(rule, zr, zx, yr, yx, g)
    return tf.reshape(m, tf.shape(op.inputs[0]))


def _split_gain(mx, mr, g):
    gain = g * (mx - mr)
    to_x = tf.where(mx >= mr, gain, tf.zeros_like(gain))
    return to_x, gain - to_x


def _divide_routed(routed_x, routed_r, zx, zr):
    return _safe_div(routed_x + routed_r, zx - zr, tf.zeros_like(zx))


def _first_argmax(z, m, axes, index, size):
    """One-hot of the first maximum of each window (row-major), as MaxPoolGrad routes."""
    first = tf.reduce_min(tf.where(tf.equal(z, m), index, size), axes, keepdims=True)
    return tf.cast(tf.equal(index, first), z.dtype)


def _tiled_maxpool(zx, zr, g, kh, kw):
    """Max rule for non-overlapping VALID pooling, as one pass over the windows.

    ``zx`` ``(b, 1, T, H, W, C)`` (the input side), ``zr`` ``(b, k, T, H, W, C)``,
    ``g`` ``(b, k, T, H // kh, W // kw, C)``. Equal to routing with two
    ``MaxPoolGrad`` calls (see :func:`_maxpool_grad`), without their passes over
    the whole activation.
    """
    hp, wp = tf.shape(zr)[3] // kh, tf.shape(zr)[4] // kw

    def windows(z):
        z = z[:, :, :, : hp * kh, : wp * kw]
        s = tf.shape(z)
        return tf.reshape(z, tf.stack([s[0], s[1], s[2], hp, kh, wp, kw, s[5]]))

    wx, wr = windows(zx), windows(zr)
    axes = [4, 6]
    mx = tf.reduce_max(wx, axes, keepdims=True)
    mr = tf.reduce_max(wr, axes, keepdims=True)
    index = tf.reshape(tf.range(kh * kw), [1, 1, 1, 1, kh, 1, kw, 1])
    first = tf.where(mx >= mr, _first_argmax(wx, mx, axes, index, kh * kw),
                     _first_argmax(wr, mr, axes, index, kh * kw))
    gain = g[:, :, :, :, None, :, None] * (mx - mr)
    m = _safe_div(first * gain, wx - wr, tf.zeros_like(wr))
    s = tf.shape(zr)
    m = tf.reshape(m, tf.stack([s[0], s[1], s[2], hp * kh, wp * kw, s[5]]))
    tail = [[0, 0]] * 3 + [[0, s[3] - hp * kh], [0, s[4] - wp * kw], [0, 0]]
    return tf.pad(m, tail)


@tf.RegisterGradient("KerasImlDeepLiftMaxPool")
def _maxpool_grad(op, grad):
    twin = _twin(op)
    zr, mr = op.inputs[0], op.outputs[0]
    attrs = {k: op.get_attr(k) for k in ("ksize", "strides", "padding", "data_format")}
    ksize, strides = list(attrs["ksize"]), list(attrs["strides"])
    tiled = attrs["padding"] in (b"VALID", "VALID") and ksize == strides
    if TILED_MAXPOOL and tiled and ksize[0] == ksize[3] == 1:
        zx, zr3 = _grouped(twin.inputs[0], zr)
        _, g = _grouped(twin.outputs[0], tf.reshape(grad, tf.shape(mr)))
        kh, kw = ksize[1], ksize[2]
        m = _fused(lambda r, x, g_: _tiled_maxpool(x, r, g_, kh, kw), zr3, zx, g)
        return tf.reshape(m, tf.shape(zr))
    zx, mx = expand(twin.inputs[0], zr), expand(twin.outputs[0], mr)
    to_x, to_r = _fused(_split_gain, mx, mr, grad)
    routed_x = tf.raw_ops.MaxPoolGrad(orig_input=zx, orig_output=mx, grad=to_x, **attrs)
    routed_r = tf.raw_ops.MaxPoolGrad(orig_input=zr, orig_output=mr, grad=to_r, **attrs)
    return _fused(_divide_routed, routed_x, routed_r, zx, zr)


def _reduced_axes(op):
    axes = tf.get_static_value(op.inputs[1])
    rank = op.inputs[0].shape.rank
    if axes is None or rank is None:
        raise ValueError(
            f"DeepLIFT needs a static rank and constant axes for the Max op {op.name!r}."
        )
    return sorted({int(a) % rank for a in np.atleast_1d(axes)})


@tf.RegisterGradient("KerasImlDeepLiftMax")
def _max_grad(op, grad):
    twin = _twin(op)
    axes = [a + 2 for a in _reduced_axes(op)]  # in the (b, k, T, ...) layout

    def ties(z, m):  # TF's own Max gradient: split evenly among tied maxima
        hit = tf.cast(tf.equal(z, m), z.dtype)
        return hit / tf.reduce_sum(hit, axes, keepdims=True)

    def kernel(zr, zx, g):
        mx = tf.reduce_max(zx, axes, keepdims=True)
        mr = tf.reduce_max(zr, axes, keepdims=True)
        gain = tf.reshape(g, tf.shape(mr)) * (mx - mr)
        routed = tf.where(mx >= mr, ties(zx, mx), ties(zr, mr)) * gain
        return _safe_div(routed, zx - zr, tf.zeros_like(zr))

    zx, zr = _grouped(twin.inputs[0], op.inputs[0])
    m = _fused(kernel, zr, zx, grad)
    return tf.reshape(m, tf.shape(op.inputs[0])), None


_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(8)
_GL_NODES = ((_GL_NODES + 1.0) / 2.0).astype(np.float32)
_GL_WEIGHTS = (_GL_WEIGHTS / 2.0).astype(np.float32)


@tf.RegisterGradient("KerasImlDeepLiftSoftmax")
def _softmax_grad(op, grad):
    twin = _twin(op)
    zr, sr = op.inputs[0], op.outputs[0]
    zx, sx = expand(twin.inputs[0], zr), expand(twin.outputs[0], sr)
    dz = zx - zr
    shape = [-1] + [1] * zx.shape.rank
    t = tf.reshape(tf.constant(_GL_NODES), shape)
    w = tf.reshape(tf.constant(_GL_WEIGHTS), shape)
    ys = tf.nn.softmax(zr[None] + t * dz[None], axis=-1)  # (T, B, ..., K)

    def jbar(v):  # average Jacobian (symmetric) times v along the last axis
        jv = ys * v[None] - ys * tf.reduce_sum(ys * v[None], axis=-1, keepdims=True)
        return tf.reduce_sum(w * jv, axis=0)

    scale = _safe_div(sx - sr, jbar(dz), tf.ones_like(dz))
    return jbar(grad * scale)


#: Op type -> registered gradient name, for ``Graph.gradient_override_map``.
OVERRIDES = {name: "KerasImlDeepLiftRescale" for name in ELEMENTWISE}
OVERRIDES.update(
    {"MaxPool": "KerasImlDeepLiftMaxPool", "Max": "KerasImlDeepLiftMax",
     "Softmax": "KerasImlDeepLiftSoftmax"}
)

#: Every op type handled by a DeepLIFT rule.
RULE_TYPES = frozenset(OVERRIDES)
