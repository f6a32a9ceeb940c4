"""`keras_iml.validate`: tiered, whole-dataset validation of a model's explanations."""

from __future__ import annotations

import itertools
import time
import warnings
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

import keras
from keras_iml import _checks
from keras_iml.engine import inputs as engine_inputs
from keras_iml.metrics import Context, NotApplicable
from keras_iml.metrics.base import MetricResult, as_result
from keras_iml.models.pwm import load_motifs
from keras_iml.schema import COLUMNS
from keras_iml.stats import auroc_rows, average_precision_rows
from keras_iml.surrogate import distill as _distill
from keras_iml.surrogate import tier as _tier
from keras_iml.surrogate import truth as _truth
from keras_iml.trace_cache import resolve_cache
from keras_iml.types import MethodLike, Options, ProtocolLike, Seed, SequencesLike, TargetLike, Verbose
from keras_iml.validation import arguments as _arguments
from keras_iml.validation import controls as _controls
from keras_iml.validation import evidence as _evidence
from keras_iml.validation import verdict as _verdict
from keras_iml.validation.hashing import provenance as _provenance
from keras_iml.validation.protocol import Protocol
from keras_iml.validation.report import ValidationReport

__all__ = ["validate"]

_MISSING = {
    "model": "a model",
    "ground_truth": "ground_truth= (a motif mask or instance table)",
    "motifs": "motifs= (JASPAR IDs, PFMs or a MEME file)",
    "ensemble": "ensemble= (other models of the same task)",
}


def validate(model: keras.Model | None, x: SequencesLike, y: np.ndarray | None = None, *,
             methods: MethodLike | Sequence[MethodLike] | Mapping[str, Options] | None = None,
             ground_truth: np.ndarray | None = None, motifs=None,
             ensemble: Sequence[keras.Model] | None = None, protocol: ProtocolLike = None,
             batch_size: int = 128, seed: Seed = None, verbose: Verbose = "auto",
             alphabet: str = "ACGT", attributions=None, target: TargetLike = None,
             logit: bool = False, aux=None, dna_input=None, cache=None, functions=None,
             names: Sequence[str] | None = None) -> ValidationReport:
    """Validates a model's explanations over a whole dataset, tier by tier.

    Tier 1 (consistency): cross-method agreement, hyper-parameter sensitivity, seed
    repeatability, ensemble stability, equivariance. Tier 2 (faithfulness):
    deletion/insertion, model-parameter randomisation, completeness, agreement with
    ISM, the PWM oracle. Tier 3 (biological validity): localisation against ground
    truth, known-motif enrichment. A metric whose inputs are absent is reported as
    not run, with the reason. See ``docs/metrics.md`` for every definition.

    Control arms run with the methods unless the protocol says ``controls: false``: a
    placebo per method (model-independent noise matched to its smoothness and
    values), a randomised-model arm and positive controls (ISM; the planted sites).
    Every metric row of a method is compared with its placebo's (paired Wilcoxon,
    Holm-corrected over the method's rows); a row passes only when it meets its
    threshold and beats placebo, and a metric on which placebo does as well as the
    methods is flagged uninformative (``report.tables["uninformative"]``).

    Args:
        model: a Keras model taking one-hot ``(N, L, 4)`` (never modified); None to
            score precomputed ``attributions`` only.
        x: one-hot array ``(N, L, 4)``, a list of DNA strings, a dict name -> DNA
            string or a pandas Series of strings.
        y: optional labels ``(N,)``: with binary labels the model's AUROC/AUPRC is
            recorded in ``report.model_info`` (and a warning when it is low).
        methods: None (the protocol's methods), a name, a list of names / configs /
            instances, or a dict label -> options.
        ground_truth: ``(N, L)`` mask (1 true motif, 2 decoy, 0 other; booleans are
            true-motif masks), a dict ``{"true": mask, "decoy": mask}``, or a table
            with columns ``seq, start, end, role`` (``role`` in true/decoy; ``seq`` an
            index, or a sequence name when ``names`` are known).
        motifs: JASPAR IDs, ``(W, 4)`` PFMs, a MEME file, or a list/dict of them.
        ensemble: list of other Keras models of the same task (stability).
        protocol: None (default), ``"quick"``, a :class:`Protocol`, a dict or a
            YAML path.
        batch_size: sequences per batch when explaining.
        seed: overrides the protocol's seed.
        verbose: ``"auto"``, 0, 1 or 2 (a ``keras.utils.Progbar`` over the steps).
        alphabet: column order of the one-hot encoding.
        attributions: optional dict label -> precomputed ``Attributions`` of ``x``
            (those methods are not explained again).
        target: which model output to explain (see :mod:`keras_iml.engine.targets`).
        logit: explain the logit of a final sigmoid/softmax.
        aux: for a model with inputs besides the DNA, their values per sequence (a
            dict input name -> array with one row per sequence), held fixed while the
            DNA is attributed.
        dna_input: for a model with several inputs, the name of the DNA input.
        cache: optional :class:`keras_iml.TraceCache` owned by the caller, in which
            the compiled explainers, and the models metrics build (randomised
            copies, the PWM oracle), are kept between calls. Validating many models
            of one architecture in turn (one model object whose weights are replaced
            with ``set_weights``, as :class:`keras_iml.zoo.ModelPool` does) then
            traces every graph once instead of once per model.
        functions: deprecated name of ``cache``.
        names: the name of each sequence (FASTA record, BED interval). Default: the
            dict's keys or the Series' index when ``x`` is one, else the names carried
            by ``attributions``, else None. With names, ``report.per_sequence``,
            ``report.adverse_events`` and the examples get a ``name`` beside ``seq``,
            and input errors name the record.

    Returns:
        a :class:`ValidationReport`.

    Example:
        >>> report = keras_iml.validate(model, x, ground_truth=mask, protocol="quick")
        >>> report.verdict
        >>> report.to_html("report.html")
    """
    proto = Protocol.from_any(protocol)
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"`seed` must be a non-negative int or None. Received: seed={seed!r}")
        proto = proto.replace(seed=int(seed))
    engine_inputs.check_batch_size(batch_size)
    x, names = _checks.sequence_names(x, names)
    x = _checks.as_onehot(x, alphabet, names=names)
    n = x.shape[0]
    explain_kwargs = {"target": target, "logit": logit, "batch_size": batch_size, "alphabet": alphabet}
    cache = resolve_cache(cache, functions)
    explainer, aux_arrays = None, None
    if model is not None:
        if not isinstance(model, keras.Model):
            raise TypeError(f"`model` must be a keras.Model or None. Received: {type(model).__name__}")
        explainer = cache.explainer(model, target=target, logit=logit, alphabet=alphabet,
                                    dna_input=dna_input)
        aux_arrays = engine_inputs.check_aux(aux, explainer.aux_names, explainer.layout.aux_shapes, n)
        explainer.predict(x[:1], aux=None if aux_arrays is None else [a[:1] for a in aux_arrays])
    elif not attributions:
        raise ValueError("Without a `model`, pass precomputed `attributions`. Received: model=None")
    precomputed = _arguments.check_attributions(attributions, x)
    names = _arguments.check_names(names, precomputed, n)
    specs = _arguments.resolve_methods(methods, proto, precomputed, has_model=model is not None)
    ctx = Context(
        x=x, y=_arguments.check_y(y, n), model=model, explainer=explainer, aux=aux_arrays,
        ground_truth=_arguments.check_ground_truth(ground_truth, x, names),
        ground_truth_table=ground_truth if isinstance(ground_truth, pd.DataFrame) else None,
        motifs=load_motifs(motifs), ensemble=_arguments.check_ensemble(ensemble, x, model, explain_kwargs, aux_arrays),
        protocol=proto.to_dict(), seed=proto.seed, explain_kwargs=explain_kwargs, alphabet=alphabet,
        methods=specs, cache=cache,
    )
    metrics = proto.metric_instances()
    to_explain = [label for label in specs if label not in precomputed]
    n_tasks = len(to_explain) + sum(1 if m.pairwise else len(specs) for m in metrics)
    bar = keras.utils.Progbar(n_tasks, verbose=engine_inputs.check_verbose(verbose, 2),
                              unit_name="step")

    out = _Collected()
    ctx.attributions.update(precomputed)
    for label in to_explain:
        _explain_one(ctx, label, out)
        bar.add(1)
    real = [label for label in specs if label in ctx.attributions]
    arms, kinds, partners = _add_control_arms(ctx, proto, out)
    every = list(real) + [a.label for a in arms]
    bar.target = len(to_explain) + sum(
        1 if m.pairwise else len(every if m.on_control_arms else real) for m in metrics)
    for metric in metrics:
        t0 = time.perf_counter()
        missing = [_MISSING[r] for r in sorted(metric.requires) if r in _MISSING and not _has(ctx, r)]
        if metric.pairwise:
            _run_pairwise(ctx, metric, real, every, missing, out)
            bar.add(1)
        else:
            for label in every if metric.on_control_arms else real:
                _run_metric(ctx, metric, label, missing, out, record=label in real)
                bar.add(1)
        out.timings["metrics"][metric.name] = round(time.perf_counter() - t0, 3)

    evidence = _evidence.compare_with_placebo(out.records, partners, proto)
    uninformative = _evidence.uninformative_rows(out.records, evidence, kinds, partners,
                                                 {a.label for a in arms if a.expect == "positive"})
    summary = _verdict.summarise(out.records, proto, kinds, evidence, uninformative)
    tables = {k: pd.concat(v, ignore_index=True) for k, v in out.tables.items()}
    tables["uninformative"] = uninformative
    tables["placebo_comparison"] = evidence
    return _with_distillation(ctx, proto, ValidationReport(
        summary=summary,
        per_sequence=_arguments.with_names(_verdict.per_sequence(out.records, kinds), names),
        adverse_events=_arguments.with_names(_verdict.adverse_events(
            [r for r in out.records if kinds.get(r.method, "method") == "method"], proto), names),
        verdict=_verdict.verdict(summary, specs),
        controls=_verdict.controls_table(summary, arms),
        not_run=pd.DataFrame(out.not_run, columns=COLUMNS["not_run"]),
        curves={k: pd.concat(v, ignore_index=True) for k, v in out.curves.items()},
        matrices=out.matrices,
        examples=_arguments.examples_with_names(_verdict.examples(
            [r for r in out.records if r.method in real], {k: ctx.attributions[k] for k in real}, x, proto,
            ground_truth=ctx.ground_truth),
            names),
        motifs=tables.pop("motifs", None),
        tables=tables,
        protocol=ctx.protocol,
        provenance={**_provenance(x, model, proto.seed, ctx.ground_truth, ctx.ensemble),
                    "methods": {k: _config(v) for k, v in specs.items()},
                    "controls": [a.row() for a in arms], "seconds": out.timings,
                    "curve_sections": out.curve_sections},
        model_info=_model_info(ctx, proto),
    ))


def _add_control_arms(ctx, proto, out):
    """The protocol's control arms, explained into ``ctx``.

    Returns:
        ``(arms, kinds, partners)``: the :class:`~keras_iml.validation.controls.ControlArm`
        list, label -> arm kind (``"method"`` for the methods), and label -> its
        placebo's label (for the labels that have one).
    """
    real = [label for label in ctx.real_methods if label in ctx.attributions]
    arms, not_run = _controls.add_arms(ctx, proto.controls,
                                       lambda label, seed: _explain_one(ctx, label, out, seed))
    out.not_run.extend((arm, arm, reason) for arm, reason in not_run)
    kinds = {**{label: "method" for label in real}, **{a.label: a.kind for a in arms}}
    return arms, kinds, _controls.partners(arms, real)


class _Collected:
    """What the metrics produced, accumulated over the run."""

    def __init__(self):
        self.records, self.not_run = [], []
        self.curves, self.matrices, self.tables = {}, {}, {}
        self.timings = {"explain": {}, "metrics": {}}
        self.curve_sections = {}

    def add(self, metric, label, result):
        for row, values in result.per_sequence.items():
            self.records.append(_verdict.Record(metric, row, label, values))
        for name, frame in result.curves.items():
            self.curves.setdefault(name, []).append(frame)
            self.curve_sections[name] = metric.curve_section
        for name, frame in result.tables.items():
            self.tables.setdefault(name, []).append(frame)


def _explain_one(ctx, label, out, seed=None):
    """Explains ``x`` with one method; a method that cannot run is reported, not raised."""
    t0 = time.perf_counter()
    if ctx.model is None:
        out.not_run.append(("*", label, "no model to explain"))
        return
    try:
        ctx.attributions[label] = ctx.explain(ctx.methods[label], model=ctx.model_for(label), seed=seed)
    except (ValueError, TypeError, NotImplementedError) as err:
        warnings.warn(f"Method {label!r} could not explain the model: {err}", stacklevel=3)
        out.not_run.append(("*", label, f"the method could not explain the model: {err}"))
    out.timings["explain"][label] = round(time.perf_counter() - t0, 3)


def _run_metric(ctx, metric, label, missing, out, record=True):
    """Scores one label; what cannot run is listed in ``not_run`` (for the methods:
    a control arm that a metric does not apply to is simply absent from its rows)."""
    reason = None
    if missing:
        reason = "needs " + " and ".join(missing)
    elif label not in ctx.attributions:
        reason = "no attributions (the method did not run)"
    elif "method" in metric.requires and ctx.methods.get(label) is None:
        reason = "the method cannot be re-run (attributions given precomputed)"
    if reason is None:
        try:
            out.add(metric, label, as_result(metric, metric.compute(ctx, label), ctx.n))
            return
        except NotApplicable as err:
            reason = str(err)
    if record:
        out.not_run.append((metric.name, label, reason))


def _has(ctx, requirement):
    if requirement == "model":
        return ctx.model is not None
    return getattr(ctx, requirement) is not None


def _run_pairwise(ctx, metric, labels, every, missing, out):
    """The method x method matrix of ``labels`` (pair rows, shown, not judged), and each
    of ``every`` against the consensus of the other real methods (the judged row)."""
    if missing:
        out.not_run.append((metric.name, "all", "needs " + " and ".join(missing)))
        return
    if len(labels) < 2:
        out.not_run.append((metric.name, "all", "needs at least two methods with attributions"))
        return
    name = metric.matrix_name()
    for label in every:
        others = [o for o in labels if o != label]
        result = as_result(metric, metric.compute_pair(ctx, label, ctx.consensus(label, others)), ctx.n)
        out.add(metric, label, MetricResult({f"{name}_vs_consensus": result.per_sequence[name]}))
    matrix = pd.DataFrame(np.nan, index=labels, columns=labels)
    for a, b in itertools.combinations(labels, 2):
        result = as_result(metric, metric.compute_pair(ctx, a, b), ctx.n)
        out.add(metric, f"{a}|{b}", result)
        values = result.per_sequence[name]
        agg = float(np.nanmean(values)) if np.isfinite(values).any() else np.nan
        matrix.loc[a, b] = matrix.loc[b, a] = agg
    for label in labels:
        matrix.loc[label, label] = metric.self_value
    out.matrices[name] = matrix


def _config(method):
    if method is None:
        return None
    config = {"name": method.name}
    for key, value in method.get_config().items():
        config[key] = value if isinstance(value, (int, float, str, bool, type(None), list, dict)) \
            else repr(value)
    return config


def _model_info(ctx, proto):
    info = {"name": getattr(ctx.model, "name", None)}
    if ctx.model is None:
        return info
    info["n_parameters"] = int(ctx.model.count_params())
    outputs = ctx.outputs()
    info["output_mean"] = float(outputs.mean())
    info["output_sd"] = float(outputs.std())
    y = None if ctx.y is None else np.asarray(ctx.y).reshape(len(outputs), -1)
    if y is not None and not (y.shape[1] == 1 and np.isin(y, (0, 1)).all() and 0 < y.sum() < len(y)):
        info["y_note"] = ("the model's AUROC/AUPRC were not computed: `y` is not one binary "
                          "column with both classes")
    elif y is not None:
        labels = y[:, 0].astype(bool)[None]
        info["auroc"] = float(auroc_rows(outputs[None], labels)[0])
        info["auprc"] = float(average_precision_rows(outputs[None], labels)[0])
        if proto.min_model_auroc is not None and info["auroc"] < proto.min_model_auroc:
            info["warning"] = (
                f"The model's AUROC on these data is {info['auroc']:.3f} "
                f"(< {proto.min_model_auroc}): explanations of a model that has not learned "
                "the task say little about the biology."
            )
    return info


def _with_distillation(ctx, proto, report):
    """The protocol's distillation tier (:mod:`keras_iml.surrogate`) added to ``report``:
    ``report.distillation``, its findings as adverse events, its time in provenance."""
    if proto.distill is None:
        return report
    reason = "no model to distil" if ctx.model is None else (
        "the model has inputs besides the DNA (distillation queries share one row)" if ctx.aux is not None else None)
    if reason is not None:
        row = pd.DataFrame([("distill", "model", reason)], columns=COLUMNS["not_run"])
        report.not_run = row if report.not_run.empty else pd.concat([report.not_run, row], ignore_index=True)
        return report
    t0 = time.perf_counter()
    options, truth = proto.distill, _truth.truth_from(ctx.motifs, ctx.ground_truth_table)
    result = _distill(ctx.model, ctx.x, libraries=options["libraries"], surrogates=options["surrogates"],
                      n_queries=options["n_queries"], holdout=options["holdout"],
                      target=ctx.explain_kwargs["target"], motifs=_truth.truth_motifs(truth) or None,
                      seed=proto.seed, alphabet=ctx.alphabet, verbose=0, cache=ctx.cache)
    report.distillation = _tier.tier(result, truth, options, alpha=proto.alpha)
    events = pd.DataFrame(_tier.adverse_events(report.distillation))
    if len(events):
        events = events.reindex(columns=report.adverse_events.columns)
        report.adverse_events = events if report.adverse_events.empty else pd.concat(
            [report.adverse_events, events], ignore_index=True)
    report.provenance.setdefault("seconds", {})["distill"] = round(time.perf_counter() - t0, 3)
    return report
