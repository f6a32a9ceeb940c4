"""Sections of the validation report: adverse events, examples, motifs, protocol."""

import json

import numpy as np
import pandas as pd

from keras_iml.report import components as c
from keras_iml.report import figures
from keras_iml.report._reading import is_missing

#: Columns of report.motifs that hold a pattern matrix, in order of preference.
MATRIX_COLUMNS = ("cwm", "contribution", "contribution_matrix", "hcwm", "pfm", "ppm", "matrix")


def adverse_events(parts):
    """Every failing (sequence, method, metric): counts and a filterable table."""
    events = parts.adverse_events
    if events.empty:
        return c.Section("adverse-events", "Adverse events", [c.alert(
            "No adverse events: every (sequence, method, metric) met its threshold.",
            level="ok")])
    counts = (events.groupby(["method", "metric"]).size().unstack(fill_value=0)
              .rename_axis(columns=None))
    named = "" if "name" not in events.columns else " (each named in the 'name' column)"
    blocks = [
        c.text(f"{len(events)} adverse events over "
               f"{events['seq'].nunique()} sequences{named}. Every one is listed below; nothing is "
               "dropped. Type in the box to filter, pick a method or metric, click a header "
               "to sort."),
        c.table(counts, index=True, caption="Adverse events per method (rows) and metric"),
        c.datatable(events, "adverse-table", caption="All adverse events"),
    ]
    return c.Section("adverse-events", "Adverse events", blocks)


def examples(parts, width=figures.LOGO_WIDTH):
    """Attribution logos of the report's systematically chosen sequences.

    Items that share a sequence and a reason (e.g. one random sequence shown for
    every method) are drawn side by side in one card.
    """
    rule = parts.examples.get("rule")
    items = parts.examples.get("items") or []
    if not items:
        return c.Section("examples", "Example sequences", [c.alert(
            "The report holds no example sequences.", level="info")])
    blocks = [c.alert(f"Selection rule: {rule or 'not recorded'}", level="info"),
              c.text(f"{len(items)} examples (sequence, method). Each shows |attribution| "
                     "summed over bases along the whole sequence (top; shaded: the "
                     f"{width}-bp window with the largest total) and that window as a logo "
                     "of the observed bases (bottom; for ISM-like maps, minus the mean "
                     "effect of substituting the base). With ground truth, bars along the "
                     "bottom edge mark the planted sites (green: motif, grey: decoy).",
                     muted=True)]
    groups = {}
    for item in items:
        groups.setdefault((item.get("seq"), str(item.get("why", ""))), []).append(item)
    cards = []
    for (seq, why), group in groups.items():
        figs = []
        for item in group:
            uri, (start, end) = figures.example(item, width=width, title=str(item.get("method")))
            caption = f"{item.get('method')}: logo of positions {start}–{end - 1}"
            figs.append(c.figure(uri, caption))
        name = group[0].get("name")
        title = f"sequence {seq}" if is_missing(name) else f"sequence {name!s} (index {seq})"
        cards.append(c.card(title, [c.grid(figs, columns=min(3, len(figs)))], subtitle=why))
    blocks += cards
    return c.Section("examples", "Example sequences", blocks)


def _matrix(value):
    if value is None or isinstance(value, (str, bytes)):
        return None
    try:
        matrix = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return matrix if matrix.ndim == 2 and matrix.shape[1] == 4 and matrix.shape[0] > 0 else None


def _is_scalar(value):
    return np.ndim(value) == 0


def _display(value):
    """A scalar cell, or a 1-D list (e.g. a pattern's JASPAR matches) joined with '; '."""
    if np.ndim(value) == 1:
        return "; ".join(str(v) for v in value)
    return value


def motifs(parts):
    """Discovered patterns (TF-MoDISco) with their JASPAR matches, per method.

    Returns None when the report holds no motifs.
    """
    frame = parts.motifs
    if frame is None or len(frame) == 0:
        return None
    frame = frame.reset_index(drop=True)
    matrix_cols = [col for col in MATRIX_COLUMNS if col in frame.columns]
    shown = [col for col in frame.columns
             if col not in matrix_cols and frame[col].map(lambda v: np.ndim(v) <= 1).all()]
    frame = frame.assign(**{col: frame[col].map(_display) for col in shown})
    scalar_cols = shown
    method_col = "method" if "method" in frame.columns else None
    groups = frame.groupby(method_col, sort=False) if method_col else [("all", frame)]
    columns = []
    for method, rows in groups:
        cards = []
        for _, row in rows.iterrows():
            matrix = next((m for m in (_matrix(row[col]) for col in matrix_cols)
                           if m is not None), None)
            facts = "; ".join(f"{col}: {c.format_value(row[col])}" for col in scalar_cols
                              if col != method_col and not is_missing(row[col]))
            inner = [c.text(facts, muted=True)]
            if matrix is not None:
                inner.insert(0, c.figure(figures.motif_logo(matrix, ""), ""))
            title = row.get("pattern", row.get("pattern_id", row.name))
            cards.append(c.card(f"pattern {title}", inner))
        columns.append(c.card(f"method: {method}", cards))
    blocks = [
        c.text("Patterns found in each method's attributions (TF-MoDISco), matched to JASPAR "
               "with TOMTOM; patterns matching nothing known or a decoy are listed too."),
        c.grid(columns, columns=min(3, max(1, len(columns)))),
        c.table(frame[scalar_cols], caption="All discovered patterns"),
    ]
    return c.Section("motifs", "Discovered motifs", blocks)


def not_run(parts):
    """Metrics that did not run, with the reason."""
    if parts.not_run.empty:
        return c.Section("not-run", "Metrics not run", [c.text(
            "Every metric of the protocol ran.", muted=True)])
    return c.Section("not-run", "Metrics not run", [c.table(parts.not_run)])


def _dump(value):
    import yaml

    try:
        return yaml.safe_dump(value, sort_keys=False, default_flow_style=None)
    except yaml.YAMLError:
        return json.dumps(value, indent=2, default=str)


def protocol(parts):
    """The protocol fixed before the run, and the data / model hashes."""
    blocks = []
    if parts.provenance:
        prov = pd.DataFrame({"item": list(parts.provenance),
                             "value": [c.format_value(v) for v in parts.provenance.values()]})
        blocks.append(c.table(prov, caption="Provenance: versions, data and model hashes"))
    else:
        blocks.append(c.alert("The report records no provenance (hashes).", level="warning"))
    if parts.protocol:
        blocks += [c.text("Protocol (fixed before the run):"), c.code(_dump(parts.protocol))]
    else:
        blocks.append(c.alert("The report records no protocol.", level="warning"))
    return c.Section("protocol", "Protocol and provenance", blocks)
