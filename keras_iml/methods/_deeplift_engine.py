"""The DeepLIFT engine: attributions of a Keras model against per-input references.

Written natively: shap's DeepExplainer treats TensorFlow's ``Max`` reduction as an
elementwise nonlinearity and fails on GlobalMaxPooling heads, and the tools with
careful rules (captum, tangermeme) are PyTorch-only; they also apply their rules
only to ``nn.Module`` nonlinearities, so a functional ``torch.relu`` or
``max_pool1d`` is silently treated as linear.

Here the model is traced once per :class:`~keras_iml.engine.ModelFunction` in a
``tf.function``: on the ``b`` inputs plainly and on their ``b * k`` references
(``k`` per input) under ``gradient_override_map`` (see
:mod:`keras_iml.methods._deeplift_rules`); ``tf.gradients`` (which, unlike
``GradientTape``, honours the overrides) of the reference trace gives the
multipliers. The traced graph is checked op by op
(:mod:`keras_iml.methods._deeplift_graph`) before anything runs.

Why the input side is shared (and why this is written natively): DeepLIFT-SHAP
explains each input against ``k`` references, and the libraries that implement it
(shap, captum, tangermeme) run one forward row for the input *and* one for the
reference of every (input, reference) pair, recomputing the input's forward pass
``k`` times. Its activations do not depend on the reference, so here they are
computed once per input and the rules repeat them for each reference: a pair
costs one forward row and one backward row instead of two and one. The
per-reference attributions are averaged inside the same compiled call, so only
``(b, L, 4)`` arrays come back to numpy.
"""

import functools
import warnings

import numpy as np
import tensorflow as tf

from keras_iml.engine import fast_paths
from keras_iml.methods import _deeplift_graph as graph_check
from keras_iml.methods import _deeplift_linear as linear
from keras_iml.methods import _deeplift_rules as rules

__all__ = ["DeepLiftRunner", "attribute", "positions_per_base", "runner_for",
           "warn_if_not_converged", "FUSE_MIN_POSITIONS", "TOLERANCE"]

#: Relative tolerance of the convergence check (of ``max(1, |f(x)|, |f(r)|)``).
TOLERANCE = 1e-3

#: Chunks of at least this many (pair, position) rows run the XLA-fused rules
#: (positions counted at the widest layer's scale, see :func:`positions_per_base`).
FUSE_MIN_POSITIONS = 1 << 16


def positions_per_base(model):
    """How many activation positions a layer of ``model`` has per input base (>= 1).

    A layer whose activations are much larger than its input says so through a
    plugin of the ``"activation_scale"`` hook (:mod:`keras_iml.engine.fast_paths`):
    e.g. DeepBind's window scan scores every overlapping window with its own
    padding, about 37 activation positions per base at 101 bp. Read once per
    runner; the largest value over the (nested) layers counts.
    """
    scale, stack = 1.0, [model]
    while stack:
        layer = stack.pop()
        _, value = fast_paths.first("activation_scale", layer)
        scale = max(scale, float(value or 1))
        stack.extend(getattr(layer, "layers", None) or [])
    return scale


class DeepLiftRunner:
    """Compiled DeepLIFT (rescale rule) attributions for one model function.

    Args:
        function: the :class:`keras_iml.engine.ModelFunction` to explain.

    Attributes:
        nonlinear_layers: names of the layers whose ops use a DeepLIFT rule (known
            after the first call); used to name suspects in convergence warnings.

    Example:
        >>> runner = DeepLiftRunner(function)
        >>> values, hyp, fx, fr, delta = runner(x, refs)  # refs: (B, k, L, 4)
    """

    def __init__(self, function):
        self.function = function
        self.nonlinear_layers = []
        self._error = None
        self._scale = positions_per_base(function.model)
        spec = tf.TensorSpec(function.x_spec[0], tf.float32)
        # A model's auxiliary inputs are arguments too (the bound rows of the
        # explained sequence, broadcast over its references by raw_call).
        aux = [tf.TensorSpec((None,) + tuple(s), tf.float32) for s in function.inputs.aux_shapes]
        # Two variants: XLA-fused rules (chunks padded to one shape, so XLA compiles
        # once) and plain rules (any shape, nothing to compile). A partial (no
        # __code__) keys TF's retracing detector on this runner alone.
        self._compiled = {
            fuse: tf.function(functools.partial(DeepLiftRunner._attribute, self, fuse=fuse),
                              input_signature=[spec, spec, *aux])
            for fuse in (False, True)
        }

    def _attribute(self, x, refs, *aux, fuse):
        previous, self.function._traced_aux = self.function._traced_aux, tuple(aux)
        try:
            return self._attribute_dna(x, refs, fuse)
        finally:
            self.function._traced_aux = previous

    def _attribute_dna(self, x, refs, fuse):
        function = self.function
        graph = tf.compat.v1.get_default_graph()
        start = len(graph.get_operations())
        yx = tf.cast(function.select(function.raw_call(x)), tf.float32)
        middle = len(graph.get_operations())
        with graph.gradient_override_map({**rules.OVERRIDES, **linear.OVERRIDES}):
            yr = tf.cast(function.select(function.raw_call(refs)), tf.float32)
        ops = graph.get_operations()
        x_ops, r_ops = ops[start:middle], ops[middle:]
        path, self._error = graph_check.check_path(r_ops, refs, yr, function.model)
        b = tf.shape(x)[0]
        k = tf.shape(refs)[0] // b
        if self._error is None:
            self._error = _pair_twins(graph, r_ops, x_ops, b, k, fuse)
        if self._error is not None:  # raised by __call__, outside the trace
            zeros = tf.zeros_like(x)
            return zeros, zeros, yx, yr, yr
        names = graph_check.layer_names(function.model)
        self.nonlinear_layers = sorted(
            {graph_check.layer_of(op, names) for op in path if op.type in rules.RULE_TYPES}
        )
        m = tf.gradients(yr, refs)[0]
        if m is None:  # the output does not depend on the input
            m = tf.zeros_like(refs)
        return _summarise(x, refs, m, yx, yr, b, k, function.gradient_correction)

    def __call__(self, x, refs, chunk_size=128):
        """Attributions of ``x[i]`` averaged over its references ``refs[i]``.

        Inputs go through in chunks of ``step = max(1, chunk_size // k)`` inputs
        and their references. When a chunk holds at least
        :data:`FUSE_MIN_POSITIONS` (pair, position) rows, counting positions at the
        scale the model declares (:func:`positions_per_base`: a DeepBind scan of
        101 bp has about 37 activation positions per base), the rules run
        XLA-fused (about twice as fast) and every chunk, also that of a call with
        fewer inputs, is zero-padded to
        ``step`` inputs: one shape, compiled once per sequence length, instead of
        a compilation (~0.1 s a rule) for every new batch or tail size. A call
        then costs at least one chunk. Other calls run the plain rules, unpadded.

        Args:
            x: ``(B, L, 4)`` inputs.
            refs: ``(B, k, L, 4)`` references, ``k`` per input.
            chunk_size: (input, reference) pairs per compiled call (at least one
                input and all its references).

        Returns:
            float32 numpy ``(values (B, L, 4), hypothetical (B, L, 4), f(x) (B,),
            f(refs) (B, k), pair deltas (B, k))``: the mean over references of
            ``(x - r) * m`` and of ``m - sum_c r_c m_c`` (``m`` gradient-corrected
            when the function asks for it), and per pair
            ``sum((x - r) * m) - (f(x) - f(r))`` with the rules' own ``m``.
        """
        x = np.asarray(x, np.float32)
        refs = np.asarray(refs, np.float32)
        b, k = refs.shape[:2]
        flat = refs.reshape((b * k,) + refs.shape[2:])
        if b == 0:
            return (np.zeros_like(x), np.zeros_like(x), np.zeros(0, np.float32),
                    np.zeros((0, k), np.float32), np.zeros((0, k), np.float32))
        step = max(1, chunk_size // k)
        fuse = step * k * x.shape[1] * self._scale >= FUSE_MIN_POSITIONS
        self._compiled[fuse].get_concrete_function()  # traces once per variant
        if self._error is not None:
            raise ValueError(self._error)
        aux = [tf.constant(a) for a in self.function._aux_arrays()]
        parts = []
        for i in range(0, b, step):
            xc, rc = x[i : i + step], flat[i * k : (i + step) * k]
            n = len(xc)
            if fuse and n < step:
                xc = np.concatenate([xc, np.zeros((step - n,) + xc.shape[1:], np.float32)])
                rc = np.concatenate([rc, np.zeros(((step - n) * k,) + rc.shape[1:], np.float32)])
            out = self._compiled[fuse](tf.constant(xc), tf.constant(rc), *aux)
            parts.append([t.numpy()[: n * (k if j >= 3 else 1)] for j, t in enumerate(out)])
        values, hyp, fx, fr, delta = (np.concatenate(p) for p in zip(*parts))
        return values, hyp, fx, fr.reshape(b, k), delta.reshape(b, k)


def _summarise(x, refs, m, yx, yr, b, k, gradient_correction):
    """Per-input means over the references, and the per-pair convergence deltas."""
    grouped = tf.stack([b, k, tf.shape(x)[1], tf.shape(x)[2]])
    refs = tf.reshape(refs, grouped)
    diff = x[:, None] - refs
    m = tf.reshape(m, grouped)
    gain = yx[:, None] - tf.reshape(yr, [b, k])
    delta = tf.reduce_sum(diff * m, axis=[2, 3]) - gain
    if gradient_correction:
        m = m - tf.reduce_mean(m, axis=-1, keepdims=True)
    values = tf.reduce_mean(diff * m, axis=1)
    hyp = tf.reduce_mean(m - tf.reduce_sum(refs * m, axis=-1, keepdims=True), axis=1)
    return values, hyp, yx, yr, tf.reshape(delta, [-1])


def _pair_twins(graph, r_ops, x_ops, b, k, fuse):
    """Pairs the rule ops of the reference trace with those of the input trace.

    Returns None, or an error message when the two traces differ.
    """
    r_rule = [op for op in r_ops if op.type in rules.RULE_TYPES]
    x_rule = [op for op in x_ops if op.type in rules.RULE_TYPES]
    if [op.type for op in x_rule] != [op.type for op in r_rule]:
        return (
            "DeepLIFT needs the model to build the same operations on every call, but two "
            f"calls gave {[op.type for op in x_rule]} and {[op.type for op in r_rule]}."
        )
    rules.set_twins(graph, zip(r_rule, x_rule), b, k, fuse)
    return None


def attribute(method, function, x, refs, chunk_size):
    """DeepLIFT attributions of ``x`` averaged over its references.

    Convergence is checked per (input, reference) pair on the rules' own
    multipliers (a warning names the nonlinear layers when some pair's
    attributions do not sum to ``f(x) - f(r)``). Then the function's gradient
    correction, if requested, is applied to the multipliers: it removes
    ``sum_c (x - r)_c * mean_c(m)`` at each position, which is zero for one-hot
    references but not for the zero or uniform baselines (where the reported
    ``convergence_delta`` then shows the difference).

    Args:
        method: the calling method instance (its name is used in warnings).
        function: the :class:`~keras_iml.engine.ModelFunction`.
        x: ``(B, L, 4)`` inputs.
        refs: ``(B, k, L, 4)`` references, ``k`` per input.
        chunk_size: (input, reference) pairs per compiled call.

    Returns:
        ``(values, hypothetical, gain)``: ``(B, L, 4)`` and ``(B, L, 4)`` means over
        the references, and ``mean_k f(x) - f(r_k)`` ``(B,)``.
    """
    runner = runner_for(method, function)
    values, hyp, fx, fr, delta = runner(x, refs, chunk_size)
    k = fr.shape[1]
    warn_if_not_converged(delta.ravel(), np.repeat(fx, k), fr.ravel(), runner, method.name)
    return values, hyp, (fx[:, None] - fr).mean(axis=1)


def runner_for(method, function):  # noqa: ARG001 - one runner per function
    """The DeepLIFT runner of ``function``, traced once and kept in its memo."""
    return function.compiled("keras_iml.deeplift", lambda: DeepLiftRunner(function))


def warn_if_not_converged(delta, fx, fr, runner, method_name):
    """Warns when ``|delta| > TOLERANCE * max(1, |f(x)|, |f(r)|)`` for any pair.

    Args:
        delta: ``(P,)`` convergence deltas of (input, reference) pairs.
        fx: ``(P,)`` outputs at the inputs.
        fr: ``(P,)`` outputs at the references.
        runner: the :class:`DeepLiftRunner` (names the nonlinear layers).
        method_name: used in the message.
    """
    scale = np.maximum(1.0, np.maximum(np.abs(fx), np.abs(fr)))
    bad = np.abs(delta) > TOLERANCE * scale
    if bad.any():
        worst = int(np.argmax(np.abs(delta) / scale))
        warnings.warn(
            f"{method_name}: the attributions of {int(bad.sum())} (input, reference) pair(s) "
            f"do not sum to f(x) - f(reference) within {TOLERANCE:g} of the output scale "
            f"(worst: pair {worst}, convergence_delta={float(delta[worst]):.3g}). Layers "
            f"with DeepLIFT rules on the path: {runner.nonlinear_layers}.",
            stacklevel=3,
        )
