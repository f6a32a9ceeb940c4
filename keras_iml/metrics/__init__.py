"""Validation metrics and their registry.

Every module of this package is imported here, so a new metric is one file with a
``@register("name")`` class declaring its ``tier``, ``higher_is_better``,
``requires`` and default ``threshold``. Metrics provided by optional modules are
registered lazily (``REGISTRY.register_lazy``): ``keras_iml.metrics.motif_recovery`` registers the
tier-3 ``"motif_recovery"`` metric when it is installed.

Example:
    >>> from keras_iml import metrics
    >>> metrics.names()
    >>> metrics.get("deletion", fractions=[0, 0.05, 0.1, 0.2]).tier
    2
"""

from keras_iml.metrics.base import (
    REGISTRY,
    REQUIREMENTS,
    Metric,
    MetricResult,
    NotApplicable,
    PairwiseMetric,
    get,
    get_class,
    names,
    register,
    serialize,
)
from keras_iml.metrics.context import Context, signed_contribution

from keras_iml.registry import import_submodules

import_submodules(__name__, __path__, skip=("base", "context", "motif_recovery"))
# motif_recovery (TF-MoDISco: slow to import) registers "motif_recovery" on first use.
REGISTRY.register_lazy("motif_recovery", "keras_iml.metrics.motif_recovery")

__all__ = [
    "REGISTRY",
    "REQUIREMENTS",
    "Context",
    "Metric",
    "MetricResult",
    "NotApplicable",
    "PairwiseMetric",
    "get",
    "get_class",
    "names",
    "register",
    "serialize",
    "signed_contribution",
]
