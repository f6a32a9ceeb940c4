"""Matching motifs (e.g. TF-MoDISco patterns) to a database, with expected and decoy roles."""

import numpy as np
import pandas as pd

from keras_iml.motifs.database import MotifDatabase, base_id, is_jaspar_id
from keras_iml.motifs.pfm import as_pfm, information_content
from keras_iml.motifs.resolve import load_database, resolve_motifs
from keras_iml.motifs.tomtom import tomtom_roles

__all__ = ["match", "MATCH_FIELDS", "same_tf", "expand_groups"]

MATCH_FIELDS = [
    "information", "best_match", "best_match_name", "p_value", "q_value", "shuffle_p",
    "significant", "matches", "expected_match", "expected_q", "expected_hits", "decoy_match",
    "decoy_q", "decoy_hits", "status",
]


def same_tf(targets, motifs):
    """Boolean mask over ``targets``: motifs standing for one of ``motifs``' TFs.

    A target qualifies by ID, by JASPAR base ID (any version) or by TF name
    (case-insensitive): a pattern matching CTCF's extended matrix MA1930 recovers
    CTCF as surely as one matching MA0139.
    """
    ids = set(motifs.ids)
    bases = {base_id(i) for i in motifs.ids if is_jaspar_id(i)}
    names = {n.upper() for n in motifs.names}
    return np.array([i in ids or (is_jaspar_id(i) and base_id(i) in bases) or n.upper() in names
                     for i, n in zip(targets.ids, targets.names)], dtype=bool)


def expand_groups(groups, motifs, targets):
    """Each group's IDs extended to every target of the same TF (see :func:`same_tf`)."""
    out = {}
    for label, ids in groups.items():
        member = motifs.subset([k for k, i in enumerate(motifs.ids) if i in set(ids)])
        mask = same_tf(targets, member)
        out[label] = list(dict.fromkeys(list(ids) + [targets.ids[k] for k in np.flatnonzero(mask)]))
    return out


def all_targets(database, expected, decoys):
    """The TOMTOM targets: the database, then expected and decoy motifs it lacks."""
    return database.extend(expected).extend(decoys)


def _status(row):
    found = {r: row[f"{r}_q"] for r in ("expected", "decoy") if row[f"{r}_match"] is not None}
    if found:
        return min(found, key=found.get)
    return "known" if row["significant"] else "unmatched"


def match_rows(pfms, database, expected, decoys, *, q_threshold=0.05, top_n=5,
               n_shuffles=39, seed=None):
    """Match fields (:data:`MATCH_FIELDS`) for each PFM; see :func:`match`.

    ``database``, ``expected`` and ``decoys`` are :class:`MotifDatabase` objects.
    Returns ``(rows, n_targets)``.
    """
    targets = all_targets(database, expected, decoys)
    roles = {"expected": same_tf(targets, expected), "decoy": same_tf(targets, decoys)}
    clash = sorted({targets.ids[i] for i in np.flatnonzero(roles["expected"] & roles["decoy"])})
    if clash:
        raise ValueError(f"Motifs cannot be both expected and decoys. Received both: {clash}")
    if not pfms:
        return [], len(targets)
    n_shuffles = int(n_shuffles)
    if n_shuffles < 0:
        raise ValueError(f"`n_shuffles` must be >= 0. Received: n_shuffles={n_shuffles}")
    rng = np.random.default_rng([0 if seed is None else int(seed), 7])
    matches, best = tomtom_roles(pfms, targets, roles, q_threshold=q_threshold,
                                 n_shuffles=n_shuffles, rng=rng)
    rows = []
    for k, pfm in enumerate(pfms):
        sub = matches[matches["query"] == k]
        top = sub.iloc[0]
        sig = sub[sub["match"]]
        row = {
            "information": information_content(pfm),
            "best_match": top["target_id"],
            "best_match_name": top["target_name"],
            "p_value": float(top["p_value"]),
            "q_value": float(top["q_value"]),
            "shuffle_p": float(top["shuffle_p"]),
            "significant": bool(top["match"]),
            "matches": [f"{i} {n}" for i, n in zip(sig["target_id"][:top_n],
                                                  sig["target_name"][:top_n])],
        }
        for role in ("expected", "decoy"):
            row[f"{role}_match"], row[f"{role}_q"], row[f"{role}_hits"] = best[role][k]
        row["status"] = _status(row)
        rows.append(row)
    return rows, len(targets)


def match(pfms, database="JASPAR", *, expected=None, decoys=None, q_threshold=0.05, top_n=5,
          n_shuffles=39, seed=None, ids=None):
    """Matches motifs to a database with TOMTOM, flagging expected motifs and decoys.

    A database motif counts as a match when (1) its TOMTOM q-value
    (Benjamini-Hochberg over the query's search) is below ``q_threshold`` and
    (2) its p-value beats the best p-values that column-shuffled copies of the
    query reach against the whole database (``shuffle_p`` below
    ``q_threshold``). The control is needed because TOMTOM's p-values assume
    query columns unrelated to the database, and JASPAR holds many near-flat
    and redundant columns: a flat 12-column matrix "matches" CTCF's extended
    motifs at q ~ 1e-13, and most random matrices with 0.5 bit per position
    get q < 0.05 somewhere. Shuffles keep a query's columns and destroy their
    order, so they reach those artefactual p-values too, whereas a real motif
    beats every shuffle.

    Args:
        pfms: list of ``(L, 4)`` matrices (e.g. ``discover()``'s ``pfm`` column).
        database: as in :func:`keras_iml.motifs.discover`.
        expected: motifs that should be found (JASPAR IDs, TF names, matrices...).
        decoys: motifs that should not be found.
        q_threshold: significance level on TOMTOM q-values.
        top_n: significant matches listed per motif.
        n_shuffles: column shuffles per motif for the control (0: q only). With
            39, ``shuffle_p`` is at least 0.025: a match must beat every shuffle.
        seed: seed of the shuffles (None: 0).
        ids: names of the motifs (default ``0..n-1``).

    Returns:
        DataFrame, one row per motif: ``query`` and :data:`MATCH_FIELDS`
        (``information`` in bits per position; ``best_match`` is the lowest
        p-value, ``significant`` whether it counts as a match; ``status`` is
        ``"expected"``, ``"decoy"``, ``"known"`` or ``"unmatched"``).

    Example:
        >>> match([pfm], expected=["MA0139"])[["best_match_name", "q_value", "status"]]
    """
    db = load_database(database)
    if not isinstance(db, MotifDatabase):
        raise ValueError("`database` must not be None for matching. Received: database=None")
    pfms = [as_pfm(p, f"pfms[{k}]") for k, p in enumerate(pfms)]
    expected, _ = resolve_motifs(expected, db, "expected")
    decoys, _ = resolve_motifs(decoys, db, "decoys")
    rows, _ = match_rows(pfms, db, expected, decoys, q_threshold=q_threshold, top_n=top_n,
                         n_shuffles=n_shuffles, seed=seed)
    frame = pd.DataFrame(rows, columns=MATCH_FIELDS)
    frame.insert(0, "query", list(range(len(pfms))) if ids is None else list(ids))
    return frame
