"""The main job: ``keras-iml demo``, end to end on the embedded TF-binding benchmark.

Generates the ground-truth benchmark (:func:`keras_iml.datasets.make_tf_binding`),
trains an ensemble of seeded Basset-like models, reports the held-out AUROC/AUPRC,
explains held-out sequences with every registered attribution method, validates
the explanations against the planted motifs with :func:`keras_iml.validation.validate`
and writes ``report.html``, ``report.json`` and ``summary.csv``. Every number in
the report comes from the run.

Example:
    >>> from keras_iml.demo import run_demo
    >>> report = run_demo("demo_out", quick=True, seed=0)
"""

import dataclasses
import functools
import importlib
import os
import time

import numpy as np
import pandas as pd

from keras_iml import methods as _methods
from keras_iml.datasets import make_tf_binding
from keras_iml.explanations import explain
from keras_iml.io import atomic_write
from keras_iml.models import basset_like, evaluate, train_ensemble
from keras_iml.trace_cache import TraceCache

__all__ = ["DemoConfig", "run_demo", "summary_table", "MIN_AUROC"]

#: Held-out AUROC below which the report warns that the explanations mean little.
MIN_AUROC = 0.9


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Sizes of a demo run (see :meth:`default` and :meth:`quick`).

    Attributes:
        n_train: training sequences (10% of them are the early-stopping set).
        n_test: held-out sequences for AUROC/AUPRC.
        n_explain: held-out sequences explained and validated.
        length: sequence length in bp.
        grammar: benchmark grammar (see :func:`~keras_iml.datasets.make_tf_binding`).
        k: ensemble size (the first model is explained; the others measure stability).
        epochs: maximum training epochs per model.
        patience: early-stopping patience.
        protocol: validation protocol name (``"default"`` or ``"quick"``).
        metric_options: metric name -> options merged into the protocol's (a metric
            it lacks is added): smaller subsamples that keep the run within its
            time, and the ensemble stability that the quick protocol leaves out.
        left_out: metric name -> reason, for protocol metrics the demo does not run;
            each is listed in the report's ``not_run`` table with its reason.
        architecture: keyword arguments of :func:`~keras_iml.models.basset_like`.
        distill: options of the protocol's distillation tier
            (:data:`keras_iml.surrogate.tier.TIER_DEFAULTS`), or None to leave it out.
        confounded: benchmark options of a planted confounder (e.g. ``{"gc_shift": 0.2}``:
            positives' background GC 0.2 higher): one more model is trained on that
            benchmark and distilled on the same held-out sequences, so that the report
            shows the confounder and the blind spot it causes next to the clean model's
            results (None: left out). It is trained on at most 2,000 sequences for at
            most 8 epochs, to keep the demo within its time.
    """

    n_train: int = 5000
    n_test: int = 1000
    n_explain: int = 100
    length: int = 200
    grammar: str = "mixed"
    k: int = 3
    epochs: int = 20
    patience: int = 2
    protocol: str = "default"
    metric_options: dict = dataclasses.field(default_factory=lambda: {
        name: {"n_sequences": 32} for name in (
            "hyperparameter_sensitivity", "seed_repeatability", "ensemble_stability",
            "rc_equivariance", "pwm_oracle")} | {
        "shift_equivariance": {"n_sequences": 32, "shifts": [1]},
        "randomisation": {"n_sequences": 16}})
    left_out: dict = dataclasses.field(default_factory=lambda: {
        "motif_recovery": "left out of the demo to keep it within 5 minutes: TF-MoDISco "
                          "clustering for every method takes minutes (run keras_iml.validate "
                          "with the default protocol to include it)"})
    architecture: dict = dataclasses.field(default_factory=lambda: {
        "filters": (64, 64), "kernel_sizes": (19, 7), "pool_sizes": (2, 2)})
    distill: dict = dataclasses.field(default_factory=lambda: {"n_queries": 12000})
    confounded: dict = dataclasses.field(default_factory=lambda: {"gc_shift": 0.2})

    @classmethod
    def default(cls):
        """The full demo: the mixed grammar, 3 models, the default protocol."""
        return cls()

    @classmethod
    def quick(cls):
        """A run of about a minute: the single-motif grammar, 2 small models, quick protocol."""
        return cls(n_train=2000, n_test=400, n_explain=48, length=120, grammar="single", k=2,
                   epochs=8, patience=1, protocol="quick",
                   metric_options={"ensemble_stability": {"n_sequences": 16}},
                   architecture={"filters": (32, 32), "kernel_sizes": (19, 7),
                                 "pool_sizes": (2, 2), "hidden": 32},
                   distill={"n_queries": 6000})


def _say(verbose, *parts):
    if verbose:
        print(*parts, flush=True)


def _validation():
    """The validation package; the demo has no other way to score explanations."""
    try:
        validation = importlib.import_module("keras_iml.validation")
    except ImportError as err:
        raise ImportError(
            "keras_iml.validation is required by the demo and could not be imported: "
            f"{err}") from err
    return validation


def _protocol(validation, cfg, seed):
    """The named protocol with the config's metric options, in the default metric order."""
    protocol = validation.Protocol.from_any(cfg.protocol)
    metrics = {k: dict(v) for k, v in protocol.metrics.items()}
    for name, opts in cfg.metric_options.items():
        metrics[name] = {**metrics.get(name, {}), **opts}
    for name in cfg.left_out:
        metrics.pop(name, None)
    order = {m: i for i, m in enumerate(validation.protocol.default_metrics())}
    metrics = dict(sorted(metrics.items(), key=lambda kv: order.get(kv[0], len(order))))
    return protocol.replace(metrics=metrics, seed=int(seed), name=f"demo-{protocol.name}",
                            distill=cfg.distill if cfg.distill is not None else False)


def _method_options(protocol, name):
    """The protocol's options for a method (its defaults when the protocol has none)."""
    for label, opts in protocol.methods.items():
        opts = dict(opts)
        if opts.pop("name", label) == name:
            return opts
    return {}


def run_demo(out="demo_out", *, quick=False, seed=0, verbose=1, config=None):
    """Runs the demo and writes ``report.html``, ``report.json`` and ``summary.csv``.

    Args:
        out: output directory (created if needed).
        quick: use :meth:`DemoConfig.quick` (about a minute) instead of the default.
        seed: seed of the benchmark, the models, the explanations and the validation.
        verbose: 0 (silent) or 1 (progress and a summary table).
        config: a :class:`DemoConfig` overriding ``quick``.

    Returns:
        The :class:`keras_iml.validation.ValidationReport`; its ``model_info`` holds
        the held-out AUROC/AUPRC of every ensemble member, timings, and a
        ``"warning"`` when the explained model's AUROC is below :data:`MIN_AUROC`.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative int. Received: seed={seed!r}")
    cfg = config or (DemoConfig.quick() if quick else DemoConfig.default())
    validation = _validation()
    protocol = _protocol(validation, cfg, seed)
    t_start = time.perf_counter()
    timings = {}

    _say(verbose, f"[1/5] Generating the TF-binding benchmark ({cfg.n_train + cfg.n_test} x "
                  f"{cfg.length} bp, grammar={cfg.grammar!r}, seed={seed})")
    t0 = time.perf_counter()
    data = make_tf_binding(cfg.n_train + cfg.n_test, cfg.length, grammar=cfg.grammar, seed=seed)
    train_idx = np.arange(cfg.n_train)
    test = data.subset(np.arange(cfg.n_train, cfg.n_train + cfg.n_test))
    timings["generate"] = time.perf_counter() - t0
    _say(verbose, f"      true motifs: {', '.join(_label(data, m) for m in data.true_motif_ids)}; "
                  f"decoys: {', '.join(_label(data, m) for m in data.decoy_motif_ids)}")

    _say(verbose, f"[2/5] Training {cfg.k} seeded Basset-like models (early stopping)")
    t0 = time.perf_counter()
    builder = functools.partial(basset_like, cfg.length, **cfg.architecture)
    models, histories = train_ensemble(builder, data.x[train_idx], data.y[train_idx], k=cfg.k,
                                       seed=seed, epochs=cfg.epochs, patience=cfg.patience,
                                       rc_augment=True,
                                       verbose=verbose)
    timings["train"] = time.perf_counter() - t0
    scores = [evaluate(m, test.x, test.y) for m in models]
    model, ensemble = models[0], models[1:]
    model_info = _model_info(cfg, data, scores, histories, model)
    _say(verbose, f"      held-out AUROC {scores[0]['auroc']:.3f}, AUPRC {scores[0]['auprc']:.3f} "
                  f"(n={scores[0]['n']}); ensemble AUROCs "
                  f"{', '.join(format(s['auroc'], '.3f') for s in scores)}")
    if "warning" in model_info:
        _say(verbose, f"\n  WARNING: {model_info['warning']}\n")

    # Every registered method but the controls: the placebo runs as a control arm of
    # each method inside the validation.
    names = [n for n in _methods.names() if not _methods.get(n).control]
    explained = test.subset(np.arange(min(cfg.n_explain, len(test))))
    _say(verbose, f"[3/5] Explaining {len(explained)} held-out sequences with {len(names)} "
                  f"methods: {', '.join(names)}")
    attributions, explain_seconds = {}, {}
    cache = TraceCache()  # one compiled model function shared by every method
    for name in names:
        t0 = time.perf_counter()
        _say(verbose, f"      {name}")
        attributions[name] = explain(model, explained.x, name, seed=int(seed), verbose=verbose,
                                     cache=cache, **_method_options(protocol, name))
        explain_seconds[name] = round(time.perf_counter() - t0, 3)
    timings["explain"] = sum(explain_seconds.values())
    model_info["explain_seconds"] = explain_seconds

    _say(verbose, f"[4/5] Validating against the planted motifs (protocol {protocol.name!r})")
    t0 = time.perf_counter()
    report = validation.validate(
        model, explained.x, explained.y, methods=names, ground_truth=explained.instances,
        motifs=list(data.true_motif_ids), ensemble=ensemble, protocol=protocol, seed=int(seed),
        verbose=verbose, attributions=attributions, cache=cache)
    timings["validate"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_start
    model_info["seconds"] = {k: round(v, 2) for k, v in timings.items()}
    report.model_info.update(model_info)
    _record_left_out(report, cfg, validation.protocol.Protocol.from_any(cfg.protocol))
    if cfg.confounded and report.distillation is not None:
        _say(verbose, f"      planted confounder {cfg.confounded}: training and distilling one more model")
        t0 = time.perf_counter()
        report.distillation.update(_confounded(cfg, seed, explained, test, protocol, builder))
        model_info["seconds"]["confounded"] = round(time.perf_counter() - t0, 2)

    _say(verbose, f"[5/5] Writing the report to {out}/")
    paths = write_outputs(report, out)
    if verbose:
        print()
        print(summary_table(report))
        print()
        if report.model_info.get("warning"):
            print(f"WARNING: {report.model_info['warning']}")
        print(f"Held-out AUROC {scores[0]['auroc']:.3f} / AUPRC {scores[0]['auprc']:.3f}; "
              f"finished in {time.perf_counter() - t_start:.0f} s.")
        print(f"Report: {os.path.abspath(paths['html'])}")
    return report


def _confounded(cfg, seed, explained, test, protocol, builder):
    """A model trained on the benchmark with ``cfg.confounded`` planted, distilled on the
    same held-out (clean) sequences: ``planted_*`` tables for ``report.distillation``."""
    from keras_iml.models import train
    from keras_iml.surrogate import distill, tier, truth

    data = make_tf_binding(min(cfg.n_train, 2000), cfg.length, grammar=cfg.grammar, seed=seed, **cfg.confounded)
    model = builder(seed=int(seed))
    train(model, data.x, data.y, seed=int(seed), epochs=min(cfg.epochs, 8), patience=cfg.patience,
          rc_augment=True, verbose=0)
    score = evaluate(model, test.x, test.y)
    known = truth.as_truth(data)
    options = protocol.distill
    result = distill(model, explained.x, libraries=options["libraries"], surrogates=options["surrogates"],
                     n_queries=options["n_queries"], holdout=options["holdout"],
                     motifs=truth.truth_motifs(known), seed=int(seed), verbose=0)
    found = tier.tier(result, known, options, alpha=protocol.alpha)
    planted = {f"planted_{k}": found[k] for k in ("fidelity", "confounders", "blind_spots", "metrics")}
    planted["planted"] = {"benchmark": dict(cfg.confounded), "held_out_auroc": score["auroc"],
                          "surrogates": found["surrogates"],
                          "description": f"the same architecture trained on the benchmark with {cfg.confounded} "
                                         "planted, distilled on the same held-out (clean) sequences"}
    return planted


def _record_left_out(report, cfg, original):
    """Adds the protocol metrics the demo left out to ``report.not_run``, with the reason."""
    rows = [(name, "all", reason) for name, reason in cfg.left_out.items()
            if name in original.metrics]
    if rows:
        extra = pd.DataFrame(rows, columns=["metric", "method", "reason"])
        report.not_run = pd.concat([report.not_run, extra], ignore_index=True)


def _label(data, motif_id):
    return f"{data.motifs[motif_id].name} ({motif_id})"


def _model_info(cfg, data, scores, histories, model):
    info = {
        "architecture": "basset_like",
        "architecture_options": {k: list(v) if isinstance(v, tuple) else v
                                 for k, v in cfg.architecture.items()},
        "n_parameters": int(model.count_params()),
        "held_out_auroc": scores[0]["auroc"],
        "held_out_auprc": scores[0]["auprc"],
        "n_test": scores[0]["n"],
        "n_test_positive": scores[0]["n_positive"],
        "ensemble_size": len(scores),
        "ensemble_auroc": [s["auroc"] for s in scores],
        "ensemble_auprc": [s["auprc"] for s in scores],
        "ensemble_seeds": [int(h["seed"].iloc[0]) for h in histories],
        "epochs_trained": [int(len(h)) for h in histories],
        "n_train": cfg.n_train,
        "min_auroc": MIN_AUROC,
        "benchmark": {
            **data.params,
            "true_motifs": {m: data.motifs[m].name for m in data.true_motif_ids},
            "decoy_motifs": {m: data.motifs[m].name for m in data.decoy_motif_ids},
        },
    }
    if scores[0]["auroc"] < MIN_AUROC:
        info["warning"] = (
            f"The explained model's held-out AUROC is {scores[0]['auroc']:.3f}, below "
            f"{MIN_AUROC}: it has not learned the task well, so its explanations say little "
            "about the planted motifs. Train longer or on more sequences before reading them.")
    return info


def write_outputs(report, out):
    """Writes ``report.html``, ``report.json`` and ``summary.csv`` into ``out``.

    Returns:
        dict ``html``, ``json``, ``summary`` -> path.
    """
    os.makedirs(out, exist_ok=True)
    paths = {"html": os.path.join(out, "report.html"), "json": os.path.join(out, "report.json"),
             "summary": os.path.join(out, "summary.csv")}
    report.to_json(paths["json"])
    report.to_html(paths["html"])
    atomic_write(paths["summary"], lambda tmp: report.summary.to_csv(tmp, index=False))
    return paths


def summary_table(report, metrics=("localisation_auroc", "localisation_auprc",
                                   "ensemble_stability", "deletion")):
    """A short text table: per method, a few headline metrics and the tier verdicts;
    then the control arms with theirs (a working protocol fails every placebo)."""
    s = report.summary
    methods = s["arm"] == "method" if "arm" in s else s["metric"].notna()  # older summaries: no arms
    rows = s[s["metric"].isin(metrics) & methods]
    table = rows.pivot_table(index="method", columns="metric", values="value", aggfunc="first")
    table = table[[m for m in metrics if m in table.columns]]
    verdict = report.verdict if report.verdict is not None else None
    if verdict is not None and len(verdict):
        table = table.join(verdict, how="outer")
    text = table.to_string(float_format=lambda v: f"{v:.3f}", na_rep="-")
    controls = getattr(report, "controls", None)
    if controls is not None and len(controls) and "tier1" in controls:
        arms = controls.set_index("arm")[["kind", "tier1", "tier2", "tier3"]]
        text += "\n\nControl arms:\n" + arms.to_string()
    weak = (getattr(report, "tables", None) or {}).get("uninformative")
    if weak is not None and len(weak):
        text += "\n\nUninformative on these data (placebo scores as well as the methods): " \
            + ", ".join(weak["metric"])
    return text
