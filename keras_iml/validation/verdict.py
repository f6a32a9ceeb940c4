"""From per-sequence scores to the report's tables: summary with bootstrap CIs,
adverse events, the method x tier verdict and the systematically chosen examples.
"""

import numpy as np
import pandas as pd

from keras_iml.stats import aggregate as _aggregate
from keras_iml.stats import bootstrap_ci, stable_seed
from keras_iml.schema import COLUMNS, TIERS
from keras_iml.validation.labels import Label

__all__ = ["Record", "summarise", "adverse_events", "verdict", "controls_table", "examples",
           "per_sequence", "STATUSES"]


class Record:
    """Per-sequence scores of one summary row: a metric row (``row``) of ``metric`` for
    a :class:`~keras_iml.validation.labels.Label` (a method, a control arm or a pair)."""

    def __init__(self, metric, row, label, values):
        if not isinstance(label, Label):
            raise TypeError(f"`label` must be a Label. Received: label={label!r}")
        self.metric = metric
        self.row = row
        self.label = label
        self.values = values

    @property
    def method(self):
        return self.label.method


def _passes(value, threshold, higher_is_better):
    return value >= threshold if higher_is_better else value <= threshold


def summarise(records, protocol, evidence=None, uninformative=None):
    """The summary DataFrame (one row per record) with aggregates, bootstrap CIs and
    the comparison with placebo.

    ``passed`` is the threshold (where there is one) and, for a row with a placebo
    partner, beating it (``beats_placebo``). Pair rows (``arm == "pair"``, the other
    method in ``partner``) are the method x method matrix: shown, never judged
    (``passed`` NaN).
    """
    evidence = evidence if evidence is not None else pd.DataFrame(columns=["metric", "method"])
    found = {(r["metric"], r["method"]): r for r in evidence.to_dict("records")}
    weak = set() if uninformative is None else set(uninformative["metric"])
    rows = []
    for rec in records:
        judged = rec.label.judged
        value, low, high = bootstrap_ci(
            rec.values, rec.metric.aggregate, protocol.n_bootstrap, protocol.ci_level,
            seed=stable_seed(protocol.seed, rec.row, *_key(rec.label)),
        )
        threshold = protocol.threshold(rec.metric.name, rec.row) if judged else None
        ev = found.get((rec.row, rec.method), {}) if judged else {}
        beats = ev.get("beats_placebo", np.nan)
        meets = passed = np.nan
        if threshold is not None and np.isfinite(value):
            meets = passed = bool(_passes(value, threshold, rec.metric.higher_is_better))
            if isinstance(beats, (bool, np.bool_)):
                passed = meets and bool(beats)
        placebo_value = np.nan
        if ev:
            placebo = next((r for r in records if r.row == rec.row and r.label.judged
                            and r.method == ev["placebo"]), None)
            placebo_value = np.nan if placebo is None else _aggregate(placebo.values, rec.metric.aggregate)
        rows.append({
            "tier": int(rec.metric.tier), "metric": rec.row, **_who(rec.label),
            "value": value, "ci_low": low, "ci_high": high,
            "threshold": np.nan if threshold is None else float(threshold),
            "placebo_value": placebo_value, "effect_size": ev.get("effect_size", np.nan),
            "p_value": ev.get("p_value", np.nan), "p_adjusted": ev.get("p_adjusted", np.nan),
            "beats_placebo": beats,
            "decidable": bool(ev["decidable"]) if "decidable" in ev else np.nan,
            "informative": rec.row not in weak and bool(ev.get("decidable", True)),
            "meets_threshold": meets, "passed": passed,
        })
    frame = pd.DataFrame(rows, columns=COLUMNS["summary"])
    for column in ("meets_threshold", "passed", "beats_placebo", "decidable"):
        frame[column] = frame[column].astype(object)
    return frame


def _who(label):
    """A label's table columns (an absent partner as NaN, as a table read back has it)."""
    fields = label.fields()
    return {**fields, "partner": np.nan if fields["partner"] is None else fields["partner"]}


def _key(label):
    """The seed key of a label's rows: its method, and its partner for a pair."""
    return (label.method,) if label.partner is None else (label.method, label.partner)


def per_sequence(records):
    """Long DataFrame of every per-sequence score (NaN kept: nothing is dropped)."""
    if not records:
        return pd.DataFrame(columns=COLUMNS["per_sequence"])
    parts = [
        pd.DataFrame({"metric": rec.row, **_who(rec.label),
                      "seq": np.arange(len(rec.values)), "value": rec.values})
        for rec in records
    ]
    return pd.concat(parts, ignore_index=True)[COLUMNS["per_sequence"]]


def adverse_events(records, protocol):
    """Every (sequence, method or pair, metric) whose score fails its per-sequence
    threshold."""
    parts = []
    for rec in records:
        threshold = protocol.threshold(rec.metric.name, rec.row, adverse=True)
        if threshold is None:
            continue
        finite = np.isfinite(rec.values)
        bad = np.flatnonzero(finite & ~_passes(np.where(finite, rec.values, 0), threshold,
                                                 rec.metric.higher_is_better))
        if bad.size:
            parts.append(pd.DataFrame({
                "seq": bad, "method": rec.method, "partner": _who(rec.label)["partner"], "metric": rec.row,
                "value": rec.values[bad], "threshold": float(threshold),
                "reason": [rec.metric.adverse_reason(rec.row, float(v), float(threshold))
                           for v in rec.values[bad]],
            }))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS["adverse_events"]})
    return pd.concat(parts, ignore_index=True)[COLUMNS["adverse_events"]]


#: Verdict of one method (or arm) on one tier.
STATUSES = ("pass", "fail", "not above placebo", "inconclusive", "not run")


def _tier_status(rows):
    """The verdict of one label on one tier from its summary rows (a summary without
    the placebo columns, e.g. from an older report, is read as threshold-only)."""
    if "meets_threshold" not in rows:
        rows = rows.assign(meets_threshold=rows["passed"])
    if "informative" not in rows:
        rows = rows.assign(informative=True)
    judged = rows[rows["meets_threshold"].map(lambda p: isinstance(p, (bool, np.bool_))).astype(bool)]
    if judged.empty:
        return "not run"
    informative = judged[judged["informative"].astype(bool)]
    if informative.empty:
        return "inconclusive"
    if not informative["meets_threshold"].astype(bool).all():
        return "fail"
    if not informative["passed"].astype(bool).all():
        return "not above placebo"
    return "pass"


def verdict(summary, labels):
    """Label x tier verdict (:data:`STATUSES`).

    Per tier, over the label's own thresholded rows on informative metrics: "fail"
    when one misses its threshold, else "not above placebo" when one does not beat
    its placebo, else "pass"; "inconclusive" when every such row is on an
    uninformative metric; "not run" when there is none. Pair rows are never judged,
    so another method enters a method's verdict only through the consensus (a
    median) it is compared with.
    """
    table = pd.DataFrame("not run", index=pd.Index(list(labels), name="method"), columns=list(TIERS))
    for label in table.index:
        mine = summary[(summary["method"] == label)
                       & (summary["partner"].isna() if "partner" in summary else True)]
        for tier in (1, 2, 3):
            table.loc[label, f"tier{tier}"] = _tier_status(mine[mine["tier"] == tier])
    return table


def controls_table(summary, arms):
    """One row per control arm: its settings and seed, and its verdict per tier."""
    rows = pd.DataFrame([a.row() for a in arms],
                        columns=COLUMNS["controls"])
    if rows.empty:
        return rows.assign(**{t: pd.Series(dtype=object) for t in TIERS})
    return rows.join(verdict(summary, rows["arm"]), on="arm")


def _compact(values):
    """Rounds to 4 significant digits relative to the array's largest magnitude."""
    values = np.asarray(values, dtype=np.float64)
    top = np.abs(values).max() if values.size else 0.0
    if not np.isfinite(top) or top == 0:
        return values.tolist()
    scale = 10.0 ** (np.floor(np.log10(top)) - 3)
    return (np.round(values / scale) * scale).tolist()


def site_runs(mask_row):
    """``[[start, end, kind], ...]``: runs of a ground-truth mask row (1 = ``"motif"``,
    2 = ``"decoy"``), ``end`` exclusive."""
    row = np.asarray(mask_row).astype(np.int64)
    runs, start = [], None
    for i, value in enumerate(np.append(row, 0)):
        if start is not None and value != row[start]:
            runs.append([int(start), int(i), "motif" if row[start] == 1 else "decoy"])
            start = None
        if start is None and i < row.size and value in (1, 2):
            start = i
    return runs


def examples(records, attributions, x, protocol, ground_truth=None):
    """A systematic selection of sequences to show: never hand-picked.

    A seeded random sample of ``protocol.examples["n_random"]`` sequences for every
    method, plus the best- and worst-scoring (sequence, method) pair of every
    thresholded per-method metric row. With ``ground_truth`` (the ``(N, L)`` mask),
    each item carries its planted ``sites`` (:func:`site_runs`), drawn on its panel.
    """
    n_random = int(protocol.examples.get("n_random", 3))
    rng = np.random.default_rng([protocol.seed, stable_seed("examples")])
    n = x.shape[0]
    picks = []
    for seq in np.sort(rng.choice(n, min(n_random, n), replace=False)):
        for label in attributions:
            picks.append((int(seq), label, f"random sample (seed {protocol.seed})"))
    by_row = {}
    for rec in records:
        if not rec.label.judged or protocol.threshold(rec.metric.name, rec.row) is None:
            continue
        if rec.method in attributions and np.isfinite(rec.values).any():
            by_row.setdefault(rec.row, []).append(rec)
    for row, recs in by_row.items():
        sign = 1.0 if recs[0].metric.higher_is_better else -1.0
        stack = np.stack([np.where(np.isfinite(r.values), r.values * sign, np.nan) for r in recs])
        for kind, flat in (("best", np.nanargmax(stack)), ("worst", np.nanargmin(stack))):
            m, seq = np.unravel_index(flat, stack.shape)
            value = recs[m].values[seq]
            picks.append((int(seq), recs[m].method, f"{kind} {row} over all methods ({value:.3g})"))
    items = [
        {"seq": seq, "why": why, "method": label,
         "values": _compact(attributions[label].values[seq]), "input": x[seq].tolist(),
         **({} if ground_truth is None else {"sites": site_runs(ground_truth[seq])})}
        for seq, label, why in picks
    ]
    rule = (
        f"{min(n_random, n)} sequences drawn at random (numpy default_rng seeded with "
        f"protocol seed {protocol.seed}) shown for every method, plus, for every thresholded "
        "per-method metric, the best- and worst-scoring (sequence, method) pair over all "
        "methods (NaN scores skipped; ties go to the first method, then the lowest "
        "sequence index). Nothing is hand-picked."
    )
    return {"rule": rule, "items": items}
