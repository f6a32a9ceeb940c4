"""The engine's layers below the :class:`keras_iml.Explainer` (:mod:`keras_iml.explainer`).

* :class:`ModelFunction` (:mod:`~keras_iml.engine.function`): the explained scalar
  ``f(x)`` with compiled forward and gradient passes; what methods receive.
* :mod:`~keras_iml.engine.targets`: which output is explained.
* :mod:`~keras_iml.engine.backend`: compile / gradient / VJP on TensorFlow, JAX, PyTorch.
* :mod:`~keras_iml.engine.fast_paths`: plugins registering faster exact computations.
* :mod:`~keras_iml.engine.seeds`: per-sequence generators keyed by the sequence.
* :mod:`~keras_iml.engine.inputs`: accepted forms of ``x`` and auxiliary inputs.

Nothing here imports the method or metric registries, so methods build on it.
"""

from keras_iml.engine import backend, fast_paths, inputs, seeds, targets
from keras_iml.engine.function import InputLayout, ModelFunction

__all__ = ["InputLayout", "ModelFunction", "backend", "fast_paths", "inputs", "seeds", "targets"]
