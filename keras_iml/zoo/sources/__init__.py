"""Where zoo models come from: Kipoi descriptions, verified files, legacy Keras files.

* :mod:`~keras_iml.zoo.sources.spec`: Kipoi model descriptions (``model.yaml``,
  ``models.tsv`` + template), read without the ``kipoi`` package;
* :mod:`~keras_iml.zoo.sources.store`: the files a model needs, found beside the
  source, in the user cache or downloaded, always checked by md5;
* :mod:`~keras_iml.zoo.sources.legacy` and
  :mod:`~keras_iml.zoo.sources.legacy_layers`: Keras 1/2 architectures and HDF5
  weights rebuilt as native Keras 3 models, executing no code from the files;
* :mod:`~keras_iml.zoo.sources.errors`: what goes wrong on the way.

The families (:mod:`keras_iml.zoo.families`) build models from what these give.
"""

from keras_iml.zoo.sources.errors import ChecksumError, UnsupportedLayerError, WeightsUnavailableError
from keras_iml.zoo.sources.legacy import load_legacy, model_from_legacy
from keras_iml.zoo.sources.spec import FileRef, ModelSpec, group_models, read_spec
from keras_iml.zoo.sources.store import WeightStore, default_cache_dir, md5sum

__all__ = [
    "ChecksumError",
    "FileRef",
    "ModelSpec",
    "UnsupportedLayerError",
    "WeightStore",
    "WeightsUnavailableError",
    "default_cache_dir",
    "group_models",
    "load_legacy",
    "md5sum",
    "model_from_legacy",
    "read_spec",
]
