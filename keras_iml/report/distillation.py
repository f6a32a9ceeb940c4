"""The report's distillation section: readable surrogates of the model, their fidelity
per library, and the confounders and blind spots found against the ground truth.

It reads ``report.distillation`` (made by the protocol's ``distill`` tier,
:func:`keras_iml.surrogate.tier.tier`) and nothing else: no model is called.
"""

import numpy as np
import pandas as pd

from keras_iml import plotting
from keras_iml.report import components as c
from keras_iml.report.figures import _figure
from keras_iml.report.logo import draw_logo

__all__ = ["section", "fidelity_figure", "additive_logo", "kmer_figure", "LOGO_WIDTH"]

#: Width (bp) of the additive surrogate's logo window.
LOGO_WIDTH = 30
INTRO = (
    "The model was queried on designed libraries of sequences (point mutants, dinucleotide "
    "shuffles, implanted true and decoy motifs, GC and k-mer shifts, out-of-distribution "
    "sequences) and distilled into readable surrogates (an additive position x base matrix, "
    "k-mer weights). Fidelity is measured on held-out queries of every library. A confounder "
    "is a feature the model relies on that the ground truth does not contain; a blind spot "
    "is where the model departs from the truth or from its surrogate. Every row is judged "
    "against its placebo (the same effect with the model's responses permuted: "
    "placebo_low to placebo_high) and a positive control (an effect of twice the threshold "
    "planted into the responses must be found; false: too few queries to tell). Effects of "
    "confounders are in motif units (a true motif's effect at its best position). "
    "See docs/distillation.md."
)


def fidelity_figure(fidelity):
    """Held-out R^2 and Spearman of each surrogate on each library (grouped bars)."""
    libraries = list(dict.fromkeys(fidelity["library"]))
    surrogates = list(dict.fromkeys(fidelity["surrogate"]))
    fig, axes = _figure(7.2, 3.0, rows=2, height_ratios=[1, 1])
    width = 0.8 / max(len(surrogates), 1)
    for ax, column in zip(axes, ("r2", "spearman")):
        for j, name in enumerate(surrogates):
            part = fidelity[fidelity["surrogate"] == name].set_index("library")[column]
            values = [float(part.get(lib, np.nan)) for lib in libraries]
            ax.bar(np.arange(len(libraries)) + (j - (len(surrogates) - 1) / 2) * width, values, width,
                   label=str(name))
        ax.axhline(0, color="0.5", lw=0.5)
        ax.set_ylabel("R²" if column == "r2" else "Spearman", fontsize=8)
        ax.set_xticks(range(len(libraries)), libraries if column == "spearman" else [""] * len(libraries),
                      rotation=20, ha="right", fontsize=7)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    axes[0].set_title("Surrogate fidelity on held-out queries, per library", fontsize=9)
    return c.figure_uri(fig)


def additive_logo(matrix, width=LOGO_WIDTH):
    """Logo of an additive surrogate's ``(L, 4)`` matrix around its strongest window.

    Returns:
        ``(uri, (start, end))``.
    """
    matrix = np.asarray(matrix, dtype=float)
    start, end = plotting.best_window(np.abs(matrix).sum(1), width)
    fig, (top, bottom) = _figure(6.4, 2.6, rows=2, height_ratios=[1, 2])
    top.plot(np.abs(matrix).sum(1), lw=0.8)
    top.axvspan(start, end - 1, color="0.85")
    top.set_ylabel("|weight|", fontsize=7)
    top.tick_params(labelsize=7)
    draw_logo(matrix[start:end], bottom, start=start)
    bottom.set_ylabel("weight", fontsize=7)
    bottom.tick_params(labelsize=7)
    return c.figure_uri(fig), (start, end)


def kmer_figure(weights, n=16):
    """The ``n`` largest k-mer weights (by magnitude) as horizontal bars."""
    series = pd.Series(weights, dtype=float)
    top = series.reindex(series.abs().sort_values(ascending=False).index[:n])[::-1]
    fig, ax = _figure(4.0, 0.6 + 0.2 * len(top))
    ax.barh(range(len(top)), top.to_numpy(), color=["#c0392b" if v > 0 else "#2471a3" for v in top])
    ax.set_yticks(range(len(top)), list(top.index), fontsize=7, family="monospace")
    ax.axvline(0, color="0.5", lw=0.5)
    ax.set_xlabel("weight per occurrence (both strands)", fontsize=7)
    ax.tick_params(labelsize=7)
    return c.figure_uri(fig)


def _findings_table(table, title):
    if not isinstance(table, pd.DataFrame) or table.empty:
        return [c.alert(f"{title}: nothing could be tested on this run.", level="info")]
    found = table[table["finding"].astype(bool)]
    blocks = [c.alert(f"{title}: " + "; ".join(
        f"{r.feature} (effect {r.effect:.3g}, placebo {r.placebo_low:.3g} to {r.placebo_high:.3g})"
        for r in found.itertuples()), level="warning") if len(found) else
        c.alert(f"{title}: none found ({len(table)} tested).", level="ok")]
    weak = table[~table["positive_control"].astype(bool) & ~table["finding"].astype(bool)]
    if len(weak):
        blocks.append(c.text("Positive control not found (too few queries to tell; the absence of a "
                             "finding means little): " + ", ".join(weak["feature"]), muted=True))
    shown = table.assign(finding=table["finding"].astype(bool).map({True: "found", False: "not found"}))
    blocks.append(c.table(shown, caption=f"{title}: every tested feature, with its placebo range"))
    return blocks


def section(distillation):
    """The section, or None when the run had no distillation tier.

    Args:
        distillation: ``report.distillation`` (a dict of DataFrames and plain data) or None.
    """
    if distillation is None:
        return None
    if not isinstance(distillation, dict):
        raise TypeError(f"`report.distillation` must be a dict or None. Received: {type(distillation).__name__}")
    blocks = [c.text(INTRO, muted=True)]
    metrics = distillation.get("metrics")
    if isinstance(metrics, pd.DataFrame) and len(metrics):
        blocks.append(c.table(metrics, caption="Distillation metrics and their thresholds"))
    fidelity = distillation.get("fidelity")
    if isinstance(fidelity, pd.DataFrame) and len(fidelity):
        blocks.append(c.figure(fidelity_figure(fidelity), "Fidelity per library (held-out queries)"))
    figures = []
    for name, sur in (distillation.get("surrogates") or {}).items():
        if sur.get("kind") == "matrix" and sur.get("matrix"):
            uri, (start, end) = additive_logo(sur["matrix"])
            figures.append(c.figure(uri, f"{name} surrogate: |weight| along the sequence and a logo of "
                                         f"positions {start}–{end - 1}"))
        elif sur.get("kind") == "weights" and sur.get("weights"):
            figures.append(c.figure(kmer_figure(sur["weights"]), f"{name} surrogate: largest weights"))
    if figures:
        blocks.append(c.grid(figures, columns=2))
    blocks += _findings_table(distillation.get("confounders"), "Confounders")
    blocks += _findings_table(distillation.get("blind_spots"), "Blind spots")
    planted = distillation.get("planted")
    if isinstance(planted, dict) and isinstance(distillation.get("planted_confounders"), pd.DataFrame):
        blocks.append(c.card("Proof on planted truth: a model trained with a planted confounder", _planted(
            distillation, planted), subtitle=str(planted.get("description", ""))))
    reasons = distillation.get("reasons") or {}
    if reasons:
        blocks.append(c.text("Skipped: " + "; ".join(f"{k}: {v}" for k, v in reasons.items()), muted=True))
    return c.Section("distillation", "Distillation: surrogates, confounders and blind spots", blocks)


def _planted(distillation, planted):
    """Blocks of the planted-confounder model: its findings beside the clean model's."""
    auroc = planted.get("held_out_auroc")
    blocks = [c.text(f"Benchmark with {planted.get('benchmark')} planted; held-out AUROC on clean "
                     f"sequences {auroc:.3f}. The clean model's findings above are its control: the planted "
                     "confounder and the blind spot it causes should appear here and not there."
                     if isinstance(auroc, float) else f"Benchmark with {planted.get('benchmark')} planted.")]
    rows = []
    for label, prefix in (("clean model", ""), ("planted-confounder model", "planted_")):
        for kind in ("confounders", "blind_spots"):
            table = distillation.get(f"{prefix}{kind}")
            if isinstance(table, pd.DataFrame) and len(table):
                found = table[table["finding"].astype(bool)]
                rows.append({"model": label, "table": kind, "tested": len(table),
                             "findings": ", ".join(found["feature"]) or "none"})
    blocks.append(c.table(pd.DataFrame(rows), caption="Findings of the two models side by side"))
    fidelity = distillation.get("planted_fidelity")
    if isinstance(fidelity, pd.DataFrame) and len(fidelity):
        blocks.append(c.figure(fidelity_figure(fidelity), "Planted-confounder model: fidelity per library"))
    for kind in ("confounders", "blind_spots"):
        table = distillation.get(f"planted_{kind}")
        if isinstance(table, pd.DataFrame) and len(table):
            blocks.append(c.table(table, caption=f"Planted-confounder model: {kind.replace('_', ' ')}"))
    return blocks
