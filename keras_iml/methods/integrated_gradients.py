"""Integrated gradients (Sundararajan et al. 2017), native and chunked.

Written natively rather than adapted: tf-explain's ``IntegratedGradients.explain``
fails on 1-D sequence inputs (it assumes images), its low-level helper returns the
mean path gradient without the ``(x - baseline)`` factor, and its core holds every
interpolation of a batch at once (~7.5 GB for 256 x 1 kb). Here the interpolations
of all sequences of a batch are streamed through the model's compiled gradient in
chunks of ``chunk_size`` rows, so memory stays flat whatever ``steps`` is. For
chain models that start with a Conv1D/Dense layer, the first layer's pre-activation
is interpolated instead of the input (it is affine in the input), which gives the
same values with one first-layer pass per path instead of one per step. Other
layers and model families register their own exact fast paths through
:mod:`keras_iml.engine.fast_paths` (hook ``"path_gradients"``; DeepBind's window scan
does). Written with ``keras.ops`` and the engine's backend gradients, so it runs on
the TensorFlow, JAX and PyTorch backends.
"""

import numpy as np

import keras
from keras_iml.engine import fast_paths
from keras_iml.methods import _references as refs_lib
from keras_iml.methods.base import AttributionMethod, hypothetical_from_multipliers, register

__all__ = ["IntegratedGradients", "path_gradients", "check_positive_int", "check_chunk_size", "affine_first_layer",
           "build_path_function", "check_bool", "check_fast", "plain_path_function", "split_path_function", "reproduces"]



def path_signature(function):
    """``(x, baseline, alphas, weights)`` signature, with the function's declared length."""
    return [function.x_spec, function.x_spec, ((None, None), "float32"), ((None, None), "float32")]

RULES = ("midpoint", "trapezoid")


def check_positive_int(value, option):
    """Raises ValueError unless ``value`` is an int >= 1 (the message names ``option``)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{option}` must be a positive int. Received: {option}={value!r}")


def check_chunk_size(value):
    """Raises ValueError unless ``chunk_size`` is None (from the memory budget) or an int >= 1."""
    if value is not None:
        check_positive_int(value, "chunk_size")


def check_bool(value, option):
    """Raises ValueError unless ``value`` is True or False (the message names ``option``)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"`{option}` must be True or False. Received: {option}={value!r}")


def check_fast(fast):
    """Raises ValueError unless ``fast`` is a bool or a registered path_gradients fast path."""
    names = [n for n, _ in fast_paths.plugins("path_gradients")]
    if not isinstance(fast, (bool, np.bool_)) and fast not in names:
        raise ValueError(
            f"`fast` must be True, False or one of the path_gradients fast paths {names}. "
            f"Received: fast={fast!r}"
        )


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


def reproduces(model, fn, rtol=1e-4, atol=1e-5):
    """Whether ``fn(probe) == model(probe)`` on a seeded random probe (a fast path's check).

    Fast paths re-express a model; before one is used it must give the model's own
    outputs. Returns False when ``fn`` raises ValueError or TypeError.
    """
    try:
        length = model.inputs[0].shape[1] or 64
        probe = np.random.default_rng(0).random((2, length, 4)).astype("float32")
        got = keras.ops.convert_to_numpy(fn(keras.ops.convert_to_tensor(probe)))
        want = keras.ops.convert_to_numpy(model(probe, training=False))
        return bool(np.allclose(got, want, rtol=rtol, atol=atol))
    except (ValueError, TypeError, AttributeError, IndexError):
        return False


def affine_first_layer(model):
    """``(pre_activation, activation, rest)`` when a chain model starts with an affine layer.

    For a Sequential (or chain-shaped functional) model whose first layer is a
    ``Conv1D`` (``valid``/``same`` padding) or ``Dense``, that layer's pre-activation
    is affine in the input, so along a straight path it is ``z(r) + alpha (z(x) -
    z(r))``: the first layer runs twice per path instead of once per step, and the
    input gradient is one transposed pass of the step-averaged gradient. The other
    layers are applied in order to tensors (no new Keras graph nodes are added to the
    user's layers). Returns None when the model does not qualify or when a check on
    a random probe does not reproduce the model.
    """
    layers = fast_paths.chain_layers(model)
    if layers is None:
        return None
    first, others = layers[0], layers[1:]
    if type(first) is keras.layers.Conv1D:
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
    activation = first.activation or keras.activations.linear

    def rest(h):
        for layer in others:
            h = layer(h, training=False)
        return h

    if not reproduces(model, lambda v: rest(activation(pre_activation(v)))):
        return None
    return pre_activation, activation, rest


def _correction(function):
    def correct(grad):
        if function.gradient_correction:  # as ModelFunction.gradient does
            grad = grad - keras.ops.mean(grad, axis=-1, keepdims=True)
        return grad

    return correct


def plain_path_function(function):
    """The generic path function: every interpolated step through the whole model.

    The interpolation, the gradient and the weighted sum over steps run inside one
    compiled function (no numpy round trip per step), as a plain GradientTape loop
    would, on any backend.
    """
    ops, grad_of = keras.ops, function.backend.value_and_grad(function.output)
    correct = _correction(function)

    def path_fn(x, refs, alphas, weights):
        path = refs[:, None] + alphas[:, :, None, None] * (x - refs)[:, None]
        shape = ops.shape(path)
        _, grad = grad_of(ops.reshape(path, (-1, shape[2], 4)))
        grad = ops.reshape(grad, shape)
        return correct(ops.sum(grad * weights[:, :, None, None], axis=1))

    return function.compile(path_fn, path_signature(function))


def split_path_function(function, pre_activation, activation, rest):
    """A path function for a model ``rest(activation(pre_activation(x)))`` with an affine
    ``pre_activation``: the steps interpolate its output, and the input gradient is
    one vector-Jacobian product of ``pre_activation`` with the step-averaged gradient.

    Args:
        function: the :class:`~keras_iml.engine.ModelFunction`.
        pre_activation: affine map of the input (traceable).
        activation: the elementwise activation after it.
        rest: the rest of the model, from the activation to the raw outputs.
    """
    ops, backend = keras.ops, function.backend
    grad_of = backend.value_and_grad(lambda h: function.select(rest(activation(h))))
    correct = _correction(function)

    def path_fn(x, refs, alphas, weights):
        zx, zr = pre_activation(x), pre_activation(refs)
        z = zr[:, None] + alphas[:, :, None, None] * (zx - zr)[:, None]
        _, dz = grad_of(ops.reshape(z, (-1,) + tuple(ops.shape(zx)[1:])))
        dz = ops.sum(ops.reshape(dz, ops.shape(z)) * weights[:, :, None, None], axis=1)
        return correct(backend.vjp(pre_activation, x, dz))

    return function.compile(path_fn, path_signature(function))


@fast_paths.register("path_gradients", "affine_first_layer", priority=0, example=fast_paths.chain_example)
def _affine_first_layer_plugin(function):
    """Built-in fast path: models starting with a Conv1D/Dense (~1.5x on a Basset-like CNN)."""
    if function.logit or function.aux_names:
        return None
    split = affine_first_layer(function.model)
    return None if split is None else split_path_function(function, *split)


def build_path_function(function, fast=True):
    """``(name, path_fn)`` of the path gradients of ``function``.

    Args:
        function: the :class:`~keras_iml.engine.ModelFunction`.
        fast: True: the first registered fast path that applies (else the plain
            one); False: the plain path; a plugin name: that fast path.

    Raises:
        ValueError: the named fast path does not apply to the model.
    """
    if isinstance(fast, str):
        for name, plugin in fast_paths.plugins("path_gradients"):
            if name == fast:
                path_fn = plugin(function)
                if path_fn is None:
                    raise ValueError(f"The fast path {fast!r} does not apply to this model. "
                                     f"Received: fast={fast!r}")
                return name, path_fn
        raise ValueError(
            "`fast` must be True, False or the name of a registered path_gradients fast path "
            f"{[n for n, _ in fast_paths.plugins('path_gradients')]}. Received: fast={fast!r}"
        )
    if fast:
        name, path_fn = fast_paths.first("path_gradients", function)
        if path_fn is not None:
            return name, path_fn
    return "plain", plain_path_function(function)


def path_gradients(function, x, refs, alphas, weights, chunk_size=64, fast=True):
    """Weighted sums of gradients along straight paths, streamed in chunks.

    For every pair ``p`` returns ``sum_s weights[p, s] * grad f(r_p + alphas[p, s]
    (x_p - r_p))``. At most ``chunk_size`` interpolated inputs exist at a time
    (whole paths of ``chunk_size // S`` pairs per compiled call; long paths are
    split into blocks of steps), so memory does not grow with ``steps``.

    Args:
        function: the :class:`keras_iml.engine.ModelFunction`.
        x: ``(P, L, 4)`` inputs.
        refs: ``(P, L, 4)`` references paired with ``x``.
        alphas: ``(P, S)`` or ``(S,)`` interpolation coefficients.
        weights: same shape as ``alphas``.
        chunk_size: interpolated inputs per gradient call.
        fast: True uses the first registered fast path that applies
            (:mod:`keras_iml.engine.fast_paths`, hook ``"path_gradients"``) when paths
            have more than one step; False forces the plain path; a plugin name
            forces that fast path.

    Returns:
        float32 array ``(P, L, 4)``.
    """
    if fast is True and np.ndim(alphas) and np.shape(alphas)[-1] == 1:
        # A fast path shares the activations of x and r over the steps of a path; with
        # one point per path (expected gradients) there is nothing to share and the
        # split would cost two passes instead of one.
        fast = False
    _, path_fn = function.compiled(("keras_iml.path_gradients", fast),
                                   lambda: build_path_function(function, fast))
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
            out[p] += np.asarray(path_fn(x[p], refs[p], np.ascontiguousarray(alphas[p, s]),
                                         np.ascontiguousarray(weights[p, s])))
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

    With ``attribute_aux=True`` a model's auxiliary inputs ``a`` get integrated
    gradients along their own path from 0 to ``a`` with the DNA held at ``x`` (same
    ``steps`` and ``rule``): ``a * mean_alpha df/da(x, alpha a)``, which sums to
    ``f(x, a) - f(x, 0)`` up to the quadrature error.

    Args:
        baseline: ``"zeros"``, ``"uniform"``, ``"random"``, ``"shuffle"``,
            ``"dinuc_shuffle"`` or an array: ``(L, 4)``, ``(B, L, 4)`` (one per
            sequence of the batch) or, with ``n_baselines > 1``, a shared set
            ``(k, L, 4)`` (see :mod:`keras_iml.methods._references`).
        steps: number of Riemann intervals (>= 1).
        rule: ``"midpoint"`` (``steps`` gradients) or ``"trapezoid"`` (``steps + 1``).
        n_baselines: baselines per sequence (useful with random baselines).
        chunk_size: interpolated inputs per gradient call (peak-memory knob; small
            chunks were the fastest on CPU, raise it on a GPU). None: at most 64, fewer
            where the model's activations would exceed the memory budget
            (:mod:`keras_iml.engine.memory`).
        fast: True uses a registered exact fast path when one applies to the model
            (:mod:`keras_iml.engine.fast_paths`); False forces the plain path; the
            name of a fast path forces that one.

    Example:
        >>> attr = keras_iml.explain(model, x, "integrated_gradients", steps=32)
        >>> attr.convergence_delta  # sum(values) - (f(x) - f(0)) per sequence
    """

    order = 2
    default_options = {"steps": 32}
    quick_options = {"steps": 16}

    multiplies_input = True
    attributes_aux = True

    def __init__(self, baseline="zeros", steps=50, rule="midpoint", n_baselines=1,
                 chunk_size=None, fast=True):
        self.baseline = baseline
        self.steps = steps
        self.rule = rule
        self.n_baselines = n_baselines
        self.chunk_size = chunk_size
        self.fast = fast

    @property
    def stochastic(self):
        return refs_lib.is_random(self.baseline, None if self.n_baselines == 1 else self.n_baselines)

    def alternatives(self):
        return [{"baseline": "dinuc_shuffle"}]

    def per_sequence_options(self):
        n = None if self.n_baselines == 1 else self.n_baselines
        return ("baseline",) if refs_lib.per_sequence(self.baseline, n) else ()

    def check_params(self, function):
        refs_lib.check_reference(self.baseline, "baseline")
        check_positive_int(self.steps, "steps")
        check_positive_int(self.n_baselines, "n_baselines")
        check_chunk_size(self.chunk_size)
        if self.rule not in RULES:
            raise ValueError(f"`rule` must be one of {RULES}. Received: rule={self.rule!r}")
        check_fast(self.fast)

    def attribute(self, function, x, rngs):
        b, k = x.shape[0], self.n_baselines
        if k == 1:  # a 3-D array baseline is one baseline per sequence
            refs = refs_lib.make_references(self.baseline, x, rngs)[:, None]
        else:  # a 3-D array is a baseline set shared by all sequences
            refs = refs_lib.make_references(self.baseline, x, rngs, n=k)  # (B, k, L, 4)
        refs = refs.reshape((b * k,) + x.shape[1:])
        xs = np.repeat(x, k, axis=0)
        alphas, weights = quadrature(self.steps, self.rule)
        chunk = function.rows_per_call(self.chunk_size, x.shape[1], upper=64)
        grads = path_gradients(function, xs, refs, alphas, weights, chunk, self.fast)
        values = ((xs - refs) * grads).reshape((b, k) + x.shape[1:])
        hyp = hypothetical_from_multipliers(grads, refs).reshape(values.shape)
        ends = function.batched(function, np.concatenate([x, refs]), chunk)
        gain = (ends[:b, None] - ends[b:].reshape(b, k)).mean(axis=1)
        values = values.mean(axis=1)
        return {
            "values": values,
            "hypothetical": hyp.mean(axis=1),
            "convergence_delta": values.sum(axis=(1, 2)) - gain,
        }

    def attribute_aux(self, function, x, aux):
        alphas, weights = quadrature(self.steps, self.rule)
        total = [np.zeros(a.shape, np.float64) for a in aux]
        for alpha, weight in zip(alphas, weights):
            with function.bound([alpha * a for a in aux]):
                for t, g in zip(total, function.aux_gradient(x)):
                    t += weight * g
        return [(a * t).astype(np.float32) for a, t in zip(aux, total)]
