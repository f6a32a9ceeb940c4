"""Attribution methods and their registry.

Every module in this package is imported here, so a new method is one file with a
``@register("name")`` class (and is then covered by the common test suite).

Example:
    >>> from keras_iml import methods
    >>> methods.names()
    >>> ig = methods.get("integrated_gradients", steps=32)
"""

import importlib
import pkgutil

from keras_iml.methods.base import (
    REGISTRY,
    AttributionMethod,
    get,
    hypothetical_from_multipliers,
    names,
    register,
    serialize,
)

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_") and _info.name != "base":
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["REGISTRY", "AttributionMethod", "get", "names", "register", "serialize",
           "hypothetical_from_multipliers"]
