"""Cross-check adapters: shap and tf-explain run through keras_iml's interface.

Each adapter takes a Keras model and one-hot sequences and returns a
:class:`keras_iml.Attributions` whose ``method`` names the library
(``"shap.DeepExplainer"``, ``"tf_explain.VanillaGradients"``...), so the library's
answer can be compared with the native methods value for value. Where the library
cannot run on the model or on 1-D sequence inputs, the adapter raises a
``ValueError`` or ``RuntimeError`` that names the library's incompatibility instead
of returning something wrong.

shap and tf-explain are optional (``pip install keras-iml[crosscheck]``) and are
imported only when an adapter is called.

Example:
    >>> from keras_iml import adapters
    >>> ref = adapters.shap_deep(model, x, references=background)
    >>> ours = keras_iml.explain(model, x, "deeplift_shap", references=background,
    ...                          n_references=len(background))
    >>> np.abs(ref.values - ours.values).max()
"""

from keras_iml.adapters.shap_adapter import shap_deep, shap_gradient
from keras_iml.adapters.tf_explain_adapter import (
    tf_explain_explain,
    tf_explain_gradients_inputs,
    tf_explain_integrated_gradients,
    tf_explain_saliency,
)

__all__ = [
    "shap_deep",
    "shap_gradient",
    "tf_explain_explain",
    "tf_explain_gradients_inputs",
    "tf_explain_integrated_gradients",
    "tf_explain_saliency",
]
