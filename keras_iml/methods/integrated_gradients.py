"""Integrated gradients (Sundararajan et al. 2017), native and chunked.

Written natively rather than adapted: tf-explain's ``IntegratedGradients.explain``
fails on 1-D sequence inputs (it assumes images), its low-level helper returns the
mean path gradient without the ``(x - baseline)`` factor, and its core holds every
interpolation of a batch at once (~7.5 GB for 256 x 1 kb). Here the interpolations
of all sequences of a batch are streamed through the model's compiled gradient in
chunks of ``chunk_size`` rows, so memory stays flat whatever ``steps`` is. For
chain models that start with a Conv1D/Dense layer, the first layer's pre-activation
is interpolated instead of the input (it is affine in the input), which gives the
same values with one first-layer pass per path instead of one per step.
"""

import numpy as np
import tensorflow as tf

import keras

from keras_iml.methods import _references as refs_lib
from keras_iml.methods._max_envelope import max_path_gradients
from keras_iml.methods.base import AttributionMethod, hypothetical_from_multipliers, register

__all__ = ["IntegratedGradients", "path_gradients", "check_positive_int"]

RULES = ("midpoint", "trapezoid")


def check_positive_int(value, option):
    """Raises ValueError unless ``value`` is an int >= 1 (the message names ``option``)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{option}` must be a positive int. Received: {option}={value!r}")


def quadrature(steps, rule):
    """Interpolation coefficients and weights of a Riemann rule on [0, 1].

    Args:
        steps: number of intervals.
        rule: ``"midpoint"`` (``steps`` gradient evaluations at the interval
            centres) or ``"trapezoid"`` (``steps + 1`` evaluations at the ends).

    Returns:
        ``(alphas, weights)``, float32 arrays whose weights sum to 1.
    """
    if rule == "midpoint":
        alphas = (np.arange(steps) + 0.5) / steps
        weights = np.full(steps, 1.0 / steps)
    else:
        alphas = np.arange(steps + 1) / steps
        weights = np.full(steps + 1, 1.0 / steps)
        weights[[0, -1]] = 0.5 / steps
    return alphas.astype(np.float32), weights.astype(np.float32)


def _layer_chain(model):
    """The layers of a single-input, single-output model that is a plain chain, or None."""
    try:
        inputs, outputs = model.inputs, model.outputs
        layers = [la for la in model.layers if not isinstance(la, keras.layers.InputLayer)]
        if len(inputs) != 1 or len(outputs) != 1 or not layers:
            return None
        previous = inputs[0]
        for layer in layers:
            if layer.input is not previous:
                return None
            previous = layer.output
        return layers if previous is outputs[0] else None
    except (AttributeError, ValueError):
        return None


def _affine_first_layer(model):
    """``(pre_activation, activation, rest)`` when a chain model starts with an affine layer.

    For a Sequential (or chain-shaped functional) model whose first layer is a
    ``Conv1D`` (``valid``/``same`` padding) or ``Dense``, that layer's pre-activation
    is affine in the input, so along a straight path it is ``z(r) + alpha (z(x) -
    z(r))``: the first layer runs twice per path instead of once per step, and the
    input gradient is one transposed pass of the step-averaged gradient. The other
    layers are applied in order to tensors (no new Keras graph nodes are added to the
    user's layers). A first layer may also split itself: ``iml_affine_split()``
    returning its own ``(pre_activation, activation, rest)`` (as
    :class:`keras_iml.zoo.deepbind.DeepBindScan` does for its window scan). Returns
    None when the model does not qualify or when a check on
    a random probe does not reproduce the model (the generic path is used then).
    """
    layers = _layer_chain(model)
    if layers is None:
        return None
    first, others = layers[0], layers[1:]
    rest_of_first = None
    if hasattr(first, "iml_affine_split"):  # a layer that splits itself (e.g. DeepBindScan)
        pre_activation, activation, rest_of_first = first.iml_affine_split()
    elif type(first) is keras.layers.Conv1D:
        if first.groups != 1 or first.padding not in ("valid", "same") \
                or first.data_format != "channels_last":
            return None

        def pre_activation(v):
            z = keras.ops.conv(v, first.kernel, strides=first.strides, padding=first.padding,
                               data_format="channels_last", dilation_rate=first.dilation_rate)
            return z + first.bias if first.use_bias else z
    elif type(first) is keras.layers.Dense:

        def pre_activation(v):
            z = keras.ops.matmul(v, first.kernel)
            return z + first.bias if first.use_bias else z
    else:
        return None
    if rest_of_first is None:
        activation = first.activation or keras.activations.linear

    def rest(h):
        if rest_of_first is not None:
            h = rest_of_first(h)
        for layer in others:
            h = layer(h, training=False)
        return h

    try:
        length = model.inputs[0].shape[1] or 64
        probe = tf.constant(np.random.default_rng(0).random((2, length, 4)), tf.float32)
        split = rest(activation(pre_activation(probe)))
        whole = model(probe, training=False)
        if not np.allclose(split, whole, rtol=1e-4, atol=1e-5):
            return None
    except (ValueError, TypeError):
        return None
    return pre_activation, activation, rest


def _pool_split(model):
    """``(pre_activation, group, head, mean_of)`` when a one-layer model's layer declares it.

    A layer with ``iml_window_pool_split()`` (see
    :meth:`keras_iml.zoo.deepbind.DeepBindScan.iml_window_pool_split`) computes
    ``head(relu(max over groups of pre_activation(x)))`` (and the groups' means of
    rectified values when ``mean_of`` is set) with an affine ``pre_activation``; the
    path steps then follow a few lines per group
    (:func:`keras_iml.methods._max_envelope.max_path_gradients`). Checked on a probe
    like :func:`_affine_first_layer`; None otherwise.
    """
    layers = _layer_chain(model)
    if layers is None or len(layers) != 1 or not hasattr(layers[0], "iml_window_pool_split"):
        return None
    split = layers[0].iml_window_pool_split()
    if split is None:
        return None
    pre_activation, group, head, mean_of = split
    try:
        length = model.inputs[0].shape[1] or 64
        probe = tf.constant(np.random.default_rng(0).random((2, length, 4)), tf.float32)
        z = pre_activation(probe)
        z = tf.reshape(z, (2, -1, group, z.shape[-1]))
        feats = [tf.nn.relu(tf.reduce_max(z, axis=2))]
        if mean_of is not None:
            feats.append(tf.reduce_sum(tf.nn.relu(z), axis=2) / float(mean_of))
        if not np.allclose(head(*feats), model(probe, training=False), rtol=1e-4, atol=1e-5):
            return None
    except (ValueError, TypeError):
        return None
    return split


class _EnvelopePath:
    """The path function of a :func:`_pool_split` model (same signature as the others).

    The envelope (:func:`keras_iml.methods._max_envelope.max_path_gradients`) is many
    small ops: XLA fuses them (~3x faster than the plain graph on DeepBind) but takes
    ~2 s to compile, which a one-off explain of a few sequences would not win back.
    So the first ``xla_after`` calls of this object run the plain graph and later
    calls the XLA-compiled one (the same values to float rounding); ``calls`` counts
    them. The object lives in its ModelFunction's store, as the other path functions.
    """

    xla_after = 16

    def __init__(self, split, select, correct, signature):
        pre, group, head, mean_of = split
        self.calls = 0

        def envelope(zx, zr, alphas, weights):
            return max_path_gradients(zx, zr, alphas, weights, group,
                                      lambda *feats: select(head(*feats)), mean_of=mean_of)

        def build(inner):
            @tf.function(input_signature=signature)
            def path_fn(x, refs, alphas, weights):
                dz = inner(pre(x), pre(refs), alphas, weights)
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    zx = pre(x)
                return correct(tape.gradient(zx, x, output_gradients=dz))

            return path_fn

        self._plain = build(envelope)
        self._fused = build(tf.function(envelope, jit_compile=True))

    def __call__(self, x, refs, alphas, weights):
        self.calls += 1
        fn = self._fused if self.calls > self.xla_after else self._plain
        return fn(x, refs, alphas, weights)


def _build_path_function(function):
    """Compiled ``(x, refs, alphas, weights) -> sum_s w * grad f(path)`` for a ModelFunction.

    The interpolation, the gradient and the weighted sum over steps all run inside
    one graph (no numpy round trip per step), as a plain GradientTape loop would;
    models starting with an affine layer take the shortcut of
    :func:`_affine_first_layer` (the same values, ~1.5x faster on a Basset-like CNN),
    and layers that declare a window-pool split (DeepBind) that of :func:`_pool_split`
    (3-4x faster than the affine shortcut on DeepBind).
    """
    spec = tf.TensorSpec([None, None, 4], tf.float32)
    coef = tf.TensorSpec([None, None], tf.float32)
    pool_split = None if function.logit else _pool_split(function.model)
    split = None if function.logit or pool_split else _affine_first_layer(function.model)

    def correct(grad):
        if function.gradient_correction:  # as ModelFunction.gradient does
            grad = grad - tf.reduce_mean(grad, axis=-1, keepdims=True)
        return grad

    @tf.function(input_signature=[spec, spec, coef, coef])
    def path_fn(x, refs, alphas, weights):
        length = tf.shape(x)[1]
        path = refs[:, None] + alphas[:, :, None, None] * (x - refs)[:, None]
        flat = tf.reshape(path, (-1, length, 4))
        with tf.GradientTape() as tape:
            tape.watch(flat)
            value = function.select(function.raw_call(flat))
        grad = tf.reshape(tape.gradient(value, flat), tf.shape(path))
        return correct(tf.reduce_sum(grad * weights[:, :, None, None], axis=1))

    if pool_split is not None:
        return _EnvelopePath(pool_split, function.select, correct, [spec, spec, coef, coef])
    if split is None:
        return path_fn
    pre_activation, activation, rest = split

    @tf.function(input_signature=[spec, spec, coef, coef])
    def affine_path_fn(x, refs, alphas, weights):
        zx, zr = pre_activation(x), pre_activation(refs)
        z = zr[:, None] + alphas[:, :, None, None] * (zx - zr)[:, None]
        flat = tf.reshape(z, tf.concat([[-1], tf.shape(zx)[1:]], 0))
        with tf.GradientTape() as tape:
            tape.watch(flat)
            value = function.select(rest(activation(flat)))
        dz = tf.reshape(tape.gradient(value, flat), tf.shape(z))
        dz = tf.reduce_sum(dz * weights[:, :, None, None], axis=1)
        with tf.GradientTape() as tape:
            tape.watch(x)
            zx = pre_activation(x)
        return correct(tape.gradient(zx, x, output_gradients=dz))

    return affine_path_fn


def path_gradients(function, x, refs, alphas, weights, chunk_size=64):
    """Weighted sums of gradients along straight paths, streamed in chunks.

    For every pair ``p`` returns ``sum_s weights[p, s] * grad f(r_p + alphas[p, s]
    (x_p - r_p))``. At most ``chunk_size`` interpolated inputs exist at a time
    (whole paths of ``chunk_size // S`` pairs per compiled call; long paths are
    split into blocks of steps), so memory does not grow with ``steps``.

    Args:
        function: the :class:`keras_iml.targets.ModelFunction`.
        x: ``(P, L, 4)`` inputs.
        refs: ``(P, L, 4)`` references paired with ``x``.
        alphas: ``(P, S)`` or ``(S,)`` interpolation coefficients.
        weights: same shape as ``alphas``.
        chunk_size: interpolated inputs per gradient call.

    Returns:
        float32 array ``(P, L, 4)``.
    """
    path_fn = function.compiled("keras_iml.path_gradients", lambda: _build_path_function(function))
    x = np.asarray(x, np.float32)
    refs = np.asarray(refs, np.float32)
    n_pairs = x.shape[0]
    alphas = np.broadcast_to(np.asarray(alphas, np.float32), (n_pairs, np.shape(alphas)[-1]))
    weights = np.broadcast_to(np.asarray(weights, np.float32), alphas.shape)
    n_steps = alphas.shape[1]
    pairs_per_call = max(1, chunk_size // n_steps)
    steps_per_call = min(n_steps, chunk_size)
    out = np.zeros(x.shape, dtype=np.float64)  # float64: many small weighted terms
    for p0 in range(0, n_pairs, pairs_per_call):
        p = slice(p0, p0 + pairs_per_call)
        for s0 in range(0, n_steps, steps_per_call):
            s = slice(s0, s0 + steps_per_call)
            out[p] += path_fn(x[p], refs[p], np.ascontiguousarray(alphas[p, s]),
                              np.ascontiguousarray(weights[p, s])).numpy()
    return out.astype(np.float32)


@register("integrated_gradients")
class IntegratedGradients(AttributionMethod):
    """Integrated gradients: ``(x - x') * mean_alpha grad f(x' + alpha (x - x'))``.

    The path integral is a Riemann sum over ``steps`` intervals (``rule``). With
    ``n_baselines > 1`` (random baselines) the attributions are averaged over that
    many baselines per sequence. Completeness holds up to the quadrature error:
    ``convergence_delta = sum(values) - mean_baselines(f(x) - f(x'))`` is reported per
    sequence. ``hypothetical`` (for TF-MoDISco) is built from the averaged path
    gradient ``m`` as ``m - sum_c x'_c m_c``, so ``values`` and
    ``hypothetical * x`` have the same sum at every position (equal everywhere
    with the zero baseline).

    Args:
        baseline: ``"zeros"``, ``"uniform"``, ``"random"``, ``"shuffle"``,
            ``"dinuc_shuffle"`` or an array: ``(L, 4)``, ``(B, L, 4)`` (one per
            sequence of the batch) or, with ``n_baselines > 1``, a shared set
            ``(k, L, 4)`` (see :mod:`keras_iml.methods._references`).
        steps: number of Riemann intervals (>= 1).
        rule: ``"midpoint"`` (``steps`` gradients) or ``"trapezoid"`` (``steps + 1``).
        n_baselines: baselines per sequence (useful with random baselines).
        chunk_size: interpolated inputs per gradient call (peak-memory knob; small
            chunks were the fastest on CPU, raise it on a GPU).

    Example:
        >>> attr = keras_iml.explain(model, x, "integrated_gradients", steps=32)
        >>> attr.convergence_delta  # sum(values) - (f(x) - f(0)) per sequence
    """

    multiplies_input = True

    def __init__(self, baseline="zeros", steps=50, rule="midpoint", n_baselines=1,
                 chunk_size=64):
        self.baseline = baseline
        self.steps = steps
        self.rule = rule
        self.n_baselines = n_baselines
        self.chunk_size = chunk_size

    @property
    def stochastic(self):
        return refs_lib.is_random(self.baseline)

    def per_sequence_options(self):
        n = None if self.n_baselines == 1 else self.n_baselines
        return ("baseline",) if refs_lib.per_sequence(self.baseline, n) else ()

    def check_params(self, function):
        refs_lib.check_reference(self.baseline, "baseline")
        check_positive_int(self.steps, "steps")
        check_positive_int(self.n_baselines, "n_baselines")
        check_positive_int(self.chunk_size, "chunk_size")
        if self.rule not in RULES:
            raise ValueError(f"`rule` must be one of {RULES}. Received: rule={self.rule!r}")

    def attribute(self, function, x, rngs):
        b, k = x.shape[0], self.n_baselines
        if k == 1:  # a 3-D array baseline is one baseline per sequence
            refs = refs_lib.make_references(self.baseline, x, rngs)[:, None]
        else:  # a 3-D array is a baseline set shared by all sequences
            refs = refs_lib.make_references(self.baseline, x, rngs, n=k)  # (B, k, L, 4)
        refs = refs.reshape((b * k,) + x.shape[1:])
        xs = np.repeat(x, k, axis=0)
        alphas, weights = quadrature(self.steps, self.rule)
        grads = path_gradients(function, xs, refs, alphas, weights, self.chunk_size)
        values = ((xs - refs) * grads).reshape((b, k) + x.shape[1:])
        hyp = hypothetical_from_multipliers(grads, refs).reshape(values.shape)
        ends = function.batched(function, np.concatenate([x, refs]), self.chunk_size)
        gain = (ends[:b, None] - ends[b:].reshape(b, k)).mean(axis=1)
        values = values.mean(axis=1)
        return {
            "values": values,
            "hypothetical": hyp.mean(axis=1),
            "convergence_delta": values.sum(axis=(1, 2)) - gain,
        }
