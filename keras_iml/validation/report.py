"""`ValidationReport`: the plain-data result of :func:`keras_iml.validate`.

It holds DataFrames and dicts only (no model, no arrays of attributions beyond the
chosen examples), round-trips through JSON, and is what the HTML renderer reads.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from keras_iml.io import atomic_write, json_ready
from keras_iml.schema import COLUMNS, TIERS
from keras_iml.types import PathLike

__all__ = ["ValidationReport"]

_FORMAT = "keras_iml.ValidationReport"


def _empty(name):
    return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS[name]})


class ValidationReport:
    """Results of a validation run.

    Attributes:
        summary: one row per (metric row, method, control arm or method pair):
            ``tier, metric, method, arm`` (``method``, ``placebo``,
            ``randomised_model``, ``positive_control`` or ``pair``), ``value, ci_low,
            ci_high, threshold``, the comparison with the row's placebo
            (``placebo_value, effect_size, p_value, p_adjusted, beats_placebo``; see
            :mod:`keras_iml.validation.evidence`), ``informative`` (False on a
            metric that cannot tell methods from placebo here, or where too few
            sequences are scored for the comparison to decide), ``meets_threshold``
            and ``passed`` (threshold met and placebo beaten; NaN without a
            threshold).
        per_sequence: every per-sequence score, long form ``metric, method, arm, seq,
            value`` (NaN: undefined, or outside the metric's subsample); when the
            sequences have names, a ``name`` column follows ``seq``.
        adverse_events: every (sequence, method, metric) that failed its threshold:
            ``seq, method, metric, value, threshold, reason`` (and ``name`` after
            ``seq`` when the sequences have names).
        verdict: index = method, columns ``tier1, tier2, tier3``: "pass", "fail",
            "not above placebo", "inconclusive" or "not run" (see
            :func:`keras_iml.validation.verdict.verdict`).
        controls: one row per control arm (``arm, kind, matches, seed,
            description, config, tier1, tier2, tier3``).
        not_run: metrics that could not run: ``metric, method, reason``.
        curves: dict name -> long DataFrame (``deletion``, ``insertion``,
            ``randomisation``, ``localisation_recall``, ``localisation_precision``).
        matrices: dict name -> method x method DataFrame (pairwise agreement).
        examples: ``{"rule": str, "items": [{"seq", "why", "method", "values",
            "input"}, ...]}`` (items also hold ``"name"`` when the sequences have names).
        motifs: DataFrame of discovered motif patterns, or None.
        tables: dict name -> DataFrame of other tables that metrics returned
            (e.g. ``"motif_recovery"``).
        protocol: the protocol dict; provenance: versions, hashes, seed, time;
            model_info: free-form facts about the model (e.g. AUROC, a warning).
        distillation: None, or the protocol's distillation tier
            (:func:`keras_iml.surrogate.tier.tier`): DataFrames ``fidelity``,
            ``confounders``, ``blind_spots`` and ``metrics`` (``metric, value,
            threshold, passed, informative, reason``), the surrogates' readable
            parameters, ``params`` and ``reasons``. Its failed metrics count in
            :attr:`passed` and its findings are adverse events (``method`` ``"model"``).
    """

    def __init__(self, *, summary=None, per_sequence=None, adverse_events=None, verdict=None,
                 controls=None, not_run=None, curves=None, matrices=None, examples=None, motifs=None,
                 tables=None, protocol=None, provenance=None, model_info=None, distillation=None):
        self.summary = _empty("summary") if summary is None else summary
        self.per_sequence = _empty("per_sequence") if per_sequence is None else per_sequence
        self.adverse_events = _empty("adverse_events") if adverse_events is None else adverse_events
        self.verdict = pd.DataFrame(columns=list(TIERS)) if verdict is None else verdict
        self.controls = pd.DataFrame(columns=["arm", "kind", "matches", "seed"]) if controls is None \
            else controls
        self.not_run = _empty("not_run") if not_run is None else not_run
        self.curves = dict(curves or {})
        self.matrices = dict(matrices or {})
        self.examples = examples if examples is not None else {"rule": "", "items": []}
        self.motifs = motifs
        self.tables = dict(tables or {})
        self.protocol = dict(protocol or {})
        self.provenance = dict(provenance or {})
        self.model_info = dict(model_info or {})
        self.distillation = distillation

    # -- reading -------------------------------------------------------------------------
    def _judged(self):
        """Summary rows of the methods (not control arms) on informative metrics."""
        rows = self.summary
        if "arm" in rows:
            rows = rows[rows["arm"].fillna("method") == "method"]
        if "informative" in rows:
            rows = rows[rows["informative"].map(lambda v: v is not False and v != 0.0).astype(bool)]
        return rows

    def _thresholded(self):
        """Summary rows of the methods (not control arms) that carry a threshold."""
        rows = self.summary
        if "arm" in rows:
            rows = rows[rows["arm"].fillna("method") == "method"]
        return rows[rows["meets_threshold" if "meets_threshold" in rows else "passed"].map(
            lambda p: isinstance(p, (bool, np.bool_))).astype(bool)]

    @property
    def undecided(self) -> pd.DataFrame:
        """Thresholded rows of the methods that the evidence could not decide: too few
        scored sequences for the comparison with placebo to reach significance."""
        rows = self._thresholded()
        if "decidable" not in rows:
            return rows.iloc[:0]
        return rows[rows["decidable"].map(lambda v: v is False or v is np.False_ or v == 0.0).astype(bool)]

    @property
    def outcome(self) -> str:
        """What the run decided: ``"failed"``, ``"inconclusive"`` or ``"passed"``.

        * ``"failed"``: a decided row of a method missed its threshold or did not
          beat its placebo (or a thresholded distillation metric failed);
        * ``"inconclusive"``: nothing failed, but the evidence is too weak to pass:
          a thresholded row could not be decided (too few scored sequences to beat
          placebo at the protocol's ``alpha``; validate more sequences), or no
          thresholded row was decided at all;
        * ``"passed"``: every thresholded row was decided, and each met its threshold
          and beat its placebo.
        """
        distilled = []
        if self.distillation is not None:  # the distillation tier's thresholded metrics
            distilled = [p for p in self.distillation["metrics"]["passed"] if isinstance(p, (bool, np.bool_))]
        if len(self.failed) or not all(distilled):
            return "failed"
        if len(self.undecided) or (len(self._thresholded()) and not len(self._judged().dropna(subset=["passed"]))):
            return "inconclusive"
        return "passed"

    @property
    def passed(self) -> bool:
        """True when the run decided a pass (:attr:`outcome` is ``"passed"``): every
        thresholded row of the methods met its threshold and beat its placebo, and
        the evidence was strong enough to decide each (control arms are not judged)."""
        return self.outcome == "passed"

    @property
    def failed(self) -> pd.DataFrame:
        """Summary rows of the methods that failed their threshold or did not beat placebo."""
        rows = self._judged()
        mask = rows["passed"].map(lambda p: isinstance(p, (bool, np.bool_)) and not p)
        return rows[mask.astype(bool)]

    def __repr__(self):
        n = self.provenance.get("n_sequences", "?")
        rows = self._judged()
        thresholded = rows["passed"].map(lambda p: isinstance(p, (bool, np.bool_)))
        n_pass = int(rows.loc[thresholded.astype(bool), "passed"].astype(bool).sum())
        lines = [
            f"<ValidationReport: {self.outcome}, {n} sequences, {len(self.verdict)} methods, "
            f"{n_pass}/{int(thresholded.sum())} decided thresholds passed, "
            f"{len(self.undecided)} undecided, "
            f"{len(self.adverse_events)} adverse events, {len(self.not_run)} not run>",
        ]
        if len(self.verdict):
            lines.append(self.verdict.to_string())
        if self.model_info.get("warning"):
            lines.append(f"WARNING: {self.model_info['warning']}")
        return "\n".join(lines)

    # -- writing -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The report as JSON-ready plain data."""
        return json_ready({
            "format": _FORMAT,
            "version": 1,
            "summary": _frame(self.summary),
            "per_sequence": _frame(self.per_sequence),
            "adverse_events": _frame(self.adverse_events),
            "verdict": _frame(self.verdict, index=True),
            "controls": _frame(self.controls.astype({"config": str}) if "config" in self.controls
                               else self.controls),
            "not_run": _frame(self.not_run),
            "curves": {k: _frame(v) for k, v in self.curves.items()},
            "matrices": {k: _frame(v, index=True) for k, v in self.matrices.items()},
            "examples": self.examples,
            "motifs": None if self.motifs is None else _frame(self.motifs),
            "tables": {k: _frame(v) for k, v in self.tables.items()},
            "protocol": self.protocol,
            "provenance": self.provenance,
            "model_info": self.model_info,
            "distillation": None if self.distillation is None else {
                k: _frame(v) if isinstance(v, pd.DataFrame) else v for k, v in self.distillation.items()},
        })

    def to_json(self, path: PathLike) -> str:
        """Writes the report to a JSON file (atomically) and returns the path."""
        payload = json.dumps(self.to_dict(), allow_nan=False)

        def write(tmp):
            with open(tmp, "w") as fh:
                fh.write(payload)

        return atomic_write(path, write)

    @classmethod
    def from_dict(cls, data: dict) -> ValidationReport:
        if data.get("format") != _FORMAT:
            raise ValueError(f"Not a keras_iml validation report. Received format={data.get('format')!r}")
        return cls(
            summary=_unframe(data["summary"]),
            per_sequence=_unframe(data["per_sequence"]),
            adverse_events=_unframe(data["adverse_events"]),
            verdict=_unframe(data["verdict"]),
            controls=_unframe(data["controls"]) if "controls" in data else None,
            not_run=_unframe(data["not_run"]),
            curves={k: _unframe(v) for k, v in data.get("curves", {}).items()},
            matrices={k: _unframe(v) for k, v in data.get("matrices", {}).items()},
            examples=data.get("examples"),
            motifs=None if data.get("motifs") is None else _unframe(data["motifs"]),
            tables={k: _unframe(v) for k, v in data.get("tables", {}).items()},
            protocol=data.get("protocol"),
            provenance=data.get("provenance"),
            model_info=data.get("model_info"),
            distillation=None if data.get("distillation") is None else {
                k: _unframe(v) if isinstance(v, dict) and "columns" in v and "data" in v else v
                for k, v in data["distillation"].items()},
        )

    @classmethod
    def from_json(cls, path: PathLike) -> ValidationReport:
        """Reads a report written by :meth:`to_json`."""
        with open(path) as fh:
            return cls.from_dict(json.load(fh))

    def to_html(self, path: PathLike) -> str:
        """Writes a self-contained HTML report (rendered by :mod:`keras_iml.report`)."""
        from keras_iml.report import render_html

        return render_html(self, path)


def _frame(df, index=False):
    out = {
        "columns": [str(c) for c in df.columns],
        "dtypes": [str(t) for t in df.dtypes],
        "data": df.astype(object).to_numpy().tolist(),
    }
    if index:
        out["index"] = [str(i) for i in df.index]
        out["index_name"] = df.index.name
    return out


def _unframe(data):
    df = pd.DataFrame(data["data"], columns=data["columns"], dtype=object)
    for col, dtype in zip(data["columns"], data.get("dtypes", [])):
        if dtype.startswith(("float", "int", "bool")):
            values = df[col].map(lambda v: np.nan if v is None else v)
            if dtype.startswith("float") or values.isna().any():
                df[col] = values.astype(np.float64)
            else:
                df[col] = values.astype(dtype)
        else:
            df[col] = df[col].map(lambda v: np.nan if v is None else v)
    if "index" in data:
        df.index = pd.Index(data["index"], name=data.get("index_name"))
    return df
