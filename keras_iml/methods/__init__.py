"""Attribution methods and their registry.

Every module in this package is imported here, so a new method is one file with a
``@register("name")`` class (and is then covered by the common test suite).

Example:
    >>> from keras_iml import methods
    >>> methods.names()
    >>> ig = methods.get("integrated_gradients", steps=32)
"""

from keras_iml.methods.base import (
    REGISTRY,
    AttributionMethod,
    get,
    hypothetical_from_multipliers,
    names,
    register,
    serialize,
)

from keras_iml.registry import import_submodules

import_submodules(__name__, __path__, skip=("base",))

__all__ = ["REGISTRY", "AttributionMethod", "get", "names", "register", "serialize",
           "hypothetical_from_multipliers"]
