"""keras_iml: rigorous, whole-dataset interpretability for Keras 3 genomics models.

Example:
    >>> import keras_iml
    >>> iml = keras_iml.wrap(model)
    >>> attributions = iml.explain(x, ["saliency", "integrated_gradients", "deeplift_shap"])
    >>> report = iml.validate(x, ground_truth=mask)
"""

import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_iml import dna, genome, methods, metrics  # noqa: E402
from keras_iml.attributions import Attributions  # noqa: E402
from keras_iml.explain import explain, iter_explain  # noqa: E402
from keras_iml.explainer import Explainer, TraceCache  # noqa: E402
from keras_iml.surrogate import distill  # noqa: E402
from keras_iml.validation import validate  # noqa: E402
from keras_iml.wrapper import IMLMixin, IMLModel, wrap  # noqa: E402

from keras_iml.version import __version__  # noqa: E402, F401 - the package version


__all__ = [
    "Attributions",
    "Explainer",
    "TraceCache",
    "IMLMixin",
    "IMLModel",
    "distill",
    "dna",
    "explain",
    "genome",
    "iter_explain",
    "methods",
    "metrics",
    "validate",
    "wrap",
]
