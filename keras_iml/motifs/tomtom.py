"""TOMTOM motif comparison (memelite) with Benjamini-Hochberg q-values (:func:`keras_iml.stats.adjust`).

memelite compiles its TOMTOM kernel with numba on the first call of a process
that has no numba cache (about a minute on 2 cores); later processes load the
compiled code from ``NUMBA_CACHE_DIR`` (the Makefile sets it) in well under a
second. Every call here passes the same array layouts and dtypes (F-ordered
float64 queries, float64 targets, the default score bins), so a single
compiled specialisation serves all of keras_iml.
"""

import warnings

import numpy as np
import pandas as pd

from keras_iml.motifs.database import MotifDatabase
from keras_iml.motifs.pfm import as_pfm
from keras_iml.stats import adjust

__all__ = ["tomtom"]

MATCH_COLUMNS = ["query", "rank", "target_index", "target_id", "target_name", "p_value",
                 "q_value", "offset", "overlap", "strand"]


def tomtom(queries, database, *, top_n=5, query_ids=None):
    """Compares query motifs with every motif of a database (both strands).

    p-values come from memelite's TOMTOM (complete-score version, Gupta et al.
    2007). q-values are Benjamini-Hochberg over each query's p-values against
    the whole database: every query is its own database search.

    Args:
        queries: list of ``(L, 4)`` probability matrices.
        database: a :class:`MotifDatabase` (the targets).
        top_n: matches kept per query, best p-value first.
        query_ids: names of the queries (default ``0..n-1``).

    Returns:
        DataFrame with columns ``query, rank, target_index, target_id,
        target_name, p_value, q_value, offset, overlap, strand`` (strand ``"+"`` or
        ``"-"``: the target strand that aligned best), ``top_n`` rows per query.

    Example:
        >>> tomtom([pfm], load_jaspar(), top_n=3)
    """
    from memelite.tomtom import tomtom as _tomtom

    if not isinstance(database, MotifDatabase):
        raise TypeError(
            "`database` must be a keras_iml.motifs.MotifDatabase. "
            f"Received: database of type {type(database).__name__}"
        )
    if len(database) == 0:
        raise ValueError("`database` is empty: there is nothing to compare with.")
    queries = [as_pfm(q, f"queries[{k}]") for k, q in enumerate(queries)]
    query_ids = list(range(len(queries))) if query_ids is None else list(query_ids)
    if not queries:
        return pd.DataFrame(columns=MATCH_COLUMNS)
    top_n = int(top_n)
    if top_n < 1:
        raise ValueError(f"`top_n` must be a positive integer. Received: top_n={top_n}")
    qs = [np.asfortranarray(q.T) for q in queries]
    ts = [np.ascontiguousarray(t.T) for t in database.pfms]
    with warnings.catch_warnings():
        # numba's "no parallel transformation" notices are not for users.
        warnings.filterwarnings("ignore", module="numba")
        p, _, offsets, overlaps, strands = _tomtom(qs, ts, n_nearest=None)
    rows = []
    for k, qid in enumerate(query_ids):
        q = adjust(p[k], "bh")
        order = np.argsort(p[k], kind="stable")[:top_n]
        for rank, t in enumerate(order):
            rows.append((qid, rank, int(t), database.ids[t], database.names[t], float(p[k, t]),
                         float(q[t]), int(offsets[k, t]), int(overlaps[k, t]),
                         "-" if strands[k, t] else "+"))
    return pd.DataFrame(rows, columns=MATCH_COLUMNS)


def shuffled_best_p(queries, database, n_shuffles, rng):
    """Best TOMTOM p-value of column-shuffled copies of each query.

    Shuffling a query's positions keeps its columns (and so its information
    content and composition) but destroys their order: the best p-values the
    shuffles reach against ``database`` are the null for "this query matches the
    database better than its own columns in a random order would".

    Args:
        queries: list of ``(L, 4)`` matrices.
        database: a :class:`MotifDatabase`.
        n_shuffles: shuffles per query.
        rng: a ``numpy.random.Generator``.

    Returns:
        float array ``(n_queries, n_shuffles)``.
    """
    from memelite.tomtom import tomtom as _tomtom

    shuffled = [np.asfortranarray(np.asarray(q, np.float64)[rng.permutation(len(q))].T)
                for q in queries for _ in range(n_shuffles)]
    ts = [np.ascontiguousarray(t.T) for t in database.pfms]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="numba")
        best = _tomtom(shuffled, ts, n_nearest=1)[0][:, 0]
    return best.reshape(len(queries), n_shuffles)


def tomtom_roles(queries, database, roles, *, q_threshold, n_shuffles=39, rng=None):
    """Every query's matches, with a column-shuffle control and role summaries.

    A target counts as a match of a query when its TOMTOM q-value is below
    ``q_threshold`` *and* its p-value beats the column-shuffled copies of the
    query: ``shuffle_p = (1 + #{shuffles whose best p <= p}) / (n_shuffles + 1)``
    is below ``q_threshold`` too (with ``n_shuffles=0`` only q is used). The
    shuffles are run only for queries with a target below ``q_threshold``
    (``shuffle_p`` is NaN for the others, which match nothing).

    Args:
        queries: list of ``(L, 4)`` matrices.
        database: a :class:`MotifDatabase`.
        roles: dict role -> boolean array over the database's motifs.
        q_threshold: significance level.
        n_shuffles: column shuffles per query for the control (with 39, a match
            must beat every shuffle at ``q_threshold=0.05``).
        rng: ``numpy.random.Generator`` for the shuffles.

    Returns:
        (matches, best): ``matches`` the :func:`tomtom` frame of all targets per
        query plus ``shuffle_p`` and ``match`` (bool) columns; ``best`` a dict
        role -> list (one per query) of ``(best_target_id, its_q_value,
        [every matching target_id])``, or ``(None, nan, [])``.
    """
    matches = tomtom(queries, database, top_n=len(database))
    matches["shuffle_p"] = np.nan
    matches["match"] = matches["q_value"] < q_threshold
    # Only queries with a candidate (q below the threshold) need the control.
    need = sorted(set(matches.loc[matches["match"], "query"]))
    if n_shuffles and need:
        null = np.sort(shuffled_best_p([queries[k] for k in need], database, n_shuffles, rng),
                       axis=1)
        row_of = {k: j for j, k in enumerate(need)}
        rows = matches["query"].isin(need).to_numpy()
        rank = [np.searchsorted(null[row_of[q]], p, side="right")
                for q, p in zip(matches.loc[rows, "query"], matches.loc[rows, "p_value"])]
        matches.loc[rows, "shuffle_p"] = (1.0 + np.asarray(rank)) / (n_shuffles + 1.0)
        matches["match"] = matches["match"] & (matches["shuffle_p"] < q_threshold)
    best = {role: [] for role in roles}
    for k in range(len(queries)):
        sub = matches[(matches["query"] == k) & matches["match"]]
        for role, mask in roles.items():
            cand = sub[np.asarray(mask, dtype=bool)[sub["target_index"].to_numpy()]]
            if len(cand):
                best[role].append((cand["target_id"].iloc[0], float(cand["q_value"].iloc[0]),
                                   list(cand["target_id"])))
            else:
                best[role].append((None, np.nan, []))
    return matches, best
