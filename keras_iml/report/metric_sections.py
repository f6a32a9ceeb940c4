"""Sections of the validation report: dashboard, metrics, agreement, curves.

Each builder takes :class:`keras_iml.report._reading.ReportParts` and returns a
:class:`keras_iml.report.components.Section`; a section whose data the report
does not hold still appears, saying what is missing.
"""

import numpy as np
import pandas as pd

from keras_iml.plotting import method_colors
from keras_iml.report import components as c
from keras_iml.report import figures
from keras_iml.report._reading import judged, readable
from keras_iml.schema import TIER_NAMES, TIERS

TIER_TEXT = (
    "Tier 1 (consistency): do methods, seeds, models of an ensemble and the reverse "
    "complement give the same explanation? Tier 2 (faithfulness): does the explanation "
    "reflect what the model computes (deletion/insertion, parameter randomisation, "
    "completeness, agreement with ISM)? Tier 3 (biological validity): does it find the "
    "true motifs and not the decoys?"
)


def pass_text(passed):
    """``"pass"`` / ``"fail"`` for a summary's bool ``passed``; None without a threshold."""
    if isinstance(passed, (bool, np.bool_)):
        return "pass" if passed else "fail"
    return None


def colors_for(parts):
    """One colour per method, shared by every figure."""
    return method_colors(parts.methods)


def _tier_of(summary, metric):
    tiers = summary.loc[summary["metric"] == metric, "tier"].dropna()
    return int(tiers.iloc[0]) if len(tiers) else None


def _undecided(summary):
    """How many thresholded rows of the methods the evidence could not decide."""
    if "decidable" not in summary or "meets_threshold" not in summary:
        return 0
    thresholded = summary["meets_threshold"].map(lambda v: isinstance(v, (bool, np.bool_)))
    return int((thresholded & summary["decidable"].map(lambda v: v is False or v is np.False_)).sum())


def dashboard(parts):
    """Method x tier verdict, the overall count of passed metrics, model facts."""
    verdict = parts.verdict.reindex(columns=[t for t in TIERS if t in parts.verdict.columns])
    verdict = verdict.rename(columns={f"tier{k}": v for k, v in TIER_NAMES.items()})
    verdict.index.name = "method"
    table = c.table(verdict, index=True, caption="Verdict per method and tier", css="verdict")
    blocks = [table, c.text(TIER_TEXT, muted=True)]
    thresholded = judged(parts.summary)
    undecided = _undecided(parts.summary)
    if len(thresholded) or undecided:
        n_pass = int(thresholded["passed"].astype(bool).sum())
        more = (f" {undecided} more could not be decided (too few sequences to beat placebo): "
                "a tier's verdict reads only its decided results, and the run is not a pass."
                if undecided else "")
        blocks.insert(0, c.text(
            f"{n_pass} of {len(thresholded)} decided thresholded metric results passed, over "
            f"{parts.n_sequences if parts.n_sequences is not None else 'all'} sequences.{more}"))
    if parts.model_info:
        info = {k: v for k, v in parts.model_info.items() if k != "warning"}
        if info:
            blocks.append(c.table(pd.DataFrame({"model": list(info),
                                                "value": [readable(v) for v in info.values()]}),
                                  caption="Model (held-out performance and facts)"))
    return c.Section("dashboard", "Tier dashboard", blocks)


def summary(parts):
    """Every aggregate with its CI, threshold and pass/fail."""
    frame = parts.all_summary if parts.all_summary is not None else parts.summary
    frame = frame.sort_values(["tier", "metric", "method"], kind="stable")
    frame = frame.assign(passed=frame["passed"].map(pass_text))
    blocks = [c.table(frame, caption="Aggregate over all sequences, bootstrap 95% CI")]
    if frame.empty:
        blocks = [c.alert("The report holds no metric results.", level="warning")]
    return c.Section("summary", "Every metric", blocks,
                     note="Click a column header to sort.")


def distributions(parts):
    """Each metric's per-sequence distribution with its aggregate CI, by tier."""
    colors = colors_for(parts)
    per_seq, summary = parts.per_sequence, parts.summary
    if parts.pairs is not None and len(parts.pairs):  # the pairs' agreement, beside the methods'
        per_seq = pd.concat([per_seq, parts.pairs_per_sequence], ignore_index=True)
        summary = pd.concat([summary, parts.pairs], ignore_index=True)
    metrics = list(dict.fromkeys(list(summary["metric"]) + list(per_seq["metric"])))
    blocks, by_tier = [], {}
    for metric in metrics:
        by_tier.setdefault(_tier_of(summary, metric), []).append(metric)
    for tier in sorted(by_tier, key=lambda t: (t is None, t)):
        figs = []
        for metric in by_tier[tier]:
            values = per_seq[per_seq["metric"] == metric]
            rows = summary[summary["metric"] == metric]
            if values.empty:
                figs.append(c.figure(figures.forest(metric, rows, colors),
                                     f"{metric}: no per-sequence values (aggregate only)"))
                continue
            scored = values.loc[values["value"].notna(), "seq"].nunique()
            total = values["seq"].nunique()
            count = (f"{scored} sequences scored" if scored == total
                     else f"{scored} of {total} sequences scored (the metric's subsample)")
            figs.append(c.figure(
                figures.distribution(metric, values, rows, colors),
                f"{metric}: {count}; box = quartiles, dots = sequences, "
                "◆ = aggregate with its 95% CI, dashed = threshold."))
        blocks.append(c.card(TIER_NAMES.get(tier, "Other metrics"), [c.grid(figs, columns=2)]))
    if not blocks:
        blocks = [c.alert("The report holds no per-sequence values.", level="warning")]
    return c.Section("distributions", "Metric distributions over all sequences", blocks)


def agreement(parts):
    """Cross-method agreement heatmaps (one per matrix)."""
    figs = [c.figure(figures.heatmap(name, pd.DataFrame(m)), f"{name}: mean over sequences")
            for name, m in parts.matrices.items() if m is not None and len(m)]
    if not figs:
        return c.Section("agreement", "Cross-method agreement", [c.alert(
            "No agreement matrices: the report holds fewer than two methods or the "
            "agreement metrics did not run.", level="info")])
    return c.Section("agreement", "Cross-method agreement", [c.grid(figs, columns=3)],
                     note="Per-sequence agreement between every pair of methods, averaged.")


def _curve_group(name, declared=None):
    """The section of a curve: the one its metric declared (``curve_section``, recorded
    in ``provenance["curve_sections"]``); for reports made before that record, read
    from the curve's name."""
    if declared and name in declared:
        return declared[name]
    low = name.lower()
    if low.startswith(("deletion", "insertion")):
        return "faithfulness"
    if low.startswith(("localisation", "localization", "recall", "precision")):
        return "localisation"
    if low.startswith(("randomis", "randomiz")):
        return "randomisation"
    if "stab" in low or "repeat" in low or "equivar" in low:
        return "stability"
    return "other"


def _curve_figures(parts, group, xlabel=None, ylabel=None):
    colors = colors_for(parts)
    blocks = []
    declared = parts.provenance.get("curve_sections") or {}
    for name, frame in parts.curves.items():
        if _curve_group(name, declared) != group or frame is None or not len(frame):
            continue
        try:
            uri = figures.curves(name, frame, colors, xlabel=xlabel, ylabel=ylabel)
        except (ValueError, KeyError, TypeError):  # a layout the plots do not know: show it
            blocks.append(c.table(frame, caption=name, max_rows=200))
            continue
        blocks.append(c.figure(uri, name))
    return blocks


def faithfulness(parts):
    """Deletion / insertion curves against the random-ranking baseline."""
    figs = _curve_figures(parts, "faithfulness", ylabel="model output")
    blocks = [c.text(
        "Positions are replaced (deletion) or restored (insertion) in the order of their "
        "attribution, with sequence-valid infill. Solid: ranked by the method; dashed: a "
        "random ranking. A faithful method's deletion curve falls below its random baseline "
        "and its insertion curve rises above it.", muted=True)]
    blocks.append(c.grid(figs, columns=2) if figs else c.alert(
        "No deletion/insertion curves in this report.", level="info"))
    cascade = _curve_figures(parts, "randomisation", xlabel="top layers randomised",
                             ylabel="similarity to the original map")
    if cascade:
        blocks += [c.text(
            "Model-parameter randomisation (Adebayo et al. 2018), cascading from the top "
            "layer: similarity between the maps of the original and of the progressively "
            "randomised model. A method that explains the model falls towards 0; one whose "
            "map survives randomisation does not depend on what the model learned.",
            muted=True), c.grid(cascade, columns=2)]
    others = _curve_figures(parts, "other")
    if others:
        blocks += [c.text("Other curves in the report:"), c.grid(others, columns=2)]
    return c.Section("faithfulness", "Faithfulness: deletion and insertion", blocks)


def stability(parts):
    """Per-method consistency metrics (ensemble / seed stability, equivariance...)."""
    colors = colors_for(parts)
    rows = parts.summary[parts.summary["tier"] == 1]
    figs = [c.figure(figures.forest(metric, group, colors), metric)
            for metric, group in rows.groupby("metric", sort=False)]
    figs += _curve_figures(parts, "stability")
    if not figs:
        return c.Section("stability", "Stability", [c.alert(
            "No stability results: pass an ensemble or seeds to validate() to measure them.",
            level="info")])
    return c.Section("stability", "Stability", [c.grid(figs, columns=3)],
                     note="Tier-1 metrics of each method on its own (across models of an "
                          "ensemble, seeds, reverse complement, hyper-parameters): aggregate "
                          "with 95% CI; red labels failed their threshold.")


def localisation(parts):
    """Recall / precision at top-k % of positions against the ground truth."""
    figs = _curve_figures(parts, "localisation", xlabel="top k % of positions")
    if not figs:
        return c.Section("localisation", "Localisation", [c.alert(
            "No localisation curves: validate() was run without ground truth.", level="info")])
    return c.Section("localisation", "Localisation", [c.grid(figs, columns=2)],
                     note="Recall of true motif positions and precision against decoys among "
                          "the top k % most important positions, averaged over sequences.")
