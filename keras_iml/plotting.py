"""Plotting helpers (matplotlib + logomaker), imported lazily.

Every function draws on a matplotlib axes it is given (or on a new figure when
``ax`` is None) and returns the axes, so the same figures appear in notebooks and
in the HTML report (:mod:`keras_iml.report`).
"""

import numpy as np

__all__ = [
    "agreement_heatmap",
    "attribution_logo",
    "best_window",
    "curve_plot",
    "forest_plot",
    "importance_track",
    "metric_distribution",
]

#: Colours cycled over methods, so one method keeps its colour in every figure.
PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
    "#e377c2", "#17becf", "#7f7f7f", "#bcbd22",
)


def _axes(ax, figsize):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def method_colors(methods):
    """A stable colour per method name (in the order given)."""
    return {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(methods)}


def attribution_logo(values, ax=None, alphabet="ACGT", title=None, start=0):
    """Draws an ``(L, 4)`` attribution matrix as a sequence logo.

    Args:
        values: array ``(L, 4)``.
        ax: matplotlib axes to draw on (a new figure when None).
        alphabet: column letters.
        title: optional axes title.
        start: position of the first row, used to number the x axis.

    Returns:
        The matplotlib axes.

    Example:
        >>> attribution_logo(attr.values[0] , title="saliency, sequence 0")
    """
    import logomaker
    import pandas as pd

    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[1] != len(alphabet):
        raise ValueError(
            f"`values` must have shape (L, {len(alphabet)}). Received: values.shape={values.shape}"
        )
    ax = _axes(ax, (max(4, values.shape[0] / 12), 1.8))
    frame = pd.DataFrame(np.nan_to_num(values), columns=list(alphabet))
    frame.index = np.arange(start, start + len(frame))
    logomaker.Logo(frame, ax=ax, shade_below=0.3, fade_below=0.3)
    ax.axhline(0, color="0.6", lw=0.5)
    ax.set_xlabel("position")
    ax.set_ylabel("attribution")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def best_window(importance, width):
    """Start of the ``width``-long window with the largest total ``importance``.

    Args:
        importance: 1-D array of non-negative per-position scores.
        width: window length (clipped to the sequence length).

    Returns:
        ``(start, end)`` with ``end - start == min(width, len(importance))``; ties
        go to the leftmost window.
    """
    importance = np.nan_to_num(np.asarray(importance, dtype=float))
    width = int(min(width, importance.shape[0]))
    if width < 1:
        raise ValueError(f"`width` must be >= 1. Received: width={width}")
    sums = np.convolve(importance, np.ones(width), mode="valid")
    start = int(np.argmax(sums))
    return start, start + width


def importance_track(values, ax=None, window=None, color="#1f77b4"):
    """Plots position importance ``sum_b |values[:, b]|`` along the sequence.

    Args:
        values: array ``(L, 4)``.
        ax: matplotlib axes (a new figure when None).
        window: optional ``(start, end)`` to shade (e.g. the logo's window).
        color: line colour.

    Returns:
        The matplotlib axes.
    """
    values = np.asarray(values, dtype=float)
    ax = _axes(ax, (8, 1.2))
    importance = np.abs(np.nan_to_num(values)).sum(axis=-1)
    ax.fill_between(np.arange(len(importance)), importance, color=color, alpha=0.35, lw=0)
    ax.plot(importance, color=color, lw=0.8)
    if window is not None:
        ax.axvspan(window[0] - 0.5, window[1] - 0.5, color="#ffbf00", alpha=0.25, lw=0)
    ax.set_xlim(-0.5, len(importance) - 0.5)
    ax.set_ylabel("|attr.|", fontsize=8)
    ax.tick_params(labelsize=7)
    return ax


def metric_distribution(values, ax=None, summary=None, title=None, colors=None, seed=0):
    """Per-method distribution of a per-sequence metric, with each aggregate's CI.

    Draws, for each method (one row), a box plot and every sequence's value as a
    point (vertical jitter from a seeded generator), the aggregate value with its
    bootstrap confidence interval as a black diamond and bar, and the threshold
    as a dashed line.

    Args:
        values: DataFrame with columns ``method`` and ``value`` (one row per
            sequence and method; NaN rows are dropped).
        ax: matplotlib axes (a new figure when None).
        summary: optional DataFrame with columns ``method, value, ci_low, ci_high,
            threshold`` (rows of the report's summary for this metric).
        title: axes title.
        colors: optional dict method -> colour.
        seed: seed of the jitter.

    Returns:
        The matplotlib axes.
    """
    import pandas as pd

    values = pd.DataFrame(values)
    methods = list(dict.fromkeys(values["method"]))
    if summary is not None:
        methods += [m for m in summary["method"] if m not in methods]
    colors = colors or method_colors(methods)
    ax = _axes(ax, (7, 0.5 + 0.45 * len(methods)))
    rng = np.random.default_rng(seed)
    for row, method in enumerate(methods):
        v = values.loc[values["method"] == method, "value"].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        color = colors.get(method, "#555555")
        if v.size:
            ax.boxplot(v, positions=[row], vert=False, widths=0.6, showfliers=False,
                       patch_artist=True, boxprops=dict(facecolor=color, alpha=0.25),
                       medianprops=dict(color=color))
            jitter = rng.uniform(-0.22, 0.22, v.size)
            ax.scatter(v, row + jitter, s=6, color=color, alpha=min(1.0, 30 / v.size + 0.15),
                       lw=0)
    if summary is not None:
        threshold_drawn = False
        for _, s in summary.iterrows():
            if s["method"] not in methods:
                continue
            row = methods.index(s["method"])
            lo, hi = s.get("ci_low"), s.get("ci_high")
            if pd.notna(lo) and pd.notna(hi):
                ax.plot([lo, hi], [row + 0.38] * 2, color="black", lw=1.6)
            if pd.notna(s.get("value")):
                ax.plot([s["value"]], [row + 0.38], marker="D", color="black", ms=4)
            t = s.get("threshold")
            if t is not None and pd.notna(t) and not threshold_drawn:
                ax.axvline(float(t), color="#d62728", ls="--", lw=1, label="threshold")
                threshold_drawn = True
        if threshold_drawn:
            ax.legend(loc="lower left", bbox_to_anchor=(1.0, 0.0), fontsize=7, frameon=False)
    ax.set_yticks(range(len(methods)))
    ax.set_yticklabels(methods, fontsize=8)
    ax.set_ylim(len(methods) - 0.4, -0.6)
    ax.set_xlabel("per-sequence value (◆ aggregate, bar 95% CI)", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def agreement_heatmap(matrix, ax=None, title=None):
    """Method x method agreement matrix as an annotated heatmap.

    The colour scale is [-1, 1] (diverging) when the matrix has negative
    entries, else [0, 1].

    Args:
        matrix: square DataFrame (index and columns are method names).
        ax: matplotlib axes (a new figure when None).
        title: axes title.

    Returns:
        The matplotlib axes.
    """
    import pandas as pd

    matrix = pd.DataFrame(matrix)
    data = matrix.to_numpy(dtype=float)
    n = max(len(matrix), 1)
    ax = _axes(ax, (1.2 + 0.6 * n, 1.0 + 0.6 * n))
    negative = np.nanmin(data) < 0 if np.isfinite(data).any() else False
    vmin, cmap = (-1.0, "RdBu_r") if negative else (0.0, "viridis")
    image = ax.imshow(data, vmin=vmin, vmax=1.0, cmap=cmap)
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            text = "—" if not np.isfinite(data[i, j]) else f"{data[i, j]:.2f}"
            dark = np.isfinite(data[i, j]) and (
                abs(data[i, j]) > 0.6 if negative else data[i, j] < 0.5
            )
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if dark else "black")
    ax.set_xticks(range(data.shape[1]))
    ax.set_xticklabels([str(c) for c in matrix.columns], rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(data.shape[0]))
    ax.set_yticklabels([str(i) for i in matrix.index], fontsize=8)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def curve_plot(frame, x, y, ax=None, title=None, xlabel=None, ylabel=None, colors=None):
    """Curves per method from a long DataFrame, e.g. deletion curves or recall at k.

    Rows with ``kind == "random"`` (the random-ranking baseline) are drawn dashed
    in the method's colour; other rows solid. When several rows share a method,
    kind and ``x`` (e.g. one per sequence) their mean is drawn with a band of
    +/- one standard error.

    Args:
        frame: DataFrame with columns ``method``, ``x``, ``y`` and optionally ``kind``.
        x: name of the x column (e.g. ``"fraction"`` or ``"k"``).
        y: name of the y column (e.g. ``"output"`` or ``"value"``).
        ax: matplotlib axes (a new figure when None).
        title, xlabel, ylabel: labels.
        colors: optional dict method -> colour.

    Returns:
        The matplotlib axes.
    """
    import pandas as pd

    frame = pd.DataFrame(frame).copy()
    if "kind" not in frame:
        frame["kind"] = "ranked"
    ax = _axes(ax, (5, 3.2))
    methods = list(dict.fromkeys(frame["method"]))
    colors = colors or method_colors(methods)
    stats = frame.groupby(["method", "kind", x], sort=False)[y].agg(["mean", "std", "count"])
    for (method, kind), part in stats.groupby(level=[0, 1], sort=False):
        part = part.droplevel([0, 1]).sort_index()
        xs = part.index.to_numpy(dtype=float)
        color = colors.get(method, "#555555")
        dashed = kind == "random"
        label = f"{method} (random ranking)" if dashed else method
        ax.plot(xs, part["mean"], color=color, ls="--" if dashed else "-",
                lw=1.0 if dashed else 1.6, marker=None if len(xs) > 12 else "o", ms=3,
                label=label)
        if (part["count"] > 1).any():
            sem = (part["std"] / np.sqrt(part["count"])).fillna(0).to_numpy()
            ax.fill_between(xs, part["mean"] - sem, part["mean"] + sem, color=color,
                            alpha=0.12, lw=0)
    ax.set_xlabel(xlabel or x, fontsize=8)
    ax.set_ylabel(ylabel or y, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6.5, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def forest_plot(summary, ax=None, title=None, colors=None):
    """Aggregate value and confidence interval of one metric for each method.

    Args:
        summary: DataFrame with columns ``method, value, ci_low, ci_high`` and
            optionally ``threshold`` and ``passed`` (failed rows get a red label).
        ax: matplotlib axes (a new figure when None).
        title: axes title.
        colors: optional dict method -> colour.

    Returns:
        The matplotlib axes.
    """
    import pandas as pd

    summary = pd.DataFrame(summary).reset_index(drop=True)
    methods = [str(m) for m in summary["method"]]
    colors = colors or method_colors(methods)
    ax = _axes(ax, (4, 0.6 + 0.35 * len(methods)))
    for row, s in summary.iterrows():
        color = colors.get(methods[row], "#555555")
        if pd.notna(s.get("ci_low")) and pd.notna(s.get("ci_high")):
            ax.plot([s["ci_low"], s["ci_high"]], [row, row], color=color, lw=2)
        if pd.notna(s.get("value")):
            ax.plot([s["value"]], [row], marker="o", color=color, ms=5)
    thresholds = summary["threshold"].dropna() if "threshold" in summary else []
    if len(thresholds):
        ax.axvline(float(thresholds.iloc[0]), color="#d62728", ls="--", lw=1)
    ax.set_yticks(range(len(methods)))
    ax.set_yticklabels(methods, fontsize=8)
    if "passed" in summary:
        for label, passed in zip(ax.get_yticklabels(), summary["passed"]):
            if passed is False or (isinstance(passed, (bool, np.bool_)) and not passed):
                label.set_color("#b31b1b")
    ax.set_ylim(len(methods) - 0.5, -0.5)
    ax.tick_params(axis="x", labelsize=7)
    if title:
        ax.set_title(title, fontsize=10)
    return ax
