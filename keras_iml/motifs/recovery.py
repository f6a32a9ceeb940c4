"""The Tier-3 "motif recovery" result: expected motifs found, decoys and unknowns flagged."""

import numpy as np
import pandas as pd

from keras_iml.attributions import Attributions
from keras_iml.motifs.database import base_id, is_jaspar_id
from keras_iml.motifs.discover import PATTERN_COLUMNS, discover
from keras_iml.motifs.resolve import load_database

__all__ = ["MotifRecovery", "motif_recovery", "sequence_scores"]

RECOVERY_COLUMNS = ["method", "motif", "matrix_ids", "recovered", "pattern", "q_value",
                    "n_seqlets", "top_pattern"]
SUMMARY_COLUMNS = ["method", "n_expected", "n_recovered", "recall", "top_pattern",
                   "top_pattern_status", "n_patterns", "n_expected_patterns", "n_known",
                   "n_unmatched", "n_decoy"]
ADVERSE_COLUMNS = ["method", "pattern", "sign", "n_seqlets", "status", "best_match",
                   "best_match_name", "q_value", "reason"]


class MotifRecovery:
    """Motif recovery of several attribution methods (plain data).

    Attributes:
        patterns: every discovered pattern of every method
            (:func:`keras_iml.motifs.discover` columns).
        recovery: one row per (method, expected motif): ``method, motif`` (the
            label the user gave), ``matrix_ids`` (the matrices it stands for),
            ``recovered`` (a pattern matches one of them at q below the
            threshold), the best such ``pattern``, its ``q_value``, ``n_seqlets``
            and whether it is the method's ``top_pattern``.
        summary: one row per method: ``n_expected, n_recovered, recall`` (NaN
            without expected motifs), the ``top_pattern`` (the positive pattern
            with most seqlets, else the largest negative one) and its status, and
            pattern counts per status.
        adverse: every pattern that matches a decoy or no known motif, with the
            reason (reported, never dropped).
        q_threshold: the significance level used.
        settings: dict method -> the ``attrs`` of its ``discover`` frame
            (settings, database, expected/decoy groups, seconds per step).
    """

    def __init__(self, patterns, recovery, summary, adverse, q_threshold, settings=None):
        self.patterns = patterns
        self.recovery = recovery
        self.summary = summary
        self.adverse = adverse
        self.q_threshold = q_threshold
        self.settings = dict(settings or {})

    def __repr__(self):
        lines = [f"<MotifRecovery q<{self.q_threshold}>"]
        for _, r in self.summary.iterrows():
            lines.append(
                f"  {r['method']}: {r['n_recovered']}/{r['n_expected']} expected motifs, "
                f"top pattern {r['top_pattern_status']}, {r['n_decoy']} decoy, "
                f"{r['n_unmatched']} unmatched of {r['n_patterns']} patterns"
            )
        return "\n".join(lines)


def _top_pattern(frame):
    if len(frame) == 0:
        return None
    pos = frame[frame["sign"] == "pos"]
    return (pos if len(pos) else frame).iloc[0]["pattern"]


def _in_group(hits, ids):
    ids = set(ids)
    bases = {base_id(i) for i in ids if is_jaspar_id(i)}
    return any(h in ids or (is_jaspar_id(h) and base_id(h) in bases) for h in hits)


def _recovery_rows(method, frame, groups, q_threshold):
    top = _top_pattern(frame)
    rows = []
    for label, ids in groups.items():
        found = frame[[_in_group(h, ids) for h in frame["expected_hits"]]] if len(frame) else frame
        found = found[found["expected_q"] < q_threshold] if len(found) else found
        if len(found):
            best = found.sort_values("expected_q", kind="stable").iloc[0]
            rows.append((method, label, list(ids), True, best["pattern"],
                         float(best["expected_q"]), int(best["n_seqlets"]),
                         bool(best["pattern"] == top)))
        else:
            rows.append((method, label, list(ids), False, None, np.nan, 0, False))
    return rows


def _adverse_rows(method, frame):
    rows = []
    for _, p in frame.iterrows():
        if p["status"] == "decoy":
            reason = f"matches decoy {p['decoy_match']} (q={p['decoy_q']:.2g})"
        elif p["status"] == "unmatched":
            reason = (f"matches no known motif (best {p['best_match']} "
                      f"{p['best_match_name']}, q={p['q_value']:.2g}, column-shuffle "
                      f"p={p['shuffle_p']:.2g}; {p['information']:.2f} bits per position)")
        else:
            continue
        rows.append((method, p["pattern"], p["sign"], int(p["n_seqlets"]), p["status"],
                     p["best_match"], p["best_match_name"], float(p["q_value"]), reason))
    return rows


def _summary_row(method, frame, rec):
    top = _top_pattern(frame)
    status = frame.set_index("pattern")["status"]
    counts = frame["status"].value_counts()
    n_exp = len(rec)
    n_rec = int(sum(r[3] for r in rec))
    return (method, n_exp, n_rec, n_rec / n_exp if n_exp else np.nan, top,
            "no patterns" if top is None else status[top], len(frame),
            int(counts.get("expected", 0)), int(counts.get("known", 0)),
            int(counts.get("unmatched", 0)), int(counts.get("decoy", 0)))


def motif_recovery(attributions=None, x=None, *, patterns=None, expected=None, decoys=None,
                   database="JASPAR", q_threshold=0.05, seed=None, verbose="auto",
                   **discover_options):
    """Which expected motifs each method's TF-MoDISco patterns recover.

    Either runs :func:`keras_iml.motifs.discover` for every method (the motif
    database is read once and shared), or summarises patterns already
    discovered. A motif is recovered by a method when one of its patterns
    matches it at q < ``q_threshold``; patterns matching a decoy or nothing
    known are listed in ``adverse``.

    Args:
        attributions: dict method name -> :class:`keras_iml.Attributions` (or a
            single Attributions).
        x: one-hot sequences, when the Attributions hold no ``inputs``.
        patterns: instead of ``attributions``, dict method name -> the frame
            ``discover`` returned (its ``attrs`` give the expected motifs unless
            ``expected`` is passed again).
        expected: the motifs that should be found (benchmark's planted motifs,
            a zoo model's TF): JASPAR IDs, TF names, matrices (see ``discover``).
        decoys: motifs that must not be found (e.g. a confounder).
        database: as in ``discover``.
        q_threshold: significance level on TOMTOM q-values.
        seed: passed to ``discover``.
        verbose: passed to ``discover``.
        **discover_options: other ``discover`` options (``max_seqlets``,
            ``window``, ``modisco_options``...).

    Returns:
        :class:`MotifRecovery`.

    Example:
        >>> attr = keras_iml.explain(model, x, ["saliency", "integrated_gradients"])
        >>> result = motif_recovery(attr, expected=["MA0139"], decoys=["MA0035"])
        >>> result.summary[["method", "recall", "top_pattern_status", "n_decoy"]]
    """
    if (attributions is None) == (patterns is None):
        raise ValueError("Pass exactly one of `attributions` and `patterns`. Received: "
                         f"attributions={type(attributions).__name__}, "
                         f"patterns={type(patterns).__name__}")
    if attributions is not None:
        if isinstance(attributions, Attributions):
            attributions = {attributions.method: attributions}
        if not isinstance(attributions, dict) or not attributions:
            raise TypeError("`attributions` must be a dict name -> Attributions. "
                            f"Received: type {type(attributions).__name__}")
        db = load_database(database)
        patterns = {
            name: discover(a, x, database=db, expected=expected, decoys=decoys,
                           q_threshold=q_threshold, seed=seed, verbose=verbose,
                           **discover_options)
            for name, a in attributions.items()
        }
    if not isinstance(patterns, dict):
        raise TypeError(f"`patterns` must be a dict name -> DataFrame. Received: "
                        f"type {type(patterns).__name__}")
    recovery, summary, adverse, frames, settings = [], [], [], [], {}
    for name, frame in patterns.items():
        missing = sorted(set(PATTERN_COLUMNS) - set(frame.columns))
        if missing:
            raise ValueError(f"`patterns[{name!r}]` lacks discover() columns {missing}.")
        settings[name] = dict(frame.attrs)
        groups = frame.attrs.get("expected", {})
        if expected is not None and attributions is None:
            groups = _groups_from(expected, frame)
        frame = frame.assign(method=name)
        rec = _recovery_rows(name, frame, groups, q_threshold)
        recovery += rec
        summary.append(_summary_row(name, frame, rec))
        adverse += _adverse_rows(name, frame)
        frames.append(frame)
    all_patterns = (pd.concat(frames, ignore_index=True) if frames
                    else pd.DataFrame(columns=PATTERN_COLUMNS))
    return MotifRecovery(
        all_patterns,
        pd.DataFrame(recovery, columns=RECOVERY_COLUMNS),
        pd.DataFrame(summary, columns=SUMMARY_COLUMNS),
        pd.DataFrame(adverse, columns=ADVERSE_COLUMNS),
        q_threshold,
        settings,
    )


def _groups_from(expected, frame):
    """Expected-motif groups for patterns discovered earlier: IDs/names as labels."""
    known = frame.attrs.get("expected", {})
    items = [expected] if isinstance(expected, str) else list(expected)
    groups = {}
    for item in items:
        if not isinstance(item, str):
            raise TypeError("With `patterns`, `expected` must list JASPAR IDs or labels used "
                            f"in discover(). Received an item of type {type(item).__name__}")
        groups[item] = known.get(item, [item])
    return groups


def sequence_scores(patterns, n, good=("expected",)):
    """Per-sequence view of a method's patterns, from the seqlets each sequence gave.

    Args:
        patterns: a :func:`keras_iml.motifs.discover` frame (one method).
        n: number of sequences.
        good: pattern statuses that count as recovered (``("expected",)``; with no
            expected motif known, ``("expected", "known")``).

    Returns:
        dict with two ``(N,)`` float arrays, NaN for sequences none of whose
        seqlets is in a pattern: ``"motif_recovery"``, the share of the
        sequence's patterned seqlets whose pattern has a ``good`` status, and
        ``"motif_decoy_free"``, 0 when one of them is in a decoy pattern, else 1.

    Example:
        >>> sequence_scores(patterns, len(x))["motif_recovery"]
    """
    total = np.zeros(n)
    hits = np.zeros(n)
    decoy = np.zeros(n, dtype=bool)
    for seqlets, status in zip(patterns["seqlets"], patterns["status"]):
        seqs = np.asarray([s[0] for s in seqlets], dtype=np.int64)
        if seqs.size and (seqs.min() < 0 or seqs.max() >= n):
            raise ValueError(f"`patterns` has seqlets outside the {n} sequences.")
        np.add.at(total, seqs, 1.0)
        if status in good:
            np.add.at(hits, seqs, 1.0)
        if status == "decoy":
            decoy[seqs] = True
    with np.errstate(invalid="ignore", divide="ignore"):
        recovery = np.where(total > 0, hits / total, np.nan)
    return {"motif_recovery": recovery,
            "motif_decoy_free": np.where(total > 0, (~decoy).astype(float), np.nan)}
