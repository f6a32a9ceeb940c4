"""Saliency: the gradient of the target with respect to the one-hot input."""

from keras_iml.methods.base import AttributionMethod, register


@register("saliency")
class Saliency(AttributionMethod):
    """Gradient of the explained output with respect to the input (Simonyan et al. 2014).

    ``values[n, i, b] = df/dx[n, i, b]`` at every base (not masked by the input), so
    ``hypothetical`` is the same array. With ``absolute=True`` the magnitude is
    returned instead, as in the original saliency maps.

    With ``attribute_aux=True`` a model's auxiliary inputs (e.g. a DNase track) get
    their gradient too, at the sequence's values (``|gradient|`` with ``absolute``).

    Args:
        absolute: return ``|gradient|``.

    Example:
        >>> keras_iml.explain(model, x, "saliency")
    """

    order = 0
    default_options = {}
    quick_options = {}

    attributes_aux = True

    def __init__(self, absolute=False):
        self.absolute = absolute

    def attribute_aux(self, function, x, aux):
        grads = function.aux_gradient(x)
        return [abs(g) for g in grads] if self.absolute else grads

    def attribute(self, function, x, rngs):
        grad = function.gradient(x)
        if self.absolute:
            grad = abs(grad)
        return {"values": grad, "hypothetical": grad}
