"""`keras_iml.validate`: tiered, whole-dataset validation of a model's explanations."""

from __future__ import annotations

import time
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

import keras
from keras_iml.engine import inputs as engine_inputs
from keras_iml.schema import COLUMNS
from keras_iml.stats import auroc_rows, average_precision_rows
from keras_iml.surrogate import distill as _distill
from keras_iml.surrogate import tier as _tier
from keras_iml.surrogate import truth as _truth
from keras_iml.types import MethodLike, Options, ProtocolLike, Seed, SequencesLike, TargetLike, Verbose
from keras_iml.validation import stages as _stages
from keras_iml.validation.hashing import provenance as _provenance
from keras_iml.validation.report import ValidationReport

__all__ = ["validate", "assemble"]


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
    inputs = _stages.check_inputs(
        model, x, y, methods=methods, ground_truth=ground_truth, motifs=motifs, ensemble=ensemble,
        protocol=protocol, batch_size=batch_size, seed=seed, alphabet=alphabet,
        attributions=attributions, target=target, logit=logit, aux=aux, dna_input=dna_input,
        cache=cache, functions=functions, names=names)
    proto, metrics = inputs.protocol, inputs.protocol.metric_instances()
    to_explain = [label for label in inputs.methods if label not in inputs.ctx.attributions]
    n_methods = len(inputs.methods)
    bar = keras.utils.Progbar(
        len(to_explain) + sum(1 if m.pairwise else n_methods for m in metrics),
        verbose=engine_inputs.check_verbose(verbose, 2), unit_name="step")

    explained = _stages.explain_methods(inputs, bar)
    arms = _stages.make_arms(explained, proto)
    bar.target = len(to_explain) + sum(
        1 if m.pairwise else len(arms.labels if m.on_control_arms else arms.methods) for m in metrics)
    scores = _stages.score(arms, metrics, bar)
    evidence = _stages.weigh(scores, arms, proto)
    verdicts = _stages.judge(scores, evidence, arms, inputs)
    return _with_distillation(inputs, assemble(inputs, arms, scores, evidence, verdicts))


def assemble(inputs, arms, scores, evidence, verdicts):
    """The :class:`ValidationReport` of a run's stages (:mod:`keras_iml.validation.stages`)."""
    ctx, proto = arms.ctx, inputs.protocol
    tables = {k: pd.concat(v, ignore_index=True) for k, v in scores.tables.items()}
    tables["uninformative"] = evidence.uninformative
    tables["placebo_comparison"] = evidence.table
    return ValidationReport(
        summary=verdicts.summary,
        per_sequence=verdicts.per_sequence,
        adverse_events=verdicts.adverse_events,
        verdict=verdicts.verdict,
        controls=verdicts.controls,
        not_run=_stages.not_run_table(arms.not_run + scores.not_run),
        curves={k: pd.concat(v, ignore_index=True) for k, v in scores.curves.items()},
        matrices=scores.matrices,
        examples=verdicts.examples,
        motifs=tables.pop("motifs", None),
        tables=tables,
        protocol=ctx.protocol,
        provenance={**_provenance(ctx.x, ctx.model, proto.seed, ctx.ground_truth, ctx.ensemble),
                    "methods": {k: _config(v) for k, v in inputs.methods.items()},
                    "controls": [a.row() for a in arms.arms],
                    "seconds": {"explain": arms.seconds, "metrics": scores.seconds},
                    "curve_sections": scores.curve_sections},
        model_info=_model_info(ctx, proto),
    )


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


def _with_distillation(inputs, report):
    """The protocol's distillation tier (:mod:`keras_iml.surrogate`) added to ``report``:
    ``report.distillation``, its findings as adverse events, its time in provenance."""
    ctx, proto = inputs.ctx, inputs.protocol
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
