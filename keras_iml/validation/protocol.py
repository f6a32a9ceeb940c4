"""`Protocol`: what a validation run measures, fixed before any result is seen.

Like a clinical-trial protocol, it names the methods (and their options), the
metrics (and theirs), the pass thresholds, the top-k percentages, the seed and the
bootstrap settings. The report embeds it verbatim next to the data and model hashes.

Example:
    >>> p = Protocol.from_dict({"base": "quick", "thresholds": {"localisation_auroc": 0.9}})
    >>> p.to_yaml("protocol.yaml")
    >>> keras_iml.validate(model, x, protocol="protocol.yaml")
"""

import copy
import os

import numpy as np
import yaml

from keras_iml import methods as _methods
from keras_iml import metrics as _metrics
from keras_iml.io import atomic_write
from keras_iml.stats import CORRECTIONS
from keras_iml.surrogate import tier as _tier
from keras_iml.validation import controls as _controls
from keras_iml.validation import protocol_fields as _fields

__all__ = ["Protocol", "default_methods", "default_metrics"]

def default_methods(quick=False):
    """The methods of :meth:`Protocol.default` (``quick``: of :meth:`Protocol.quick`):
    every registered method whose class declares ``default_options`` (``quick_options``),
    in its declared ``order``.

    Returns:
        dict label -> options.
    """
    key = "quick_options" if quick else "default_options"
    chosen = sorted((cls.order, name, getattr(cls, key))
                    for name, cls in _methods.REGISTRY.loaded().items() if getattr(cls, key) is not None)
    return {name: copy.deepcopy(options) for _, name, options in chosen}


def default_metrics(quick=False):
    """The metrics of :meth:`Protocol.default` (``quick``: of :meth:`Protocol.quick`):
    every registered metric declaring ``default`` (and ``quick``), in report order
    (tier, then its declared ``order``, then name). A metric registered lazily and not
    yet imported is not among them.

    Returns:
        dict metric name -> options (the ``quick_options`` in the quick protocol).
    """
    chosen = sorted((cls.tier, cls.order, name, cls)
                    for name, cls in _metrics.REGISTRY.loaded().items()
                    if cls.default and (cls.quick or not quick))
    return {name: copy.deepcopy(cls.quick_options) if quick else {} for _, _, name, cls in chosen}


_KEYS = ("name", "methods", "metrics", "thresholds", "adverse_thresholds", "k", "seed",
         "n_bootstrap", "ci_level", "min_model_auroc", "examples", "controls", "alpha", "correction",
         "distill")


class Protocol:
    """The fixed plan of a validation run.

    Args:
        methods: dict label -> options (an option ``name`` picks the registered
            method when the label is not its name), or a list of names.
        metrics: dict metric name -> options, or a list of names (report order).
        thresholds: dict metric name (or row name such as
            ``"localisation_recall@5"``) -> pass threshold (None: reported only).
            Missing keys take the metric's default threshold.
        adverse_thresholds: per-sequence thresholds for the adverse-event list, when
            they differ from ``thresholds``.
        k: top-k percentages for the metrics with a ``ks`` option.
        seed: seed of every random draw of the run.
        n_bootstrap: bootstrap resamples of each confidence interval.
        ci_level: confidence level of the intervals.
        min_model_auroc: with binary ``y``, a model below this AUROC gets a warning.
        examples: ``{"n_random": int}``: random sequences shown for every method.
        name: a label for the protocol.
        controls: the control arms (:mod:`keras_iml.validation.controls`): True
            (default: a matched placebo per method, a randomised-model arm, positive
            controls), False / ``"none"``, or a dict ``{"placebo": bool,
            "randomised_model": {"method": label} or bool, "positive": bool}``.
        alpha: significance level of "beats placebo" (after correction).
        correction: ``"holm"`` (default), ``"bh"`` or ``"none"``: multiple-testing
            correction over each method's metric rows
            (:mod:`keras_iml.validation.evidence`).
        distill: the distillation tier (:mod:`keras_iml.surrogate`): False (default:
            off), True (the options of ``keras_iml.surrogate.tier.TIER_DEFAULTS``)
            or a dict of those options. It fits readable surrogates of the model on
            designed libraries and reports their fidelity, the model's confounders
            and blind spots against the ground truth (``report.distillation``).
    """

    def __init__(self, methods=None, metrics=None, thresholds=None, adverse_thresholds=None,
                 k=(1, 5, 10), seed=0, n_bootstrap=1000, ci_level=0.95, min_model_auroc=0.9,
                 examples=None, name="custom", controls=True, alpha=0.05, correction="holm",
                 distill=False):
        if not isinstance(name, (str, int)) or isinstance(name, bool):
            raise TypeError(f"`protocol['name']` must be a string. Received: name={name!r}")
        self.name = str(name)
        if isinstance(controls, dict) and not all(isinstance(key, str) for key in controls):
            raise TypeError("The keys of `protocol['controls']` must be strings. "
                            f"Received: controls={controls!r}")
        self.controls = _controls.check_controls(controls)
        self.alpha = alpha
        self.correction = correction
        self.distill = _tier.check_tier(distill)
        self.methods = _fields.as_options(methods if methods is not None else {}, "method")
        self.metrics = _fields.as_options(metrics if metrics is not None else list(default_metrics()),
                                          "metric")
        self.k = _fields.check_k(k)
        self.seed = seed
        self.n_bootstrap = n_bootstrap
        self.ci_level = ci_level
        self.min_model_auroc = min_model_auroc
        self.examples = _fields.check_examples(examples)
        thresholds = _fields.check_table(thresholds, "thresholds")
        self.adverse_thresholds = _fields.check_table(adverse_thresholds, "adverse_thresholds")
        self._check_scalars()
        instances = self.metric_instances()
        defaults = {}
        for m in instances:
            if m.threshold is not None:
                defaults[m.name] = float(m.threshold)
        self.thresholds = {**defaults, **thresholds}
        self._check(instances)

    # -- construction ------------------------------------------------------------------
    @classmethod
    def default(cls):
        """Every method and metric whose class declares itself part of the default
        protocol (:func:`default_methods`, :func:`default_metrics`).

        ``motif_recovery`` (TF-MoDISco, minutes per method) is not included; add it
        with ``p.replace(metrics={**p.metrics, "motif_recovery": {}})``.
        """
        return cls(methods=default_methods(), metrics=list(default_metrics()), name="default")

    @classmethod
    def quick(cls):
        """A small protocol for tests and CI: the methods and metrics that declare
        ``quick_options`` (small subsamples)."""
        return cls(methods=default_methods(quick=True), metrics=default_metrics(quick=True),
                   n_bootstrap=200, name="quick")

    @classmethod
    def from_dict(cls, config):
        """Builds a protocol from a dict, merged over ``config["base"]`` (default/quick).

        ``methods``, ``metrics`` and scalar keys replace the base's; ``thresholds``
        and ``adverse_thresholds`` update it. A metric listed by name keeps the
        base's options for it.
        """
        if not isinstance(config, dict):
            raise TypeError(f"`protocol` must be a dict. Received: {type(config).__name__}")
        config = copy.deepcopy(config)
        base_name = config.pop("base", "default")
        if not (base_name is None or isinstance(base_name, str)) \
                or base_name not in ("default", "quick", None):
            raise ValueError(f"`protocol['base']` must be 'default' or 'quick'. Received: {base_name!r}")
        unknown = sorted(set(config) - set(_KEYS), key=repr)
        if unknown:
            raise ValueError(f"Unknown protocol key(s) {unknown}. Valid keys: {['base', *_KEYS]}")
        base = {} if base_name is None else (cls.quick() if base_name == "quick" else cls.default()).to_dict()
        merged = dict(base)
        if "metrics" in config:  # the base's thresholds are its metrics' defaults: re-derive them
            merged.pop("thresholds", None)
            merged.pop("adverse_thresholds", None)
        for key, value in config.items():
            if key in ("thresholds", "adverse_thresholds"):
                merged[key] = {**merged.get(key, {}), **_fields.check_table(value, key)}
            elif key in ("metrics", "methods") and value is None:
                merged[key] = None  # as in the constructor: no methods, the default metrics
            elif key == "metrics":
                opts = _fields.as_options(value, "metric")
                merged[key] = {m: {**base.get("metrics", {}).get(m, {}), **o} for m, o in opts.items()}
            elif key == "methods":
                opts = _fields.as_options(value, "method")
                merged[key] = {m: (o or dict(base.get("methods", {}).get(m, {}))) for m, o in opts.items()}
            else:
                merged[key] = value
        merged.setdefault("name", "custom")
        if "name" not in config and base_name is not None:
            merged["name"] = f"{base_name}+custom" if config else base_name
        return cls(**merged)

    @classmethod
    def from_yaml(cls, path):
        """Reads a protocol from a YAML (or JSON) file; see :meth:`from_dict`.

        Raises:
            ValueError: the file is not UTF-8 YAML, or not a valid protocol (the message
                names the file).
            TypeError: a protocol field of the wrong type.
        """
        path = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as fh:
                config = yaml.safe_load(fh)
        except (UnicodeDecodeError, yaml.YAMLError) as err:
            raise ValueError(
                f"The protocol file is not readable YAML ({type(err).__name__}: "
                f"{str(err)[:300]}). Received: protocol={path!r}") from None
        if config is not None and not isinstance(config, dict):
            raise TypeError(
                "A protocol file must hold a YAML mapping (key: value lines). "
                f"Received: a {type(config).__name__} in protocol={path!r}")
        try:
            return cls.from_dict(config or {})
        except (ValueError, TypeError) as err:
            kind = TypeError if isinstance(err, TypeError) else ValueError
            raise kind(f"{err} (in protocol={path!r})") from None

    @classmethod
    def from_any(cls, protocol):
        """None (default), ``"default"``, ``"quick"``, a Protocol, a dict or a YAML path."""
        if protocol is None or protocol == "default":
            return cls.default()
        if protocol == "quick":
            return cls.quick()
        if isinstance(protocol, Protocol):
            return protocol
        if isinstance(protocol, dict):
            return cls.from_dict(protocol)
        if isinstance(protocol, (str, os.PathLike)):
            if not os.path.exists(protocol):
                raise FileNotFoundError(
                    "`protocol` must be 'default', 'quick' or the path of a YAML file; no such "
                    f"file. Received: protocol={protocol!r}")
            return cls.from_yaml(protocol)
        raise TypeError(
            "`protocol` must be None, 'default', 'quick', a Protocol, a dict or a YAML path. "
            f"Received: protocol of type {type(protocol).__name__}"
        )

    # -- checks and access -------------------------------------------------------------
    def _check_scalars(self):
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"`protocol['seed']` must be a non-negative int. Received: {self.seed!r}")
        if isinstance(self.n_bootstrap, bool) or not isinstance(self.n_bootstrap, (int, np.integer)) \
                or self.n_bootstrap < 0:
            raise ValueError(f"`protocol['n_bootstrap']` must be an int >= 0. Received: {self.n_bootstrap!r}")
        if not _fields.is_number(self.ci_level) or not 0 < float(self.ci_level) < 1:
            raise ValueError(f"`protocol['ci_level']` must be in (0, 1). Received: {self.ci_level!r}")
        if not _fields.is_number(self.alpha) or not 0 < float(self.alpha) < 1:
            raise ValueError(f"`protocol['alpha']` must be in (0, 1). Received: {self.alpha!r}")
        if not isinstance(self.correction, str) or self.correction not in CORRECTIONS:
            raise ValueError(f"`protocol['correction']` must be one of {CORRECTIONS}. "
                             f"Received: {self.correction!r}")
        auroc = self.min_model_auroc
        if auroc is not None and not (_fields.is_number(auroc) and 0 <= float(auroc) <= 1):
            raise ValueError("`protocol['min_model_auroc']` must be None or a number in [0, 1]. "
                             f"Received: {auroc!r}")

    def _check(self, instances):
        if not self.metrics:
            raise ValueError("`protocol['metrics']` must name at least one metric. Received: []")
        for label in self.methods:
            self.method_instance(label)  # raises ValueError for unknown methods/options
        for metric in instances:
            metric.check_options()
        known = self.known_keys(instances)
        for table in ("thresholds", "adverse_thresholds"):
            for key, value in getattr(self, table).items():
                if key not in known:
                    raise ValueError(
                        f"Unknown metric {key!r} in `protocol['{table}']`. "
                        f"Metrics of this protocol: {sorted(known)}"
                    )
                if value is not None and not np.isfinite(float(value)):
                    raise ValueError(
                        f"`protocol['{table}'][{key!r}]` must be a number or None. Received: {value!r}"
                    )

    def known_keys(self, instances=None):
        """Metric names and summary-row names that thresholds may refer to."""
        known = set(self.metrics)
        for m in instances if instances is not None else self.metric_instances():
            known.update(m.row_names())
        return known

    def method_instance(self, label):
        """The configured ``AttributionMethod`` for a label of ``methods``."""
        opts = dict(self.methods[label])
        name = opts.pop("name", label)
        return _methods.get(name, **opts)

    def metric_instances(self):
        """The configured metrics, in protocol order (``ks`` filled from ``k``)."""
        out = []
        for name, opts in self.metrics.items():
            cls = _metrics.get_class(name)
            opts = dict(opts)
            if "ks" in cls.option_names() and "ks" not in opts:
                opts["ks"] = list(self.k)
            out.append(_metrics.get(name, **opts))
        return out

    def threshold(self, metric, row, adverse=False):
        """Pass threshold of a summary row (row name first, then metric name)."""
        tables = [self.adverse_thresholds, self.thresholds] if adverse else [self.thresholds]
        for table in tables:
            for key in (row, metric):
                if key in table:
                    return table[key]
        return None

    def replace(self, **changes):
        """A copy with some fields changed (e.g. ``seed``, ``metrics``).

        When ``metrics`` changes, thresholds of metrics no longer listed are dropped and
        the new metrics get their defaults (unless ``thresholds`` is given too).
        """
        config = {**self.to_dict(), **changes}
        if "metrics" in changes:
            probe = Protocol(**{**config, "thresholds": {}, "adverse_thresholds": {}})
            known = probe.known_keys()
            for table in ("thresholds", "adverse_thresholds"):
                if table not in changes:
                    config[table] = {k: v for k, v in config[table].items() if k in known}
        return Protocol(**config)

    def to_dict(self):
        """The protocol as plain data (embedded in the report)."""
        return copy.deepcopy({
            "name": self.name,
            "methods": self.methods,
            "metrics": self.metrics,
            "thresholds": self.thresholds,
            "adverse_thresholds": self.adverse_thresholds,
            "k": self.k,
            "seed": int(self.seed),
            "n_bootstrap": int(self.n_bootstrap),
            "ci_level": float(self.ci_level),
            "min_model_auroc": self.min_model_auroc,
            "examples": self.examples,
            "controls": self.controls,
            "alpha": float(self.alpha),
            "correction": self.correction,
            "distill": self.distill or False,
        })

    def to_yaml(self, path):
        """Writes the protocol as YAML (atomically)."""
        def write(tmp):
            with open(tmp, "w") as fh:
                yaml.safe_dump(_plain(self.to_dict()), fh, sort_keys=False)

        return atomic_write(path, write)

    def __repr__(self):
        return (f"Protocol(name={self.name!r}, methods={list(self.methods)}, "
                f"metrics={list(self.metrics)}, seed={self.seed})")


def _plain(obj):
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj
