"""The base classes of validation metrics and the metric registry.

Two kinds of metric, as in xplique's split: metrics on finished attributions
(``requires`` is a subset of ``{"attributions", "ground_truth", "motifs"}``) and
metrics that re-run the method or query the model (``"method"``, ``"model"``,
``"ensemble"``). The validation runner checks ``requires`` against what the user
gave and reports a metric whose inputs are absent as *not run*, with the reason.
"""

import dataclasses
import importlib
import importlib.util
import inspect

import numpy as np

__all__ = [
    "Metric",
    "PairwiseMetric",
    "MetricResult",
    "NotApplicable",
    "REQUIREMENTS",
    "register",
    "get",
    "names",
]

REQUIREMENTS = frozenset({"attributions", "method", "model", "ground_truth", "motifs", "ensemble"})

_REGISTRY = {}
# Metrics registered by optional modules, imported on first use (name -> module).
# keras_iml.motifs (TF-MoDISco, slow to import) registers "motif_recovery" this way.
_LAZY = {"motif_recovery": "keras_iml.motifs.metric"}


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


class Metric:
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
        quick: included in :meth:`Protocol.quick`.
    """

    name = None
    tier = None
    higher_is_better = True
    requires = frozenset({"attributions"})
    threshold = None
    aggregate = "mean"
    quick = True
    pairwise = False

    def get_config(self):
        return {p: getattr(self, p) for p in self.option_names()}

    @classmethod
    def option_names(cls):
        params = inspect.signature(cls.__init__).parameters
        return [p for p in params if p not in ("self", "args", "kwargs")]

    def __init__(self):
        pass

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

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


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


def register(name):
    """Class decorator adding a metric to the registry under ``name``.

    Example:
        >>> @register("my_metric")
        ... class MyMetric(Metric):
        ...     tier = 3
        ...     def compute(self, ctx, method):
        ...         return ctx.importance(method).max(1)
    """

    def decorator(cls):
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"A metric named {name!r} is already registered.")
        if cls.tier not in (1, 2, 3):
            raise ValueError(f"Metric {name!r} must declare tier 1, 2 or 3. Received: {cls.tier!r}")
        unknown = set(cls.requires) - REQUIREMENTS
        if unknown or "attributions" not in cls.requires:
            raise ValueError(
                f"Metric {name!r}: `requires` must include 'attributions' and be a subset of "
                f"{sorted(REQUIREMENTS)}. Received: {sorted(cls.requires)}"
            )
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorator


def _lazy_available(name):
    module = _LAZY.get(name)
    if module is None or name in _REGISTRY:
        return False
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def names():
    """Sorted names of the registered metrics (and of lazily registered ones present)."""
    return sorted(set(_REGISTRY) | {n for n in _LAZY if _lazy_available(n)})


def get_class(name):
    """The metric class registered under ``name`` (importing an optional module if needed)."""
    if name not in _REGISTRY and _lazy_available(name):
        importlib.import_module(_LAZY[name])
    if name not in _REGISTRY:
        raise ValueError(f"Unknown metric: {name!r}. Available: {names()}")
    return _REGISTRY[name]


def get(identifier, **options):
    """Returns a metric instance from a name, a config dict or an instance.

    Args:
        identifier: ``"localisation_auroc"``; ``{"name": name, **options}``; or a
            :class:`Metric`.
        **options: constructor options (with a name or config only).

    Example:
        >>> get("deletion", fractions=[0, 0.1, 0.2])
    """
    if isinstance(identifier, Metric):
        if options:
            raise ValueError(f"Options cannot be given with a metric instance. Received: {sorted(options)}")
        return identifier
    if isinstance(identifier, dict):
        config = dict(identifier)
        if "name" not in config:
            raise ValueError(f"A metric config needs a 'name' key. Received: metric={identifier!r}")
        return get(config.pop("name"), **{**config, **options})
    if not isinstance(identifier, str):
        raise TypeError(
            f"`metric` must be a name, a config dict or a Metric. "
            f"Received: metric of type {type(identifier).__name__}"
        )
    cls = get_class(identifier)
    unknown = sorted(set(options) - set(cls.option_names()))
    if unknown:
        raise ValueError(
            f"Unknown option(s) {unknown} for metric {identifier!r}. "
            f"Valid options: {cls.option_names()}"
        )
    return cls(**options)


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
