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

    Native because tf-explain's ``GradientsInputs.explain`` fails on 1-D sequence
    inputs (it assumes images); the compiled batched gradient of
    :class:`keras_iml.engine.ModelFunction` is all that is needed.

    Example:
        >>> keras_iml.explain(model, x, "input_x_gradient").values
    """

    multiplies_input = True

    def __init__(self):
        pass

    def attribute(self, function, x, rngs):
        grad = function.gradient(x)
        return {"values": grad * x, "hypothetical": grad}
