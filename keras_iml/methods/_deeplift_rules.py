"""DeepLIFT gradient rules, registered once as TensorFlow gradient overrides.

DeepLIFT (Shrikumar et al. 2017) replaces the derivative of every nonlinear
operation by a *multiplier* ``m`` with ``m * (input - reference input) =
(output - reference output)``; linear operations keep their gradients, so the chain
rule composes multipliers and the input attributions ``(x - r) * m`` sum to
``f(x) - f(r)`` ("summation to delta").

The rules below are TensorFlow gradient functions. The engine traces the model
twice in one graph, on the inputs ``x`` (under ``gradient_override_map``) and on
the references ``r`` (plainly), and pairs every overridden op with its *twin* in
the reference trace (:func:`set_twins`), so a rule reads the reference
activations from the twin's inputs and outputs. Only the input trace is
differentiated, so the backward pass costs what a plain gradient costs.

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
  tied maxima share the difference evenly as in TensorFlow's own gradient.
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
    "set_twins",
]

#: Input differences at or below this use the midpoint derivative (rescale rule).
EPS = 1e-6

#: Tensors with at least this many elements use XLA-fused rules.
FUSE_MIN_SIZE = 1 << 20

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


def set_twins(graph, pairs):
    """Records, on the graph being traced, the reference twin of each overridden op."""
    setattr(graph, _TWINS_ATTR, {op.name: twin for op, twin in pairs})


def _twin(op):
    twins = getattr(op.graph, _TWINS_ATTR, None) or {}
    if op.name not in twins:
        raise LookupError(f"DeepLIFT: no reference twin recorded for op {op.name!r}.")
    return twins[op.name]


def _fused(fn, *args):
    """``fn(*args)``, compiled with XLA when the tensors are large.

    Without fusion each rule makes ~10 full passes over activation-sized tensors,
    several times the cost of the model's own backward pass on CPU; XLA runs them
    as one loop. Small tensors skip XLA, whose compilation (once per shape) would
    then cost more than it saves.
    """
    fused = tf.function(fn, jit_compile=True, autograph=False)
    return tf.cond(tf.size(args[0]) >= FUSE_MIN_SIZE, lambda: fused(*args), lambda: fn(*args))


def _safe_div(num, den, fallback):
    far = tf.abs(den) > EPS
    return tf.where(far, num / tf.where(far, den, tf.ones_like(den)), fallback)


@tf.RegisterGradient("KerasImlDeepLiftRescale")
def _rescale_grad(op, grad):
    ref = _twin(op)
    derivative = ELEMENTWISE[op.type]
    alpha = op.get_attr("alpha") if op.type == "LeakyRelu" else 0.0

    def kernel(zx, zr, yx, yr, g):
        mid = 0.5 * (zx + zr)
        return g * _safe_div(yx - yr, zx - zr, derivative(mid, tf.cast(alpha, mid.dtype)))

    return _fused(kernel, op.inputs[0], ref.inputs[0], op.outputs[0], ref.outputs[0], grad)


def _split_gain(mx, mr, g):
    gain = g * (mx - mr)
    to_x = tf.where(mx >= mr, gain, tf.zeros_like(gain))
    return to_x, gain - to_x


def _divide_routed(routed_x, routed_r, zx, zr):
    return _safe_div(routed_x + routed_r, zx - zr, tf.zeros_like(zx))


@tf.RegisterGradient("KerasImlDeepLiftMaxPool")
def _maxpool_grad(op, grad):
    ref = _twin(op)
    zx, zr = op.inputs[0], ref.inputs[0]
    mx, mr = op.outputs[0], ref.outputs[0]
    to_x, to_r = _fused(_split_gain, mx, mr, grad)
    attrs = {k: op.get_attr(k) for k in ("ksize", "strides", "padding", "data_format")}
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
    ref = _twin(op)
    axes = _reduced_axes(op)

    def ties(z, m):  # TF's own Max gradient: split evenly among tied maxima
        hit = tf.cast(tf.equal(z, m), z.dtype)
        return hit / tf.reduce_sum(hit, axes, keepdims=True)

    def kernel(zx, zr, g):
        mx = tf.reduce_max(zx, axes, keepdims=True)
        mr = tf.reduce_max(zr, axes, keepdims=True)
        gain = tf.reshape(g, tf.shape(mx)) * (mx - mr)
        routed = tf.where(mx >= mr, ties(zx, mx), ties(zr, mr)) * gain
        return _safe_div(routed, zx - zr, tf.zeros_like(zx))

    return _fused(kernel, op.inputs[0], ref.inputs[0], grad), None


_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(8)
_GL_NODES = ((_GL_NODES + 1.0) / 2.0).astype(np.float32)
_GL_WEIGHTS = (_GL_WEIGHTS / 2.0).astype(np.float32)


@tf.RegisterGradient("KerasImlDeepLiftSoftmax")
def _softmax_grad(op, grad):
    ref = _twin(op)
    zx, zr = op.inputs[0], ref.inputs[0]
    dz = zx - zr
    shape = [-1] + [1] * zx.shape.rank
    t = tf.reshape(tf.constant(_GL_NODES), shape)
    w = tf.reshape(tf.constant(_GL_WEIGHTS), shape)
    ys = tf.nn.softmax(zr[None] + t * dz[None], axis=-1)  # (T, B, ..., K)

    def jbar(v):  # average Jacobian (symmetric) times v along the last axis
        jv = ys * v[None] - ys * tf.reduce_sum(ys * v[None], axis=-1, keepdims=True)
        return tf.reduce_sum(w * jv, axis=0)

    scale = _safe_div(op.outputs[0] - ref.outputs[0], jbar(dz), tf.ones_like(dz))
    return jbar(grad * scale)


#: Op type -> registered gradient name, for ``Graph.gradient_override_map``.
OVERRIDES = {name: "KerasImlDeepLiftRescale" for name in ELEMENTWISE}
OVERRIDES.update(
    {"MaxPool": "KerasImlDeepLiftMaxPool", "Max": "KerasImlDeepLiftMax",
     "Softmax": "KerasImlDeepLiftSoftmax"}
)

#: Every op type handled by a DeepLIFT rule.
RULE_TYPES = frozenset(OVERRIDES)
