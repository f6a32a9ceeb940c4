"""Zoo model families and their registry.

Every module in this package is imported here, so a new family is one module with a
:class:`Family` subclass and its registration line (``@register``); ``load`` and the
batch runner then pick it by the first component of a zoo name. The registry itself is
:mod:`keras_iml.zoo.families.base`.

Example:
    >>> from keras_iml.zoo import families
    >>> families.names()
    ['DeepBind', 'FactorNet', 'JASPAR', 'MPRA-DragoNN', 'keras']
    >>> families.family_of("DeepBind/Homo_sapiens/TF/D00328.018_ChIP-seq_CTCF").options
    ('window_size', 'average')
"""

from keras_iml.registry import import_submodules
from keras_iml.zoo.families.base import (
    REGISTRY,
    Family,
    Request,
    family_of,
    fixed_length,
    get,
    kipoi_files,
    names,
    register,
    registered,
    unregister,
)

import_submodules(__name__, __path__, skip=("base",))

__all__ = ["REGISTRY", "Family", "Request", "family_of", "fixed_length", "get", "kipoi_files", "names",
           "register", "registered", "unregister"]
