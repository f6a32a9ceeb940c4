"""Published TF-binding models (Kipoi zoo, DeepBind, JASPAR PWMs) as native Keras 3 models.

Three subpackages:

* :mod:`keras_iml.zoo.sources`: Kipoi descriptions, the verified weight store and
  cache, and legacy Keras 1/2 files rebuilt as Keras 3;
* :mod:`keras_iml.zoo.families`: one module per model family (DeepBind, FactorNet,
  MPRA-DragoNN, JASPAR PWMs, other Kipoi Keras models) and their registry, which
  :func:`load` consults by the first component of a zoo name;
* :mod:`keras_iml.zoo.batch`: validating many models, resumably, locally or on Ray.

Example:
    >>> import keras_iml.zoo
    >>> keras_iml.zoo.list(family="DeepBind", type="TF").head()
    >>> model = keras_iml.zoo.load("DeepBind/Homo_sapiens/TF/D00328.018_ChIP-seq_CTCF",
    ...                            source="../shared/zoo/kipoi-models")
    >>> model.metadata["tf"], model.metadata["jaspar_ids"][:1]
    (['CTCF'], ['MA0139.2'])

See ``docs/zoo.md``.
"""

from keras_iml.zoo.batch.pool import ModelPool
from keras_iml.zoo.catalogue import jaspar_lookup, list_models, read_catalogue
from keras_iml.zoo.load import ZooModel, load
from keras_iml.zoo.sources.errors import ChecksumError, UnsupportedLayerError, WeightsUnavailableError
from keras_iml.zoo.sources.spec import ModelSpec, read_spec
from keras_iml.zoo.sources.store import WeightStore

list = list_models  # noqa: A001 - ``keras_iml.zoo.list(...)`` is the public name

__all__ = [
    "ChecksumError",
    "ModelPool",
    "ModelSpec",
    "UnsupportedLayerError",
    "WeightStore",
    "WeightsUnavailableError",
    "ZooModel",
    "jaspar_lookup",
    "list",
    "list_models",
    "load",
    "read_catalogue",
    "read_spec",
]
