"""The DeepLIFT engine: multipliers of a Keras model for (input, reference) pairs.

Written natively: shap's DeepExplainer treats TensorFlow's ``Max`` reduction as an
elementwise nonlinearity and fails on GlobalMaxPooling heads, and the PyTorch tools
(captum, tangermeme) route max pooling through the input's argmax only, which
breaks summation to delta on Conv + MaxPool + GlobalMaxPool models.

Here the model is traced once per :class:`~keras_iml.targets.ModelFunction` in a
``tf.function``: on the inputs under ``gradient_override_map`` and on the
references plainly (see :mod:`keras_iml.methods._deeplift_rules`);
``tf.gradients`` (which, unlike ``GradientTape``, honours the overrides) gives the
multipliers. The traced graph is checked op by op
(:mod:`keras_iml.methods._deeplift_graph`) before anything runs, and every
(input, reference) pair is one row of a batch, so the cost of a pair is two
forward rows and one backward row.
"""

import functools
import warnings

import numpy as np
import tensorflow as tf

from keras_iml.methods import _deeplift_graph as graph_check
from keras_iml.methods import _deeplift_rules as rules
from keras_iml.methods.base import hypothetical_from_multipliers

__all__ = ["DeepLiftRunner", "attribute_pairs", "runner_for", "warn_if_not_converged",
           "TOLERANCE"]

#: Relative tolerance of the convergence check (of ``max(1, |f(x)|, |f(r)|)``).
TOLERANCE = 1e-3


class DeepLiftRunner:
    """Compiled DeepLIFT (rescale rule) multipliers for one model function.

    Args:
        function: the :class:`keras_iml.targets.ModelFunction` to explain.

    Attributes:
        nonlinear_layers: names of the layers whose ops use a DeepLIFT rule (known
            after the first call); used to name suspects in convergence warnings.

    Example:
        >>> runner = DeepLiftRunner(function)
        >>> m, fx, fr = runner(x, refs)  # multipliers (P, L, 4), f(x), f(r)
    """

    def __init__(self, function):
        self.function = function
        self.nonlinear_layers = []
        self._error = None
        spec = tf.TensorSpec([None, None, 4], tf.float32)
        # A partial (no __code__) keys TF's retracing detector on this runner alone.
        self._compiled = tf.function(functools.partial(DeepLiftRunner._multipliers, self),
                                     input_signature=[spec, spec])

    def _multipliers(self, x, ref):
        function = self.function
        graph = tf.compat.v1.get_default_graph()
        start = len(graph.get_operations())
        with graph.gradient_override_map(rules.OVERRIDES):
            yx = tf.cast(function.select(function.raw_call(x)), tf.float32)
        middle = len(graph.get_operations())
        yr = tf.cast(function.select(function.raw_call(ref)), tf.float32)
        ops = graph.get_operations()
        x_ops, r_ops = ops[start:middle], ops[middle:]
        path, self._error = graph_check.check_path(x_ops, x, yx, function.model)
        if self._error is None:
            self._error = _pair_twins(graph, x_ops, r_ops)
        if self._error is not None:  # raised by __call__, outside the trace
            return tf.zeros_like(x), yx, yr
        names = graph_check.layer_names(function.model)
        self.nonlinear_layers = sorted(
            {graph_check.layer_of(op, names) for op in path if op.type in rules.RULE_TYPES}
        )
        grad = tf.gradients(yx, x)[0]
        if grad is None:  # the output does not depend on the input
            grad = tf.zeros_like(x)
        return grad, yx, yr

    def __call__(self, x, refs, chunk_size=128):
        """Multipliers and outputs for pairs ``(x[p], refs[p])``, in chunks of rows.

        Args:
            x: ``(P, L, 4)`` inputs.
            refs: ``(P, L, 4)`` references.
            chunk_size: pairs per compiled call (``2 * chunk_size`` rows go forward
                through the model at once, ``chunk_size`` backward).

        Returns:
            ``(multipliers (P, L, 4), f(x) (P,), f(refs) (P,))`` as float32 numpy. The
            multipliers are not gradient-corrected (see :func:`attribute_pairs`).
        """
        self._compiled.get_concrete_function()  # traces once
        if self._error is not None:
            raise ValueError(self._error)
        x = np.asarray(x, np.float32)
        refs = np.asarray(refs, np.float32)
        parts = []
        for i in range(0, len(x), chunk_size):
            out = self._compiled(tf.constant(x[i : i + chunk_size]),
                                 tf.constant(refs[i : i + chunk_size]))
            parts.append([t.numpy() for t in out])
        return tuple(np.concatenate(p) for p in zip(*parts))


def _pair_twins(graph, x_ops, r_ops):
    """Pairs the rule ops of the input trace with those of the reference trace.

    Returns None, or an error message when the two traces differ.
    """
    x_rule = [op for op in x_ops if op.type in rules.RULE_TYPES]
    r_rule = [op for op in r_ops if op.type in rules.RULE_TYPES]
    if [op.type for op in x_rule] != [op.type for op in r_rule]:
        return (
            "DeepLIFT needs the model to build the same operations on every call, but two "
            f"calls gave {[op.type for op in x_rule]} and {[op.type for op in r_rule]}."
        )
    rules.set_twins(graph, zip(x_rule, r_rule))
    return None


def attribute_pairs(method, function, x, refs, chunk_size):
    """DeepLIFT attributions for pairs ``(x[p], refs[p])``.

    Convergence is checked on the rules' own multipliers (a warning names the
    nonlinear layers when some pair's attributions do not sum to ``f(x) - f(r)``).
    Then the function's gradient correction, if requested, is applied to the
    multipliers: it removes ``sum_c (x - r)_c * mean_c(m)`` at each position, which is
    zero for one-hot references but not for the zero or uniform baselines (where
    the reported ``convergence_delta`` then shows the difference).

    Args:
        method: the calling method instance (holds the traced runner).
        function: the :class:`~keras_iml.targets.ModelFunction`.
        x: ``(P, L, 4)`` inputs.
        refs: ``(P, L, 4)`` references.
        chunk_size: pairs per compiled call.

    Returns:
        ``(values, hypothetical, gain)``: ``(P, L, 4)``, ``(P, L, 4)`` and
        ``f(x) - f(r)`` ``(P,)``.
    """
    runner = runner_for(method, function)
    m, fx, fr = runner(x, refs, chunk_size)
    diff = x - refs
    values = diff * m
    gain = fx - fr
    warn_if_not_converged(values.sum(axis=(1, 2)) - gain, fx, fr, runner, method.name)
    if function.gradient_correction:
        m = m - m.mean(axis=-1, keepdims=True)
        values = diff * m
    return values, hypothetical_from_multipliers(m, refs), gain


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
