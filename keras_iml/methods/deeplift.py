"""DeepLIFT with the rescale rule (Shrikumar et al. 2017), native for Keras 3 models."""

from keras_iml.methods import _deeplift_engine as engine
from keras_iml.methods import _deeplift_graph
from keras_iml.methods import _references as refs_lib
from keras_iml.methods.base import AttributionMethod, register
from keras_iml.methods.integrated_gradients import check_chunk_size

__all__ = ["DeepLift", "traced_ops"]


def traced_ops(model):
    """The TensorFlow ops on the path from a Keras model's input to its output.

    The model is traced on a symbolic ``(N, L, 4)`` batch (TensorFlow backend),
    as DeepLIFT does to check that every op has a rule; other tools use the list
    to find what they cannot handle (e.g. shap's DeepExplainer and ``Max``).

    Args:
        model: a Keras model taking one-hot ``(N, L, 4)`` sequences.

    Returns:
        list of ``(op_type, layer_name)``, e.g. ``[("Conv2D", "conv1d"), ...]``.
    """
    return _deeplift_graph.path_ops(lambda t: model(t, training=False), model)


@register("deeplift")
class DeepLift(AttributionMethod):
    """DeepLIFT (rescale rule): ``values = (x - r) * m`` for one reference ``r``.

    The multipliers ``m`` come from the model's gradient with every nonlinear
    operation's derivative replaced by a DeepLIFT rule (rescale for elementwise
    activations: ReLU family, sigmoid, tanh, softplus, ELU/SELU...; an exact rule
    for max pooling and global max pooling; a sum-preserving rule for softmax; see
    :mod:`keras_iml.methods._deeplift_rules`). Linear layers (Dense, Conv1D with any
    padding, stride or dilation, average pooling, BatchNormalization and Dropout in
    inference, Flatten, Reshape, slices) keep their gradients. The attributions
    therefore sum to ``f(x) - f(r)``; the remainder is reported per sequence as
    ``convergence_delta`` and a warning names the nonlinear layers when it exceeds
    ``1e-3`` of ``max(1, |f(x)|, |f(r)|)``. A model containing an operation without
    a correct rule (e.g. a product of two input-dependent tensors as in gating,
    GELU or SiLU) raises a ``ValueError`` listing the operations and their layers.

    Like shap's DeepExplainer, ``values`` is ``(x - r) * m`` at every base, so with a
    one-hot reference the reference's bases get (opposite-signed) values too.
    ``hypothetical`` is ``m - sum_c r_c m_c`` (TF-MoDISco's input); ``values`` and
    ``hypothetical * x`` have the same sum at every position (they are equal with
    the zero baseline). With ``gradient_correction=True`` the per-position mean
    over bases is removed from ``m``: with a one-hot reference this keeps the
    per-position sums and ``hypothetical`` unchanged; with the zero or uniform
    baseline it changes them, and ``convergence_delta`` shows by how much.

    Args:
        baseline: ``"zeros"``, ``"uniform"``, ``"random"``, ``"shuffle"``,
            ``"dinuc_shuffle"`` or an array ``(L, 4)`` / ``(B, L, 4)`` (see
            :mod:`keras_iml.methods._references`).
        chunk_size: (input, reference) pairs per compiled call (memory knob). None:
            at most 128, fewer where the model's activations would exceed the
            memory budget (:mod:`keras_iml.engine.memory`).

    Example:
        >>> attr = keras_iml.explain(model, x, "deeplift", baseline="dinuc_shuffle", seed=0)
        >>> attr.convergence_delta  # ~0 for every sequence
    """

    multiplies_input = True
    #: The rules are TensorFlow gradient overrides (``gradient_override_map``).
    backends = ("tensorflow",)

    def __init__(self, baseline="zeros", chunk_size=None):
        self.baseline = baseline
        self.chunk_size = chunk_size

    @property
    def stochastic(self):
        return refs_lib.is_random(self.baseline)

    def alternatives(self):
        return [{"baseline": "dinuc_shuffle"}]

    def per_sequence_options(self):
        return ("baseline",) if refs_lib.per_sequence(self.baseline) else ()

    def check_params(self, function):
        refs_lib.check_reference(self.baseline, "baseline")
        check_chunk_size(self.chunk_size)

    def attribute(self, function, x, rngs):
        ref = refs_lib.make_references(self.baseline, x, rngs)
        chunk = function.rows_per_call(self.chunk_size, x.shape[1], upper=128)
        values, hyp, gain = engine.attribute(self, function, x, ref[:, None], chunk)
        return {
            "values": values,
            "hypothetical": hyp,
            "convergence_delta": values.sum(axis=(1, 2)) - gain,
        }
