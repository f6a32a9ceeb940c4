"""Reads a ValidationReport (or any object with its attributes) into plain parts.

The renderer only reads: nothing here calls a model or changes the report.
"""

import dataclasses
import math

import pandas as pd

from keras_iml.schema import REQUIRED, TIERS



@dataclasses.dataclass
class ReportParts:
    """The parts of a ValidationReport the renderer uses, checked and normalised."""

    summary: pd.DataFrame
    per_sequence: pd.DataFrame
    adverse_events: pd.DataFrame
    verdict: pd.DataFrame
    not_run: pd.DataFrame
    curves: dict
    matrices: dict
    examples: dict
    motifs: object
    protocol: dict
    provenance: dict
    model_info: dict
    all_summary: pd.DataFrame = None
    controls: pd.DataFrame = None
    uninformative: pd.DataFrame = None
    evidence: pd.DataFrame = None
    pairs: pd.DataFrame = None
    pairs_per_sequence: pd.DataFrame = None

    @property
    def methods(self):
        """Single (non-pairwise) method names, in order of appearance."""
        names = list(self.verdict.index) + list(self.summary["method"])
        return list(dict.fromkeys(str(n) for n in names))

    @property
    def n_sequences(self):
        n = self.provenance.get("n_sequences")
        if n is None and len(self.per_sequence):
            n = self.per_sequence["seq"].nunique()
        return n


def _frame(report, name, columns, required=False):
    value = getattr(report, name, None)
    if value is None:
        if required:
            raise TypeError(
                "`report` must be a keras_iml.validation.ValidationReport (or have its "
                f"attributes). Received: {type(report).__name__} without `{name}`"
            )
        return pd.DataFrame(columns=list(columns))
    if not isinstance(value, pd.DataFrame):
        raise TypeError(
            f"`report.{name}` must be a pandas DataFrame. Received: {type(value).__name__}"
        )
    missing = [c for c in columns if c not in value.columns]
    if missing:
        raise ValueError(
            f"`report.{name}` lacks columns {missing}. "
            f"Received: columns={list(value.columns)}"
        )
    return value


def _mapping(report, name):
    value = getattr(report, name, None)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"`report.{name}` must be a dict. Received: {type(value).__name__}")
    return value


def read_report(report):
    """Checks a report's attributes and returns :class:`ReportParts`.

    Raises:
        TypeError: the object is not a report (no ``summary`` DataFrame) or an
            attribute has the wrong type.
        ValueError: a table lacks a contract column.
    """
    summary = _frame(report, "summary", REQUIRED["summary"], required=True)
    verdict = getattr(report, "verdict", None)
    if verdict is None or not isinstance(verdict, pd.DataFrame) or verdict.empty:
        verdict = verdict_from_summary(summary)
    examples = _mapping(report, "examples")
    motifs = getattr(report, "motifs", None)
    if motifs is not None and not isinstance(motifs, pd.DataFrame):
        raise TypeError(
            f"`report.motifs` must be a DataFrame or None. Received: {type(motifs).__name__}"
        )
    # Control arms are shown in their own section and in the table of every metric,
    # pairs of methods in the agreement matrices; the per-method figures and counts
    # read the methods' rows only.
    arms = set()
    if "arm" in summary.columns:
        arms = set(summary.loc[~summary["arm"].isin(["method", "pair"]) & summary["arm"].notna(), "method"])
    per_sequence = _frame(report, "per_sequence", REQUIRED["per_sequence"])
    curves = {k: (v[~v["method"].isin(arms)] if isinstance(v, pd.DataFrame) and "method" in v else v)
              for k, v in _mapping(report, "curves").items()}
    controls = getattr(report, "controls", None)
    tables = _mapping(report, "tables")
    return ReportParts(
        summary=summary[_methods_only(summary, arms)],
        pairs=_pairs(summary),
        pairs_per_sequence=_pairs(per_sequence),
        all_summary=summary,
        controls=controls if isinstance(controls, pd.DataFrame) else None,
        uninformative=tables.get("uninformative"),
        evidence=tables.get("placebo_comparison"),
        per_sequence=per_sequence[_methods_only(per_sequence, arms)],
        adverse_events=_frame(report, "adverse_events", REQUIRED["adverse_events"]),
        verdict=verdict,
        not_run=_frame(report, "not_run", REQUIRED["not_run"]),
        curves=curves,
        matrices=_mapping(report, "matrices"),
        examples=examples,
        motifs=motifs,
        protocol=_mapping(report, "protocol"),
        provenance=_mapping(report, "provenance"),
        model_info=_mapping(report, "model_info"),
    )


def _methods_only(frame, arms=()):
    """The rows of a table about the protocol's methods: not a control arm's (by the
    ``arm`` column, or for older tables the arms' labels), not a pair's."""
    keep = ~frame["method"].isin(set(arms))
    if "arm" in frame.columns:
        keep &= frame["arm"].isna() | (frame["arm"] == "method")
    if "partner" in frame.columns:
        keep &= frame["partner"].isna()
    return keep


def _pairs(frame):
    """The pair rows of a table, each named ``"a vs b"`` in ``method`` for display."""
    if "partner" not in frame.columns:
        return frame.iloc[:0]
    rows = frame[frame["partner"].notna()]
    return rows.assign(method=rows["method"].astype(str) + " vs " + rows["partner"].astype(str))


def verdict_from_summary(summary):
    """Method x tier verdict when a report carries none: a tier passes when every
    thresholded metric of that method passed, fails when one failed, else "not run".
    """
    single = summary[_methods_only(summary)]
    methods = list(dict.fromkeys(single["method"].astype(str)))
    table = pd.DataFrame("not run", index=pd.Index(methods, name="method"), columns=list(TIERS))
    for (method, tier), rows in single.groupby(["method", "tier"]):
        passed = rows["passed"].dropna()
        if len(passed) and f"tier{int(tier)}" in table.columns:
            verdict = "pass" if passed.astype(bool).all() else "fail"
            table.loc[str(method), f"tier{int(tier)}"] = verdict
    return table


def judged(summary):
    """Thresholded rows that count: on informative metrics (all rows of older reports)."""
    rows = summary.dropna(subset=["passed"])
    if "informative" in rows.columns:
        keep = rows["informative"].map(lambda v: v is not False and v != 0.0).astype(bool)
        rows = rows.loc[keep.to_numpy()]
    return rows


def readable(value, digits=4):
    """A table cell for people: a dict as ``key: value; ...``, a list joined with
    ``, ``, a float to ``digits`` significant digits; anything else its ``str``."""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {readable(v, digits)}" for k, v in value.items()) or "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(readable(v, digits) for v in value) or "—"
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.{digits}g}"
    if value is None:
        return "—"
    return str(value)


def is_missing(value):
    """True for None and NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def model_warnings(model_info, min_auroc=0.9):
    """Warnings about the model itself: its own ``warning`` text, and any held-out
    AUROC below ``min_auroc`` (explanations of a model that has not learned the task
    mean little)."""
    warnings = []
    if model_info.get("warning"):
        warnings.append(str(model_info["warning"]))
    for key, value in model_info.items():
        numeric = isinstance(value, (int, float)) and not is_missing(value)
        if "auroc" in str(key).lower() and numeric:
            if value < min_auroc and not any("auroc" in w.lower() for w in warnings):
                warnings.append(
                    f"The model's {key} is {value:.3f} < {min_auroc}: it has not learned the "
                    "task well, so its explanations say little about the biology."
                )
    return warnings
