"""Input x gradient (Shrikumar et al. 2016): the gradient masked by the one-hot input."""

from keras_iml.methods.base import AttributionMethod, register

__all__ = ["InputXGradient"]


@register("input_x_gradient")
class InputXGradient(AttributionMethod):
    """``values = x * df/dx``: the gradient at the observed base of every position.

    This is DeepLIFT/IG's first-order approximation with an all-zero reference, so
    ``hypothetical`` (the contribution base ``b`` would make at each position) is the
    gradient itself and ``values == hypothetical * x``. On a linear model
    ``f(x) = sum(w * x) + c`` it equals ``w * x`` exactly.

    With ``attribute_aux=True`` a model's auxiliary inputs get ``a * df/da`` (their
    contribution against an all-zero track, to first order).

    Native because tf-explain's ``GradientsInputs.explain`` fails on 1-D sequence
    inputs (it assumes images); the compiled batched gradient of
    :class:`keras_iml.engine.ModelFunction` is all that is needed.

    Example:
        >>> keras_iml.explain(model, x, "input_x_gradient").values
    """

    order = 1
    default_options = {}
    quick_options = {}

    multiplies_input = True
    attributes_aux = True

    def __init__(self):
        pass

    def attribute_aux(self, function, x, aux):
        return [g * a for g, a in zip(function.aux_gradient(x), aux)]

    def attribute(self, function, x, rngs):
        grad = function.gradient(x)
        return {"values": grad * x, "hypothetical": grad}
