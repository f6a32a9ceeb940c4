"""keras_iml: rigorous, whole-dataset interpretability for Keras 3 genomics models.

Example:
    >>> import keras_iml
    >>> iml = keras_iml.wrap(model)
    >>> attributions = iml.explain(x, ["saliency", "integrated_gradients", "deeplift_shap"])
    >>> report = iml.validate(x, ground_truth=mask)

The public names load on first use (PEP 562), so that ``keras-iml --help`` and other
light commands do not pay for importing TensorFlow. When Keras is already imported,
``import keras_iml`` loads them at once (which also registers ``IMLModel`` for
``keras.models.load_model``).
"""

import importlib as _importlib
import os as _os
import sys as _sys

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_iml.version import __version__  # noqa: E402, F401 - the package version

#: public name -> the module that defines it
_PUBLIC = {
    "Attributions": "keras_iml.attributions",
    "Explainer": "keras_iml.explainer",
    "TraceCache": "keras_iml.trace_cache",
    "IMLMixin": "keras_iml.wrapper",
    "IMLModel": "keras_iml.wrapper",
    "wrap": "keras_iml.wrapper",
    "distill": "keras_iml.surrogate",
    "explain": "keras_iml.explanations",
    "iter_explain": "keras_iml.explanations",
    "clear_cache": "keras_iml.explanations",
    "validate": "keras_iml.validation",
}
_SUBMODULES = ("dna", "genome", "methods", "metrics")

__all__ = sorted([*_PUBLIC, *_SUBMODULES])


def __getattr__(name):
    if name in _PUBLIC:
        value = getattr(_importlib.import_module(_PUBLIC[name]), name)
    elif name in _SUBMODULES:
        value = _importlib.import_module(f"keras_iml.{name}")
    else:
        raise AttributeError(f"module 'keras_iml' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


def _load_all():
    for name in __all__:
        __getattr__(name)


if "keras" in _sys.modules:  # Keras is loaded anyway: load everything now
    _load_all()
