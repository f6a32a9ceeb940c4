"""DeepLIFT-SHAP: the DeepLIFT rescale rule averaged over many references per input."""

from keras_iml.methods import _deeplift_engine as engine
from keras_iml.methods import _references as refs_lib
from keras_iml.methods.base import AttributionMethod, register
from keras_iml.methods.integrated_gradients import check_chunk_size, check_positive_int

__all__ = ["DeepLiftShap"]


@register("deeplift_shap")
class DeepLiftShap(AttributionMethod):
    """DeepLIFT-SHAP: ``values = mean_k (x - r_k) * m_k`` over ``n_references``.

    Every input gets its own references (by default ``n_references``
    dinucleotide shuffles drawn from that sequence's generator), as in
    tangermeme's ``deep_lift_shap`` and shap's ``DeepExplainer`` with a background
    set. The ``B * n_references`` (input, reference) pairs of a batch go through one
    compiled DeepLIFT pass in chunks of about ``chunk_size`` pairs (see
    :class:`keras_iml.methods.deeplift.DeepLift` for the rules); each input's
    forward pass runs once and is shared by its references, and the averaging over
    references happens inside the compiled call (see
    :mod:`keras_iml.methods._deeplift_engine`).

    ``convergence_delta = sum(values) - mean_k (f(x) - f(r_k))`` per sequence, which
    equals the mean over references of the per-reference deltas. ``hypothetical``
    averages ``m_k - sum_c r_k,c m_k,c`` over references.

    Args:
        n_references: references per sequence.
        references: ``"dinuc_shuffle"``, ``"shuffle"``, ``"random"``, ``"uniform"``,
            ``"zeros"`` or an array ``(L, 4)``, ``(k, L, 4)`` (a shared set: all used
            in order when ``k == n_references``, otherwise ``n_references`` drawn per
            sequence) or ``(B, k, L, 4)``.
        chunk_size: (input, reference) pairs per compiled call (memory knob; at
            least one input with all its references). None: at most 128, fewer
            where the model's activations would exceed the memory budget
            (:mod:`keras_iml.engine.memory`).

    Example:
        >>> attr = keras_iml.explain(model, x, "deeplift_shap", n_references=20, seed=0)
    """

    order = 3
    default_options = {"n_references": 20}

    stochastic = True
    multiplies_input = True
    #: The rules are TensorFlow gradient overrides (``gradient_override_map``).
    backends = ("tensorflow",)

    def __init__(self, n_references=20, references="dinuc_shuffle", chunk_size=None):
        self.n_references = n_references
        self.references = references
        self.chunk_size = chunk_size

    def alternatives(self):
        return [{"references": "shuffle"}]

    def per_sequence_options(self):
        return ("references",) if refs_lib.per_sequence(self.references, 2) else ()

    def check_params(self, function):
        check_positive_int(self.n_references, "n_references")
        check_chunk_size(self.chunk_size)
        refs_lib.check_reference(self.references, "references")

    def attribute(self, function, x, rngs):
        refs = refs_lib.make_references(self.references, x, rngs, n=self.n_references,
                                        option="references")
        chunk = function.rows_per_call(self.chunk_size, x.shape[1], upper=128)
        values, hyp, gain = engine.attribute(self, function, x, refs, chunk)
        return {
            "values": values,
            "hypothetical": hyp,
            "convergence_delta": values.sum(axis=(1, 2)) - gain,
        }
