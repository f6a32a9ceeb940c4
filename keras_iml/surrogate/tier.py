"""The protocol's ``distill`` tier: distillation tables, metrics with thresholds, adverse events.

``Protocol(distill=True)`` (or a dict of :data:`TIER_DEFAULTS` options) makes
:func:`keras_iml.validate` distil the model (:func:`keras_iml.surrogate.distill`)
on designed libraries, test its confounders and blind spots against the ground
truth (:mod:`keras_iml.surrogate.findings`) and put the result in
``report.distillation`` (:func:`tier`); every finding is an adverse event
(:func:`adverse_events`).
"""

import numpy as np
import pandas as pd

from keras_iml.surrogate.findings import THRESHOLDS, blind_spots, confounders

__all__ = ["TIER_DEFAULTS", "check_tier", "tier", "adverse_events"]


#: Options of the protocol's ``distill`` tier (``Protocol(distill=True)`` takes these).
TIER_DEFAULTS = {
    "n_queries": 12000, "holdout": 0.5, "surrogates": ["additive", "kmer"],
    "libraries": ["mutagenesis", "shuffle", {"class_name": "implant", "config": {"copies": [0, 1]}},
                  "gc_shift", "kmer_shift", "families", "out_of_distribution"],
    "thresholds": {}, "fidelity": 0.5, "n_permutations": 1000,
}


def check_tier(value):
    """The ``distill`` protocol key normalised: None when off, else a dict of options.

    Raises:
        ValueError: an unknown option or a value of the wrong type.
    """
    if value is None or value is False:
        return None
    if value is True:
        value = {}
    if not isinstance(value, dict):
        raise ValueError(f"`protocol['distill']` must be a bool or a dict of options. Received: {value!r}")
    unknown = set(value) - set(TIER_DEFAULTS)
    if unknown:
        raise ValueError(f"Unknown `protocol['distill']` option(s) {sorted(unknown, key=repr)}. "
                         f"Valid options: {sorted(TIER_DEFAULTS)}")
    out = {**TIER_DEFAULTS, **value}
    bad = set(out["thresholds"]) - set(THRESHOLDS) if isinstance(out["thresholds"], dict) else {"?"}
    if bad:
        raise ValueError(f"`protocol['distill']['thresholds']` takes keys of {sorted(THRESHOLDS)}. "
                         f"Received: {out['thresholds']!r}")
    if not isinstance(out["fidelity"], (int, float)) or isinstance(out["fidelity"], bool):
        raise ValueError(f"`protocol['distill']['fidelity']` must be a number. Received: {out['fidelity']!r}")
    return out


def tier(distillation, truth, options, alpha=0.05):
    """The tables of the protocol's ``distill`` tier, and its metrics with thresholds.

    Returns:
        dict with ``fidelity``, ``confounders``, ``blind_spots`` and ``metrics``
        (DataFrames; ``metrics``: ``metric, value, threshold, passed, informative,
        reason``), ``surrogates`` (name -> readable parameters), ``params`` and
        ``reasons``.
    """
    options = check_tier(options) or check_tier(True)
    kw = {"thresholds": options["thresholds"], "alpha": alpha, "n_permutations": options["n_permutations"]}
    conf, blind = confounders(distillation, truth, **kw), blind_spots(distillation, truth, **kw)
    medians = distillation.fidelity.groupby("surrogate")["spearman"].median() if len(distillation.fidelity) \
        else pd.Series(dtype=float)
    glob = [s for s in medians.index if distillation.surrogates[s].scope == "global"]
    best = max(glob, key=lambda s: medians[s]) if glob else None
    value = float(medians[best]) if best else np.nan
    metrics = [{"metric": "surrogate_fidelity", "value": value, "threshold": options["fidelity"],
                "passed": bool(value >= options["fidelity"]) if np.isfinite(value) else np.nan,
                "informative": bool(np.isfinite(value)),
                "reason": f"median held-out Spearman over libraries of the most faithful surrogate ({best})"}]
    for name, table in (("confounder_findings", conf), ("blind_spot_findings", blind)):
        found = table[table["finding"].astype(bool)]
        controlled = table["positive_control"].astype(bool) if len(table) else pd.Series(dtype=bool)
        missed = list(table.loc[~controlled, "feature"]) if len(table) else []
        # Informative where at least one row could have found its planted positive
        # control; rows whose control was missed (e.g. single k-mers, whose weights are
        # far below their permutation null at these query counts) are listed, not counted.
        metrics.append({
            "metric": name, "value": float(len(found)), "threshold": 0.0, "passed": bool(found.empty),
            "informative": bool(controlled.any()),
            "reason": ("none" if found.empty else "; ".join(found["feature"]))
            + f" ({len(table)} tested, {int(controlled.sum())} with their positive control found"
            + (f"; not informative: {', '.join(missed)}" if missed else "") + ")"})
    surrogates = {}
    for name, sur in distillation.surrogates.items():
        if hasattr(sur, "matrix_"):
            surrogates[name] = {"kind": "matrix", "matrix": np.asarray(sur.matrix_).tolist()}
        elif hasattr(sur, "weights_"):
            surrogates[name] = {"kind": "weights", "weights": {k: float(v) for k, v in sur.weights_.items()}}
    return {"fidelity": distillation.fidelity, "confounders": conf, "blind_spots": blind,
            "metrics": pd.DataFrame(metrics), "surrogates": surrogates,
            "params": {**distillation.params, "options": options, "libraries": distillation.libraries},
            "reasons": dict(distillation.reasons)}


def adverse_events(result):
    """One adverse event per finding and per failed tier metric of :func:`tier`'s result.

    Returns:
        list of dicts ``seq`` (NaN: a property of the model), ``method`` (``"model"``),
        ``metric``, ``value``, ``threshold``, ``reason``.
    """
    events = []
    for name in ("confounders", "blind_spots"):
        table = result[name]
        for row in table[table["finding"].astype(bool)].itertuples(index=False):
            events.append({"seq": np.nan, "method": "model", "metric": f"{row.kind}:{row.feature}",
                           "value": row.effect, "threshold": row.threshold,
                           "reason": f"{row.reason} (placebo {row.placebo_low:.3g} to {row.placebo_high:.3g}, "
                                     f"p_adjusted {row.p_adjusted:.3g})"})
    metrics = result["metrics"]
    for row in metrics[metrics["metric"] == "surrogate_fidelity"].itertuples(index=False):
        if row.passed is False:
            events.append({"seq": np.nan, "method": "model", "metric": row.metric, "value": row.value,
                           "threshold": row.threshold,
                           "reason": f"no readable surrogate describes the model: {row.reason} is "
                                     f"{row.value:.3g} < {row.threshold:g}"})
    return events
