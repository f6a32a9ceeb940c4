"""The stages of a validation run, each a function from values to a value:

inputs -> attributions -> arms -> scores -> evidence -> verdicts -> report.

:func:`keras_iml.validate` calls them in turn; nothing is shared between them except
what one returns and the next takes. Every stage's result is a small dataclass, so
what a stage may read is visible in its signature:

* :func:`check_inputs` -> :class:`Inputs`: the checked arguments, the protocol, the
  methods to run and the metrics' :class:`~keras_iml.metrics.Context`;
* :func:`explain_methods` -> :class:`Explained`: every method's attributions;
* :func:`make_arms` -> :class:`Arms`: the control arms, who each label is
  (:class:`~keras_iml.validation.labels.Label`) and each label's placebo;
* :func:`score` -> :class:`Scores`: every metric's per-sequence records, curves,
  matrices and tables;
* :func:`weigh` -> :class:`Evidence`: every row against its placebo, and the
  metrics that cannot tell a method from noise;
* :func:`judge` -> :class:`Verdicts`: the summary, the method x tier verdict, the
  control arms' verdicts, adverse events and the examples;
* :func:`assemble` -> :class:`~keras_iml.validation.report.ValidationReport`.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
import warnings

import numpy as np
import pandas as pd

import keras
from keras_iml import _checks
from keras_iml.engine import inputs as engine_inputs
from keras_iml.metrics import Context, NotApplicable
from keras_iml.metrics.base import MetricResult, as_result
from keras_iml.models.pwm import load_motifs
from keras_iml.schema import COLUMNS
from keras_iml.trace_cache import resolve_cache
from keras_iml.validation import arguments as _arguments
from keras_iml.validation import controls as _controls
from keras_iml.validation import evidence as _evidence
from keras_iml.validation import verdict as _verdict
from keras_iml.validation.labels import PAIR, Label
from keras_iml.validation.protocol import Protocol

__all__ = ["Inputs", "Explained", "Arms", "Scores", "Evidence", "Verdicts", "check_inputs",
           "explain_methods", "make_arms", "score", "weigh", "judge"]

_MISSING = {
    "model": "a model",
    "ground_truth": "ground_truth= (a motif mask or instance table)",
    "motifs": "motifs= (JASPAR IDs, PFMs or a MEME file)",
    "ensemble": "ensemble= (other models of the same task)",
}


@dataclasses.dataclass
class Inputs:
    """The checked arguments of a run.

    Attributes:
        protocol: the run's :class:`Protocol` (its seed overridden when one is given).
        ctx: the metrics' :class:`Context` holding the precomputed attributions.
        methods: label -> method instance of every label to score (None: given
            precomputed and not re-runnable).
        names: the sequences' names, or None.
    """

    protocol: Protocol
    ctx: Context
    methods: dict
    names: list | None


@dataclasses.dataclass
class Explained:
    """Every method's attributions (in ``ctx``), with what could not run and the seconds."""

    ctx: Context
    labels: list
    not_run: list
    seconds: dict


@dataclasses.dataclass
class Arms:
    """The run's control arms.

    Attributes:
        ctx: the Context holding the methods' and the arms' maps.
        arms: the :class:`~keras_iml.validation.controls.ControlArm` list.
        labels: label text -> :class:`Label` (the methods, then the arms).
        partners: label -> its placebo's label, for the labels that have one.
        not_run: ``(metric, label, reason)`` rows of the arms that could not be made.
        seconds: label -> seconds spent explaining it.
    """

    ctx: Context
    arms: list
    labels: dict
    partners: dict
    not_run: list
    seconds: dict

    @property
    def methods(self):
        """Labels of the protocol's methods that have attributions."""
        return [text for text, label in self.labels.items() if label.is_method]


@dataclasses.dataclass
class Scores:
    """What the metrics produced: per-sequence records, curves, matrices and tables."""

    records: list = dataclasses.field(default_factory=list)
    not_run: list = dataclasses.field(default_factory=list)
    curves: dict = dataclasses.field(default_factory=dict)
    curve_sections: dict = dataclasses.field(default_factory=dict)
    matrices: dict = dataclasses.field(default_factory=dict)
    tables: dict = dataclasses.field(default_factory=dict)
    seconds: dict = dataclasses.field(default_factory=dict)

    def add(self, metric, label, result):
        for row, values in result.per_sequence.items():
            self.records.append(_verdict.Record(metric, row, label, values))
        for name, frame in result.curves.items():
            self.curves.setdefault(name, []).append(frame)
            self.curve_sections[name] = metric.curve_section
        for name, frame in result.tables.items():
            self.tables.setdefault(name, []).append(frame)


@dataclasses.dataclass
class Evidence:
    """Every metric row against its placebo, and the rows that cannot decide."""

    table: pd.DataFrame
    uninformative: pd.DataFrame


@dataclasses.dataclass
class Verdicts:
    """The run's judged tables."""

    summary: pd.DataFrame
    verdict: pd.DataFrame
    controls: pd.DataFrame
    per_sequence: pd.DataFrame
    adverse_events: pd.DataFrame
    examples: dict


def check_inputs(model, x, y=None, *, methods=None, ground_truth=None, motifs=None, ensemble=None,
                 protocol=None, batch_size=128, seed=None, alphabet="ACGT", attributions=None,
                 target=None, logit=False, aux=None, dna_input=None, cache=None, functions=None,
                 names=None):
    """Checks :func:`keras_iml.validate`'s arguments (same names) into :class:`Inputs`."""
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
        motifs=load_motifs(motifs),
        ensemble=_arguments.check_ensemble(ensemble, x, model, explain_kwargs, aux_arrays),
        protocol=proto.to_dict(), seed=proto.seed, explain_kwargs=explain_kwargs, alphabet=alphabet,
        methods=specs, cache=cache, attributions=precomputed,
    )
    return Inputs(proto, ctx, specs, names)


def _explain(ctx, label, method, model, seed, not_run, seconds):
    """One method's attributions, or None (with the reason in ``not_run``) when it
    cannot explain the model: a method that cannot run is reported, not raised."""
    if ctx.model is None:
        not_run.append(("*", label, "no model to explain"))
        return None
    t0 = time.perf_counter()
    try:
        return ctx.explain(method, model=model if model is not None else ctx.model, seed=seed)
    except (ValueError, TypeError, NotImplementedError) as err:
        warnings.warn(f"Method {label!r} could not explain the model: {err}", stacklevel=4)
        not_run.append(("*", label, f"the method could not explain the model: {err}"))
        return None
    finally:
        seconds[label] = round(time.perf_counter() - t0, 3)


def explain_methods(inputs, progress=None):
    """Explains the data with every method not given precomputed.

    Args:
        inputs: :func:`check_inputs`' result.
        progress: optional ``keras.utils.Progbar`` advanced once per method.

    Returns:
        :class:`Explained`.
    """
    ctx, not_run, seconds, made = inputs.ctx, [], {}, {}
    for label, method in inputs.methods.items():
        if label in ctx.attributions:
            continue
        attr = _explain(ctx, label, method, None, None, not_run, seconds)
        if attr is not None:
            made[label] = attr
        if progress is not None:
            progress.add(1)
    ctx = ctx.extended(made)
    return Explained(ctx, [label for label in inputs.methods if label in ctx.attributions],
                     not_run, seconds)


def make_arms(explained, protocol):
    """Makes the protocol's control arms (:mod:`keras_iml.validation.controls`).

    Returns:
        :class:`Arms`.
    """
    ctx, not_run, seconds = explained.ctx, list(explained.not_run), dict(explained.seconds)
    run = _controls.add_arms(
        ctx, protocol.controls,
        lambda label, method, model, seed: _explain(ctx, label, method, model, seed, not_run, seconds))
    not_run.extend((arm, arm, reason) for arm, reason in run.not_run)
    labels = {**{text: Label(text) for text in explained.labels},
              **{a.label: Label(a.label, a.kind) for a in run.arms}}
    return Arms(ctx.extended(run.attributions, run.methods, run.models), run.arms, labels,
                _controls.partners(run.arms, explained.labels), not_run, seconds)


def _has(ctx, requirement):
    if requirement == "model":
        return ctx.model is not None
    return getattr(ctx, requirement) is not None


def score(arms, metrics, progress=None):
    """Runs every metric over the methods (and the control arms a metric applies to).

    Args:
        arms: :func:`make_arms`' result.
        metrics: the protocol's metric instances.
        progress: optional ``keras.utils.Progbar`` advanced once per (metric, label).

    Returns:
        :class:`Scores`.
    """
    ctx, out, real, every = arms.ctx, Scores(), arms.methods, list(arms.labels)
    for metric in metrics:
        t0 = time.perf_counter()
        missing = [_MISSING[r] for r in sorted(metric.requires) if r in _MISSING and not _has(ctx, r)]
        if metric.pairwise:
            _score_pairs(ctx, metric, real, [arms.labels[t] for t in every], missing, out)
            steps = 1
        else:
            chosen = every if metric.on_control_arms else real
            for text in chosen:
                _score_one(ctx, metric, arms.labels[text], missing, out)
            steps = len(chosen)
        if progress is not None:
            progress.add(steps)
        out.seconds[metric.name] = round(time.perf_counter() - t0, 3)
    return out


def _score_one(ctx, metric, label, missing, out):
    """Scores one label; what cannot run is listed in ``not_run`` for the methods (a
    control arm that a metric does not apply to is simply absent from its rows)."""
    reason, text = None, label.method
    if missing:
        reason = "needs " + " and ".join(missing)
    elif text not in ctx.attributions:
        reason = "no attributions (the method did not run)"
    elif "method" in metric.requires and ctx.methods.get(text) is None:
        reason = "the method cannot be re-run (attributions given precomputed)"
    if reason is None:
        try:
            out.add(metric, label, as_result(metric, metric.compute(ctx, text), ctx.n))
            return
        except NotApplicable as err:
            reason = str(err)
    if label.is_method:
        out.not_run.append((metric.name, text, reason))


def _score_pairs(ctx, metric, real, every, missing, out):
    """The method x method matrix of the methods (pair rows, shown, not judged), and
    each label of ``every`` against the consensus of the other methods (the judged row)."""
    if missing:
        out.not_run.append((metric.name, "all", "needs " + " and ".join(missing)))
        return
    if len(real) < 2:
        out.not_run.append((metric.name, "all", "needs at least two methods with attributions"))
        return
    name = metric.matrix_name()
    for label in every:
        others = [o for o in real if o != label.method]
        result = as_result(metric, metric.compute_pair(ctx, label.method, ctx.consensus(label.method, others)),
                           ctx.n)
        out.add(metric, label, MetricResult({f"{name}_vs_consensus": result.per_sequence[name]}))
    matrix = pd.DataFrame(np.nan, index=real, columns=real)
    for a, b in itertools.combinations(real, 2):
        result = as_result(metric, metric.compute_pair(ctx, a, b), ctx.n)
        out.add(metric, Label.pair(a, b), result)
        values = result.per_sequence[name]
        agg = float(np.nanmean(values)) if np.isfinite(values).any() else np.nan
        matrix.loc[a, b] = matrix.loc[b, a] = agg
    for label in real:
        matrix.loc[label, label] = metric.self_value
    out.matrices[name] = matrix


def weigh(scores, arms, protocol):
    """Every metric row against its placebo; the metrics on which placebo does as well
    as the methods and no positive control beats it.

    Returns:
        :class:`Evidence`.
    """
    table = _evidence.compare_with_placebo(scores.records, arms.partners, protocol)
    positives = {a.label for a in arms.arms if a.expect == "positive"}
    return Evidence(table, _evidence.uninformative_rows(scores.records, table, arms.partners, positives))


def judge(scores, evidence, arms, inputs):
    """The summary, verdicts, adverse events and examples of a run.

    Returns:
        :class:`Verdicts`.
    """
    proto, ctx, real = inputs.protocol, arms.ctx, arms.methods
    summary = _verdict.summarise(scores.records, proto, evidence.table, evidence.uninformative)
    methods = [r for r in scores.records if r.label.is_method]
    judged_or_pairs = [r for r in scores.records if r.label.is_method or r.label.kind == PAIR]
    return Verdicts(
        summary=summary,
        verdict=_verdict.verdict(summary, inputs.methods),
        controls=_verdict.controls_table(summary, arms.arms),
        per_sequence=_arguments.with_names(_verdict.per_sequence(scores.records), inputs.names),
        adverse_events=_arguments.with_names(_verdict.adverse_events(judged_or_pairs, proto), inputs.names),
        examples=_arguments.examples_with_names(_verdict.examples(
            methods, {k: ctx.attributions[k] for k in real}, ctx.x, proto, ground_truth=ctx.ground_truth),
            inputs.names),
    )


def not_run_table(rows):
    """The ``not_run`` DataFrame of ``(metric, method, reason)`` rows."""
    return pd.DataFrame(rows, columns=COLUMNS["not_run"])
