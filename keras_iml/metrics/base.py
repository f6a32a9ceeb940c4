"""The base classes of validation metrics and the metric registry.

Two kinds of metric, as in xplique's split: metrics on finished attributions
(``requires`` is a subset of ``{"attributions", "ground_truth", "motifs"}``) and
metrics that re-run the method or query the model (``"method"``, ``"model"``,
``"ensemble"``). The validation runner checks ``requires`` against what the user
gave and reports a metric whose inputs are absent as *not run*, with the reason.
"""

import dataclasses

import numpy as np

from keras_iml.registry import Configurable, Registry

__all__ = [
    "Metric",
    "PairwiseMetric",
    "MetricResult",
    "NotApplicable",
    "REQUIREMENTS",
    "REGISTRY",
    "register",
    "get",
    "get_class",
    "names",
    "serialize",
]

REQUIREMENTS = frozenset({"attributions", "method", "model", "ground_truth", "motifs", "ensemble"})



class NotApplicable(Exception):
    """Raised by a metric when it cannot run for a method; the message is the reason."""


@dataclasses.dataclass
class MetricResult:
    """What a metric returns for one method (or one pair of methods).

    Attributes:
        per_sequence: dict row name -> float array ``(N,)`` (NaN where the score is
            undefined or the sequence was outside the metric's subsample). Most
            metrics have one row named after the metric; k-dependent ones have one
            row per k (e.g. ``"localisation_recall@5"``).
        curves: dict curve name -> long DataFrame (rows for this method).
        tables: dict name -> DataFrame of extra results (e.g. ``"motifs"``).
    """

    per_sequence: dict
    curves: dict = dataclasses.field(default_factory=dict)
    tables: dict = dataclasses.field(default_factory=dict)


class Metric(Configurable):
    """Base of every validation metric.

    Subclasses set the class attributes and implement :meth:`compute`. Like
    attribution methods, ``__init__`` takes explicit keyword options and only stores
    them under the same names (``get_config`` reads them).

    Class attributes:
        name: registered name (set by ``@register``).
        tier: 1 (consistency), 2 (faithfulness) or 3 (biological validity).
        higher_is_better: direction of the score.
        requires: subset of :data:`REQUIREMENTS`.
        threshold: default pass threshold of the aggregate (None: reported only).
        aggregate: ``"mean"`` or ``"median"`` over sequences.
        default: included in :meth:`Protocol.default` (so a new metric runs in every
            default protocol without any list being edited).
        quick: included in :meth:`Protocol.quick`, with the options ``quick_options``.
        quick_options: the metric's options in the quick protocol.
        order: its place within its tier in the default protocols and the report
            (ties by name; a new metric's default 100 puts it after the built-ins).
        pairwise: compares two methods (see :class:`PairwiseMetric`).
        curve_section: the report section that shows the curves the metric returns
            (``"faithfulness"``, ``"randomisation"``, ``"localisation"``,
            ``"stability"`` or ``"other"``).
        placebo_ceiling: a model-independent map attains the metric's best value
            (ensemble stability: the same noise for every model), so a placebo is
            never beaten on it; the run flags it uninformative when the placebo does
            as well as the methods.
        placebo_comparable: False for a metric of a property only the method defines
            (completeness: its own convergence delta), which a placebo map lacks;
            such a metric is judged on its threshold alone.
        on_control_arms: False for a metric too slow to run on every control arm
            (it is then judged on its threshold alone; say why where it is set).
        dataset_relative: per-sequence scores are scaled by a statistic of the whole
            data (e.g. the spread of the model's outputs), so they are invariant to
            the other sequences only up to that scale.
    """

    name = None
    tier = None
    higher_is_better = True
    requires = frozenset({"attributions"})
    threshold = None
    aggregate = "mean"
    default = True
    quick = True
    quick_options = {}
    order = 100
    pairwise = False
    curve_section = "other"
    placebo_ceiling = False
    placebo_comparable = True
    on_control_arms = True
    dataset_relative = False

    def __init__(self):
        pass

    def check_options(self):
        """Raises ValueError for invalid option values (called when a protocol is built).

        The base checks ``n_sequences`` where a metric has it; a subclass extends it.
        """
        n = getattr(self, "n_sequences", None)
        if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
            raise ValueError(f"Metric {self.name!r}: `n_sequences` must be a positive int or None. "
                             f"Received: n_sequences={n!r}")

    def check(self, ctx, method):  # noqa: ARG002 - hook
        """Returns a reason string when the metric cannot run for ``method``, else None."""
        return None

    def compute(self, ctx, method):
        """Scores one method.

        Args:
            ctx: the :class:`keras_iml.metrics.Context` of the validation run.
            method: label of the method (a key of ``ctx.attributions``).

        Returns:
            a :class:`MetricResult`, a dict row -> ``(N,)`` array, or an ``(N,)``
            array (one row named after the metric).
        """
        raise NotImplementedError

    def row_names(self):
        """Names of the summary rows this metric produces."""
        return [self.name]

    def adverse_reason(self, row, value, threshold):
        """Human-readable reason for a sequence that failed the threshold."""
        side = "below" if self.higher_is_better else "above"
        return f"{row} = {value:.3g}, {side} the threshold {threshold:g}"

class PairwiseMetric(Metric):
    """A metric comparing two methods' attributions of the same sequences.

    Implement :meth:`compute_pair`; the runner calls it for every pair and also
    assembles a method x method matrix of the aggregates (diagonal = ``self_value``).
    """

    pairwise = True
    self_value = 1.0

    def compute_pair(self, ctx, a, b):
        raise NotImplementedError

    def matrix_name(self):
        return self.row_names()[0]


CURVE_SECTIONS = ("faithfulness", "randomisation", "localisation", "stability", "other")


def _check_metric(name, cls):
    if cls.tier not in (1, 2, 3):
        raise ValueError(f"Metric {name!r} must declare tier 1, 2 or 3. Received: {cls.tier!r}")
    unknown = set(cls.requires) - REQUIREMENTS
    if unknown or "attributions" not in cls.requires:
        raise ValueError(
            f"Metric {name!r}: `requires` must include 'attributions' and be a subset of "
            f"{sorted(REQUIREMENTS)}. Received: {sorted(cls.requires)}"
        )
    if cls.curve_section not in CURVE_SECTIONS:
        raise ValueError(
            f"Metric {name!r}: `curve_section` must be one of {CURVE_SECTIONS}. "
            f"Received: {cls.curve_section!r}"
        )


REGISTRY = Registry("metric", Metric, check=_check_metric)

#: Class decorator adding a metric to the registry (see
#: :meth:`keras_iml.registry.Registry.register`).
register = REGISTRY.register
#: Sorted names of the registered metrics (and of lazily registered ones present).
names = REGISTRY.names
#: The metric class registered under a name (importing an optional module if needed).
get_class = REGISTRY.get_class
#: A metric instance from a name, a config dict, a class or an instance.
get = REGISTRY.get
#: ``{"class_name": name, "config": {...}}`` of a metric instance.
serialize = REGISTRY.serialize


def as_result(metric, out, n):
    """Normalises what ``compute`` returned into a :class:`MetricResult`."""
    if isinstance(out, MetricResult):
        result = out
    elif isinstance(out, dict):
        result = MetricResult(per_sequence=out)
    else:
        result = MetricResult(per_sequence={metric.row_names()[0]: out})
    for row, values in result.per_sequence.items():
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (n,):
            raise ValueError(
                f"Metric {metric.name!r} returned per-sequence scores of shape {values.shape} "
                f"for row {row!r}; expected ({n},)."
            )
        result.per_sequence[row] = values
    return result
