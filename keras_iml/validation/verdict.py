"""From per-sequence scores to the report's tables: summary with bootstrap CIs,
adverse events, the method x tier verdict and the systematically chosen examples.
"""

import numpy as np
import pandas as pd

from keras_iml.metrics._stats import bootstrap_ci, stable_seed
from keras_iml.validation.report import COLUMNS, TIERS

__all__ = ["Record", "summarise", "adverse_events", "verdict", "examples", "per_sequence"]


class Record:
    """Per-sequence scores of one summary row (a metric row for a method or a pair)."""

    def __init__(self, metric, row, method, values):
        self.metric = metric
        self.row = row
        self.method = method
        self.values = values


def _passes(value, threshold, higher_is_better):
    return value >= threshold if higher_is_better else value <= threshold


def summarise(records, protocol):
    """The summary DataFrame (one row per record) with aggregates and bootstrap CIs."""
    rows = []
    for rec in records:
        value, low, high = bootstrap_ci(
            rec.values, rec.metric.aggregate, protocol.n_bootstrap, protocol.ci_level,
            seed=stable_seed(protocol.seed, rec.row, rec.method),
        )
        threshold = protocol.threshold(rec.metric.name, rec.row)
        passed = np.nan
        if threshold is not None and np.isfinite(value):
            passed = bool(_passes(value, threshold, rec.metric.higher_is_better))
        rows.append({
            "tier": int(rec.metric.tier), "metric": rec.row, "method": rec.method,
            "value": value, "ci_low": low, "ci_high": high,
            "threshold": np.nan if threshold is None else float(threshold), "passed": passed,
        })
    frame = pd.DataFrame(rows, columns=COLUMNS["summary"])
    frame["passed"] = frame["passed"].astype(object)
    return frame


def per_sequence(records):
    """Long DataFrame of every per-sequence score (NaN kept: nothing is dropped)."""
    if not records:
        return pd.DataFrame(columns=COLUMNS["per_sequence"])
    parts = [
        pd.DataFrame({"metric": rec.row, "method": rec.method,
                      "seq": np.arange(len(rec.values)), "value": rec.values})
        for rec in records
    ]
    return pd.concat(parts, ignore_index=True)


def adverse_events(records, protocol):
    """Every (sequence, method, metric) whose score fails its per-sequence threshold."""
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
                "seq": bad, "method": rec.method, "metric": rec.row,
                "value": rec.values[bad], "threshold": float(threshold),
                "reason": [rec.metric.adverse_reason(rec.row, float(v), float(threshold))
                           for v in rec.values[bad]],
            }))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS["adverse_events"]})
    return pd.concat(parts, ignore_index=True)[COLUMNS["adverse_events"]]


def verdict(summary, labels):
    """Method x tier: "fail" if any thresholded row of the tier involving the method
    failed (pairwise rows count for both methods), "pass" if all passed, else "not run".
    """
    table = pd.DataFrame("not run", index=pd.Index(list(labels), name="method"), columns=TIERS)
    for _, row in summary.iterrows():
        if not isinstance(row["passed"], (bool, np.bool_)):
            continue
        column = f"tier{row['tier']}"
        for label in str(row["method"]).split("|"):
            if label not in table.index:
                continue
            if not row["passed"]:
                table.loc[label, column] = "fail"
            elif table.loc[label, column] == "not run":
                table.loc[label, column] = "pass"
    return table


def _compact(values):
    """Rounds to 4 significant digits relative to the array's largest magnitude."""
    values = np.asarray(values, dtype=np.float64)
    top = np.abs(values).max() if values.size else 0.0
    if not np.isfinite(top) or top == 0:
        return values.tolist()
    scale = 10.0 ** (np.floor(np.log10(top)) - 3)
    return (np.round(values / scale) * scale).tolist()


def examples(records, attributions, x, protocol):
    """A systematic selection of sequences to show: never hand-picked.

    A seeded random sample of ``protocol.examples["n_random"]`` sequences for every
    method, plus the best- and worst-scoring (sequence, method) pair of every
    thresholded per-method metric row.
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
        if "|" in rec.method or protocol.threshold(rec.metric.name, rec.row) is None:
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
         "values": _compact(attributions[label].values[seq]), "input": x[seq].tolist()}
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
