"""Figures of the HTML report, each returned as an embeddable PNG data URI.

Figures are made with :class:`matplotlib.figure.Figure` directly (no pyplot, so
no GUI backend and no global figure state) and drawn by the public helpers in
:mod:`keras_iml.plotting`.
"""

import numpy as np
import pandas as pd

from keras_iml import plotting
from keras_iml.report.components import figure_uri
from keras_iml.report.logo import draw_logo

#: Width (bp) of the logo window drawn for each example sequence.
LOGO_WIDTH = 80


def _figure(width, height, rows=1, height_ratios=None):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    if rows == 1:
        return fig, fig.add_subplot()
    axes = fig.subplots(rows, 1, gridspec_kw={"height_ratios": height_ratios})
    return fig, axes


def distribution(metric, values, summary, colors):
    """Per-sequence distribution of ``metric`` for every method, with CIs."""
    n = max(values["method"].nunique(), len(summary), 1)
    fig, ax = _figure(6.4, 0.9 + 0.42 * n)
    plotting.metric_distribution(values, ax=ax, summary=summary, title=metric, colors=colors)
    return figure_uri(fig)


def forest(metric, summary, colors):
    """Aggregate and CI of ``metric`` per method."""
    fig, ax = _figure(4.2, 0.9 + 0.35 * len(summary))
    plotting.forest_plot(summary, ax=ax, title=metric, colors=colors)
    return figure_uri(fig)


def heatmap(name, matrix):
    """Annotated method x method heatmap."""
    n = max(len(matrix), 1)
    fig, ax = _figure(1.9 + 0.55 * n, 1.4 + 0.5 * n)
    plotting.agreement_heatmap(matrix, ax=ax, title=name)
    return figure_uri(fig)


def curve_axes(frame):
    """The (x, y) columns of a long curve table (e.g. fraction/output or k/value)."""
    y = next((c for c in ("output", "value", "score", "mean") if c in frame.columns), None)
    x = next((c for c in ("fraction", "k", "layers", "step", "position", "x")
              if c in frame.columns), None)
    if x is None:
        numeric = [c for c in frame.columns
                   if c not in (y, "seq", "method", "kind")
                   and pd.api.types.is_numeric_dtype(frame[c])]
        x = numeric[0] if numeric else None
    if x is None or y is None:
        raise ValueError(
            "A curve table needs a method column, an x column (fraction, k, ...) and a y "
            f"column (output or value). Received: columns={list(frame.columns)}"
        )
    return x, y


def curves(name, frame, colors, xlabel=None, ylabel=None):
    """Curves per method (random-ranking baselines dashed)."""
    x, y = curve_axes(frame)
    fig, ax = _figure(5.2, 3.4)
    plotting.curve_plot(frame, x, y, ax=ax, title=name, colors=colors,
                        xlabel=xlabel, ylabel=ylabel)
    return figure_uri(fig)


def observed_contribution(values, onehot):
    """Per-position score of the observed base, drawn as the example logos.

    ``sum_b values[i, b] * x[i, b]``; for maps that are zero at the observed base
    but not elsewhere (ISM: ``f(x with b) - f(x)``) it is minus the mean effect
    of substituting the base, ``-sum_b values[i, b] / 3``.

    Args:
        values: ``(L, 4)`` attributions.
        onehot: ``(L, 4)`` one-hot input.

    Returns:
        ``(L,)`` float array.
    """
    values = np.nan_to_num(np.asarray(values, dtype=float))
    onehot = np.asarray(onehot, dtype=float)
    observed = (values * onehot).sum(axis=1)
    scale = np.abs(values).max(initial=0.0)
    if scale > 0 and np.abs(observed).max(initial=0.0) <= 1e-6 * scale:
        observed = -values.sum(axis=1) / 3.0
    return observed


def example(item, width=LOGO_WIDTH, alphabet="ACGT", title=None):
    """Full-length importance track plus a logo of the most important window.

    The track is ``sum_b |values|`` (the validation's position importance); the
    logo (:func:`keras_iml.report.logo.draw_logo`) draws the observed base of each
    position with the height of :func:`observed_contribution` (all four bases when
    the input is unknown).

    Returns:
        ``(uri, (start, end))`` where ``(start, end)`` is the logo's window.
    """
    values = np.asarray(item["values"], dtype=float)
    if values.ndim != 2 or values.shape[1] != len(alphabet):
        raise ValueError(
            f"An example's `values` must have shape (L, {len(alphabet)}). "
            f"Received: values.shape={values.shape} for seq={item.get('seq')}"
        )
    onehot = item.get("input")
    logo = values
    if onehot is not None and np.shape(onehot) == values.shape:
        onehot = np.asarray(onehot, dtype=float)
        logo = onehot * observed_contribution(values, onehot)[:, None]
    importance = np.abs(np.nan_to_num(values)).sum(axis=1)
    start, end = plotting.best_window(importance, width)
    fig, (top, bottom) = _figure(6.4, 2.9, rows=2, height_ratios=[1, 2.2])
    fig.subplots_adjust(left=0.12, right=0.99, top=0.91, bottom=0.1, hspace=0.45)
    plotting.importance_track(values, ax=top, window=(start, end))
    _mark_sites(item.get("sites") or (), top, bottom, (start, end))
    top.set_xlabel("")
    if title:
        top.set_title(title, fontsize=9)
    draw_logo(logo[start:end], bottom, alphabet=alphabet, start=start)
    bottom.set_ylabel("attribution", fontsize=8)
    bottom.tick_params(labelsize=7)
    return figure_uri(fig, tight=False), (start, end)


#: colour of each kind of planted site on the example panels
SITE_COLOURS = {"motif": "#1a7f37", "decoy": "#8c8c8c"}


def _mark_sites(sites, top, bottom, window):
    """Underlines the planted ground-truth sites (green: motif, grey: decoy) on the
    importance track, and in the logo's window."""
    seen = set()
    for start, end, kind in sites:
        colour = SITE_COLOURS.get(kind, "#444")
        label = None if kind in seen else f"planted {kind}"
        seen.add(kind)
        top.axvspan(start - 0.5, end - 0.5, ymin=0, ymax=0.08, color=colour, alpha=0.9, lw=0, label=label)
        lo, hi = max(start, window[0]), min(end, window[1])
        if lo < hi:
            bottom.axvspan(lo - 0.5, hi - 0.5, ymin=0, ymax=0.05, color=colour, alpha=0.9, lw=0)
    if seen:
        top.legend(fontsize=6, loc="upper right", frameon=False)


def motif_logo(matrix, title, alphabet="ACGT"):
    """Logo of a discovered pattern's (W, 4) matrix."""
    matrix = np.asarray(matrix, dtype=float)
    fig, ax = _figure(max(2.6, 0.16 * matrix.shape[0] + 0.8), 1.6)
    draw_logo(matrix, ax, alphabet=alphabet)
    ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    return figure_uri(fig)
