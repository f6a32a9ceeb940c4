"""A self-contained HTML summary of a batch-validation run.

Sections: counts by status; per method and tier, how many models pass, fail or were
not run, with the failing models listed; each metric's distribution across models
(one box per method, threshold dashed); and the table of every model (status, reason,
checks, timings). Built from the same page components as the validation report
(:mod:`keras_iml.report.components`).
"""

import numpy as np
import pandas as pd

from keras_iml.report import components as c

__all__ = ["write_summary", "render_summary", "summary_sections"]

def _figure(frame, metric):
    from matplotlib.figure import Figure

    sub = frame[frame["metric"] == metric].dropna(subset=["value"])
    methods = sorted(sub["method"].unique())
    data = [sub.loc[sub["method"] == m, "value"].to_numpy() for m in methods]
    fig = Figure(figsize=(max(4.0, 1.1 * len(methods) + 2), 2.8))
    ax = fig.subplots()
    ax.boxplot(data, showfliers=True)
    ax.set_xticks(range(1, len(methods) + 1), methods, rotation=30, ha="right", fontsize=8)
    threshold = sub["threshold"].dropna()
    if len(threshold):
        ax.axhline(float(threshold.iloc[0]), color="#b00", lw=1, ls="--", label="threshold")
        ax.legend(fontsize=7, loc="best")
    ax.set_ylabel(metric, fontsize=8)
    ax.set_title(f"{metric} (n = {sub['name'].nunique()} models)", fontsize=9)
    return c.figure(fig, caption=f"{metric} across models")


def _verdict_rows(models):
    rows = []
    columns = [c for c in models.columns if str(c).startswith("verdict|")]
    for column in sorted(columns):
        _, method, tier = column.split("|", 2)
        values = models[column].fillna("not run")
        failing = models.loc[values == "fail", "name"].tolist()
        rows.append({"method": method, "tier": tier, "passes": int((values == "pass").sum()),
                     "fails": len(failing), "not_run": int((values == "not run").sum()),
                     "failing models": ", ".join(str(n) for n in failing)})
    return rows


def summary_sections(models, metrics):
    """The page's sections (:class:`keras_iml.report.components.Section`).

    Args:
        models: DataFrame, one row per model (``ResultsStore.models()``).
        metrics: long DataFrame of metric rows (``ResultsStore.metrics()``).
    """
    n = len(models)
    counts = models["status"].value_counts().sort_index() if n else pd.Series(dtype=int)
    seconds = pd.to_numeric(models.get("seconds_total", pd.Series(dtype=float)), errors="coerce")
    total = round(float(np.nansum(seconds)), 1) if n else 0.0
    median = round(float(np.nanmedian(seconds)), 2) if n and seconds.notna().any() else 0.0
    overview = c.text(
        f"{n} models; " + ", ".join(f"{k}: {v}" for k, v in counts.items())
        + f". Total model time {total} s (median {median} s per model)."
    )
    verdicts = pd.DataFrame(_verdict_rows(models) if n else [],
                            columns=["method", "tier", "passes", "fails", "not_run",
                                     "failing models"])
    figures = [_figure(metrics, m) for m in sorted(metrics["metric"].unique())] if len(metrics) else []
    keep = [col for col in ("name", "tf", "jaspar_id", "status", "reason", "motif_raise",
                            "passed", "seconds_total") if col in models.columns]
    table = models[keep].copy() if n else pd.DataFrame(columns=keep)
    if "reason" in table:
        table["reason"] = table["reason"].fillna("").astype(str).str.slice(0, 200)
    return [
        c.Section("overview", "Overview", [overview]),
        c.Section("verdicts", "Verdicts by method and tier", [c.table(verdicts)]),
        c.Section("distributions", "Metric distributions across models",
                  [c.grid(figures)] if figures else [c.text("No metric rows yet.", muted=True)]),
        c.Section("models", "Models", [c.datatable(table, "zoo-models")]),
    ]


def render_summary(models, metrics, title="keras_iml zoo batch validation"):
    """The summary page as an HTML string (see :func:`summary_sections`)."""
    return c.html_string(summary_sections(models, metrics), title=title)


def write_summary(store, path, title="keras_iml zoo batch validation"):
    """Writes the summary HTML of a :class:`~keras_iml.zoo.results.ResultsStore`, atomically."""
    return c.render_page(summary_sections(store.models(), store.metrics()), path, title=title)
