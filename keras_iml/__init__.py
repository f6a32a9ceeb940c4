"""keras_iml: rigorous, whole-dataset interpretability for Keras 3 genomics models.

Example:
    >>> import keras_iml
    >>> iml = keras_iml.wrap(model)
    >>> attributions = iml.explain(x, ["saliency", "integrated_gradients", "deeplift_shap"])
    >>> report = iml.validate(x, ground_truth=mask)
"""

import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_iml import dna, methods  # noqa: E402
from keras_iml.attributions import Attributions  # noqa: E402
from keras_iml.explain import explain, iter_explain  # noqa: E402
from keras_iml.wrapper import IMLMixin, IMLModel, wrap  # noqa: E402

__version__ = "0.1.0"


def validate(model, x, y=None, **kwargs):
    """Tiered validation of a model's explanations; see :mod:`keras_iml.validation`."""
    from keras_iml.validation import validate as _validate

    return _validate(model, x, y, **kwargs)


__all__ = [
    "Attributions",
    "IMLMixin",
    "IMLModel",
    "dna",
    "explain",
    "iter_explain",
    "methods",
    "validate",
    "wrap",
]
