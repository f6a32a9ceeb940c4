"""The report's control-arm section: arms, every method against its placebo, and the
metrics that cannot tell a method from noise on this run."""

import ast

import numpy as np
import pandas as pd

from keras_iml.report import components as c
from keras_iml.report._reading import readable
from keras_iml.report.figures import _figure

__all__ = ["controls", "placebo_figure"]

CONTROL_TEXT = (
    "Every run carries control arms fixed by the protocol: a placebo per method "
    "(model-independent noise matched to the method's smoothness and distribution of "
    "values), a randomised-model arm (a method explaining a copy of the model with every "
    "weight redrawn) and positive controls (ISM of the same model; the planted sites "
    "where ground truth is given). A method passes a metric only where it meets the "
    "threshold and beats its own placebo (one-sided Wilcoxon signed-rank test on the "
    "paired per-sequence scores, corrected over the method's metrics)."
)


def placebo_figure(evidence):
    """Metric row x method grid: effect size against placebo (Cohen's d_z, clipped to
    ±3), a tick where the method beats its placebo after correction, a dot where the
    comparison cannot decide."""
    rows = evidence.dropna(subset=["effect_size"])
    metrics = list(dict.fromkeys(rows["metric"]))
    labels = list(dict.fromkeys(rows["method"]))
    grid = np.full((len(metrics), len(labels)), np.nan)
    fig, ax = _figure(1.6 + 0.55 * len(labels), 1.0 + 0.26 * len(metrics))
    for r in rows.itertuples(index=False):
        i, j = metrics.index(r.metric), labels.index(r.method)
        grid[i, j] = np.clip(r.effect_size, -3, 3)
        mark = "✓" if r.beats_placebo is True or r.beats_placebo == 1.0 else (
            "·" if getattr(r, "decidable", True) in (False, 0.0) else "")
        ax.text(j, i, mark, ha="center", va="center", fontsize=8)
    image = ax.imshow(grid, cmap="RdBu", vmin=-3, vmax=3, aspect="auto")
    ax.set_xticks(range(len(labels)), labels, rotation=40, ha="right", fontsize=7)
    ax.set_yticks(range(len(metrics)), metrics, fontsize=7)
    fig.colorbar(image, ax=ax, shrink=0.6, label="effect size vs placebo (d_z)")
    ax.set_title("Each metric against placebo (✓ beats it; · too few sequences to decide)",
                 fontsize=8)
    return c.figure_uri(fig)


def _config_text(value):
    """A control arm's config (a dict, or its text in an older report) for people."""
    if isinstance(value, str) and value.startswith("{"):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    return readable(value)


def controls(parts):
    """The section, or None for a report made without control arms."""
    if parts.controls is None or parts.controls.empty:
        return None
    blocks = [c.text(CONTROL_TEXT, muted=True)]
    weak = parts.uninformative
    if isinstance(weak, pd.DataFrame) and len(weak):
        blocks.append(c.alert(
            "Uninformative on this run (left out of every verdict): "
            + "; ".join(f"{m}: {r}" for m, r in zip(weak["metric"], weak["reason"])), level="warning"))
    evidence = parts.evidence
    if isinstance(evidence, pd.DataFrame) and "decidable" in evidence and len(evidence):
        undecided = evidence[~evidence["decidable"].astype(bool)
                             & ~evidence["method"].astype(str).str.contains(":")]
        if len(undecided):
            blocks.append(c.alert(
                "The evidence is too weak to decide (too few scored sequences differ from "
                "placebo for any outcome to be significant), left out of the verdicts: "
                + "; ".join(f"{m} · {k} (n = {n})" for m, k, n in
                            zip(undecided["metric"], undecided["method"], undecided["n_untied"])),
                level="info"))
    table = parts.controls.copy()
    if "config" in table:
        table["config"] = table["config"].map(_config_text)
    if "kind" in table and "tier1" in table:
        random = table["kind"] == "randomised_model"
        table.loc[random, "tier1"] = table.loc[random, "tier1"].map(
            lambda v: f"{v} (not evidence: tier 1 cannot tell a trained model from a random one)")
    blocks.append(c.table(table, caption="Control arms (settings and seeds fixed by the protocol) "
                                         "and their verdicts"))
    if isinstance(evidence, pd.DataFrame) and len(evidence):
        blocks.append(c.figure(placebo_figure(evidence), "Each metric against placebo"))
        blocks.append(c.datatable(evidence, "placebo-table",
                                  caption="Every method and arm against its placebo"))
    return c.Section("controls", "Control arms and placebo comparison", blocks)
