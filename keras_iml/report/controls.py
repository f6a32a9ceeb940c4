"""The report's control-arm section: arms, every method against its placebo, and the
metrics that cannot tell a method from noise on this run."""

import numpy as np
import pandas as pd

from keras_iml.report import components as c
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


def placebo_figure(rows):
    """Paired difference from placebo (mean and CI) per metric row and method or arm."""
    rows = rows.dropna(subset=["difference"])
    labels = [f"{m} · {k}" for m, k in zip(rows["metric"], rows["method"])]
    fig, ax = _figure(6.4, 0.9 + 0.24 * max(len(rows), 1))
    y = np.arange(len(rows))[::-1]
    colour = np.where(rows["beats_placebo"].map(lambda v: v is True or v == 1.0), "#1a7f37", "#b42318")
    low = (rows["difference"] - rows["diff_ci_low"]).clip(lower=0).to_numpy(float)
    high = (rows["diff_ci_high"] - rows["difference"]).clip(lower=0).to_numpy(float)
    ax.errorbar(rows["difference"], y, xerr=np.nan_to_num(np.vstack([low, high])), fmt="none",
                ecolor="#888888", elinewidth=1)
    ax.scatter(rows["difference"], y, c=list(colour), s=14, zorder=3)
    ax.axvline(0.0, color="#444444", linewidth=0.8, linestyle="--")
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlabel("better than placebo by (mean paired difference, 95% CI)")
    ax.set_title("Each metric against placebo (green: beats it after correction)", fontsize=9)
    return c.figure_uri(fig)


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
    table = parts.controls.copy()
    if "config" in table:
        table["config"] = table["config"].astype(str)
    blocks.append(c.table(table, caption="Control arms (settings and seeds fixed by the protocol) "
                                         "and their verdicts"))
    evidence = parts.evidence
    if isinstance(evidence, pd.DataFrame) and len(evidence):
        blocks.append(c.figure(placebo_figure(evidence), "Each metric against placebo"))
        blocks.append(c.datatable(evidence, "placebo-table",
                                  caption="Every method and arm against its placebo"))
    return c.Section("controls", "Control arms and placebo comparison", blocks)
