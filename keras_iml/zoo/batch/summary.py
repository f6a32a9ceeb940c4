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

    sub = frame[(frame["metric"] == metric) & (frame["arm"] == "method")].dropna(subset=["value"])
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


#: Verdict columns of the summary, in the order the bars stack.
OUTCOMES = ("pass", "not above placebo", "fail", "inconclusive", "not run")
_COLOURS = ("#1a7f37", "#d4a72c", "#b42318", "#8c8c8c", "#d0d7de")


def _unexpected(expect, arms, values):
    """Which models' verdicts are a finding: a method's failures; a negative control
    arm's passes; a positive control's failures or misses of placebo (what an arm
    expects is declared by its class: :mod:`keras_iml.validation.controls`)."""
    if not arms:
        return values == "fail"
    if expect == "positive":
        return values.isin(["fail", "not above placebo"])
    return values == "pass"


def verdict_counts(verdicts, models=None, arms=False):
    """Per method (or control arm) and tier: how many models get each verdict.

    Args:
        verdicts: long table of verdicts (``ResultsStore.verdicts()``: ``name, label,
            kind, expect, tier, verdict``).
        models: optional table of models (``name, status``): only models whose
            status is ``"ok"`` are counted.
        arms: False for the methods, True for the control arms.

    Returns:
        DataFrame ``method, tier, n, pass, not above placebo, fail, inconclusive,
        not run`` and the models whose verdict is a finding: ``failing models`` for
        the methods; for the control arms ``unexpected models``, those where a
        placebo or randomised-model arm passed, or a positive control did not.
    """
    listed = "unexpected models" if arms else "failing models"
    columns = ["method", "tier", "n", *OUTCOMES, listed]
    if verdicts is None or not len(verdicts):
        return pd.DataFrame(columns=columns)
    mine = verdicts[(verdicts["kind"] != "method") if arms else (verdicts["kind"] == "method")]
    if models is not None and len(models) and "status" in models:
        mine = mine[mine["name"].isin(set(models.loc[models["status"] == "ok", "name"]))]
    rows = []
    for (label, tier), group in mine.groupby(["label", "tier"], sort=True):
        values = group["verdict"].fillna("not run")
        row = {"method": label, "tier": tier, "n": int(len(values))}
        row.update({k: int((values == k).sum()) for k in OUTCOMES})
        expect = group["expect"].dropna()
        found = _unexpected(expect.iloc[0] if len(expect) else None, arms, values)
        row[listed] = ", ".join(str(n) for n in group.loc[found, "name"])
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def _shares_figure(counts, title):
    """Stacked bars: the share of models with each verdict, per method and tier."""
    from matplotlib.figure import Figure

    labels = [f"{m} · {t}" for m, t in zip(counts["method"], counts["tier"])]
    fig = Figure(figsize=(7.0, 0.8 + 0.26 * len(counts)))
    ax = fig.subplots()
    left = np.zeros(len(counts))
    total = counts["n"].clip(lower=1).to_numpy(float)
    for outcome, colour in zip(OUTCOMES, _COLOURS):
        share = counts[outcome].to_numpy(float) / total
        ax.barh(labels, share, left=left, color=colour, label=outcome)
        left += share
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of models")
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7, ncol=len(OUTCOMES), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    ax.set_title(title, fontsize=9, pad=22)
    return c.figure(fig, caption=title)


def agreement_across_models(metrics, metric="spearman"):
    """Method x method mean (over models) of a pairwise agreement metric's aggregates."""
    if "partner" not in metrics:
        return None
    pairs = metrics[(metrics["metric"] == metric) & metrics["partner"].notna()]
    if pairs.empty:
        return None
    mean = pairs.groupby(["method", "partner"])["value"].mean()
    labels = sorted(set(pairs["method"]) | set(pairs["partner"]))
    matrix = pd.DataFrame(1.0, index=labels, columns=labels)
    for (a, b), value in mean.items():
        matrix.loc[a, b] = matrix.loc[b, a] = value
    return matrix


def summary_sections(models, metrics, verdicts=None):
    """The page's sections (:class:`keras_iml.report.components.Section`).

    Args:
        models: DataFrame, one row per model (``ResultsStore.models()``).
        metrics: long DataFrame of metric rows (``ResultsStore.metrics()``).
        verdicts: long DataFrame of verdicts (``ResultsStore.verdicts()``).
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
    counts = verdict_counts(verdicts, models)
    controls = verdict_counts(verdicts, models, arms=True)
    verdict_blocks = [c.text(
        "Per method and tier, the models where it passes (meets every threshold and beats its "
        "placebo), does not beat placebo, fails a threshold, cannot be decided (only "
        "uninformative metrics) or did not run.", muted=True)]
    if len(counts):
        verdict_blocks.append(_shares_figure(counts, "Verdicts across models"))
    verdict_blocks.append(c.table(counts))
    if len(controls):
        verdict_blocks += [c.text("Control arms (a working protocol passes none of the placebo arms "
                                  "and every positive control):", muted=True), c.table(controls)]
    matrix = agreement_across_models(metrics) if len(metrics) else None
    if matrix is not None:
        from keras_iml.report.figures import heatmap

        verdict_blocks.append(c.figure(heatmap("mean Spearman across models", matrix),
                                       "Method x method agreement, mean over models"))
    judged = metrics[metrics["arm"] == "method"] if len(metrics) else metrics
    figures = [_figure(metrics, m) for m in sorted(judged["metric"].unique())] if len(judged) else []
    keep = [col for col in ("name", "tf", "jaspar_id", "status", "reason", "motif_raise",
                            "passed", "seconds_total") if col in models.columns]
    table = models[keep].copy() if n else pd.DataFrame(columns=keep)
    if "reason" in table:
        table["reason"] = table["reason"].fillna("").astype(str).str.slice(0, 200)
    return [
        c.Section("overview", "Overview", [overview]),
        c.Section("verdicts", "Verdicts by method and tier", verdict_blocks),
        c.Section("distributions", "Metric distributions across models",
                  [c.grid(figures)] if figures else [c.text("No metric rows yet.", muted=True)]),
        c.Section("models", "Models", [c.datatable(table, "zoo-models")]),
    ]


def render_summary(models, metrics, verdicts=None, title="keras_iml zoo batch validation"):
    """The summary page as an HTML string (see :func:`summary_sections`)."""
    return c.html_string(summary_sections(models, metrics, verdicts), title=title)


def write_summary(store, path, title="keras_iml zoo batch validation"):
    """Writes the summary HTML of a :class:`~keras_iml.zoo.batch.results.ResultsStore`, atomically."""
    return c.render_page(summary_sections(store.models(), store.metrics(), store.verdicts()), path,
                         title=title)
