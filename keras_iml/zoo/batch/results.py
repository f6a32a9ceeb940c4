"""The batch-validation results table: SQLite, one transaction per model.

Three tables: ``models`` (one row per model: status, reason, timings, checks, as JSON
plus key columns), ``metrics`` (one row per model, metric row and method, control arm
or pair of methods: the validation summary, a pair's second method in ``partner``)
and ``verdicts`` (one row per model, method or control arm, and tier). A model's rows
are written in a single transaction, so a killed run leaves every finished model
complete and no half-written one; the primary keys make a resumed run replace, never
duplicate, a model's rows.
"""

import itertools
import json
import math
import os
import sqlite3

import numpy as np
import pandas as pd

from keras_iml.schema import TIERS
from keras_iml.validation import controls

__all__ = ["ResultsStore", "METRIC_COLUMNS", "VERDICT_COLUMNS"]

METRIC_COLUMNS = ["tier", "metric", "method", "arm", "partner", "value", "ci_low", "ci_high", "threshold",
                  "placebo_value", "effect_size", "p_adjusted", "beats_placebo", "informative",
                  "passed"]
_FLAGS = ("beats_placebo", "informative", "passed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY, family TEXT, tf TEXT, status TEXT NOT NULL, reason TEXT,
    seconds REAL, row_json TEXT NOT NULL, finished TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS metrics (
    name TEXT NOT NULL, tier INTEGER, metric TEXT NOT NULL, method TEXT NOT NULL,
    partner TEXT NOT NULL DEFAULT '', value REAL, ci_low REAL, ci_high REAL, threshold REAL,
    passed INTEGER, PRIMARY KEY (name, metric, method, partner));
CREATE TABLE IF NOT EXISTS verdicts (
    name TEXT NOT NULL, label TEXT NOT NULL, kind TEXT NOT NULL, expect TEXT, tier TEXT NOT NULL,
    verdict TEXT, PRIMARY KEY (name, label, tier));
"""
#: The columns of :meth:`ResultsStore.verdicts`.
VERDICT_COLUMNS = ["name", "label", "kind", "expect", "tier", "verdict"]
#: Columns added with the control arms (issue 13); a table made before gets them on open.
_ADDED = {"arm": "TEXT", "placebo_value": "REAL", "effect_size": "REAL", "p_adjusted": "REAL",
          "beats_placebo": "INTEGER", "informative": "INTEGER"}


_KEY = ("metric", "method", "partner")


def _text(value):
    """A key column's text ('' for none: SQLite keys cannot hold NULL)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _migrate_pairs(conn):
    """Moves a ``metrics`` table written before pairs had their own column (a pair's
    two methods were joined as ``"a|b"`` in ``method``) to the current schema, once."""
    have = {r[1] for r in conn.execute("PRAGMA table_info(metrics)")}
    if not have or "partner" in have:
        return
    columns = [c for c in have if c != "method"]
    conn.execute("ALTER TABLE metrics RENAME TO metrics_before_partner")
    conn.executescript(_SCHEMA)
    for column, kind in _ADDED.items():
        conn.execute(f"ALTER TABLE metrics ADD COLUMN {column} {kind}")
    split = "instr(method, '|')"
    conn.execute(
        f"INSERT INTO metrics ({', '.join(columns)}, method, partner) "
        f"SELECT {', '.join(columns)}, "
        f"CASE WHEN {split} > 0 THEN substr(method, 1, {split} - 1) ELSE method END, "
        f"CASE WHEN {split} > 0 THEN substr(method, {split} + 1) ELSE '' END "
        "FROM metrics_before_partner")
    conn.execute("UPDATE metrics SET arm = 'pair' WHERE partner != '' AND arm IS NULL")
    conn.execute("DROP TABLE metrics_before_partner")


#: How rows written before the ``verdicts`` table held verdicts: keys
#: ``"<prefix>|<label>|<tier>"`` of a model's row.
_LEGACY_VERDICTS = ("verdict", "control")


def _migrate_verdicts(conn):
    """Copies the verdicts of model rows written before the ``verdicts`` table into
    it, once (the arm's kind from its metric rows, what it expects from its class)."""
    if conn.execute("SELECT count(*) FROM verdicts").fetchone()[0]:
        return
    kinds = dict(((n, m), a) for n, m, a in conn.execute("SELECT DISTINCT name, method, arm FROM metrics"))
    expects = {controls.REGISTRY.get_class(c).arm_kind(): controls.expectation(c) for c in controls.names()}
    rows = []
    for name, text in conn.execute("SELECT name, row_json FROM models").fetchall():
        for key, value in json.loads(text).items():
            for prefix, tier in itertools.product(_LEGACY_VERDICTS, TIERS):
                head, tail = prefix + "|", "|" + tier
                if key.startswith(head) and key.endswith(tail) and len(key) > len(head + tail):
                    label = key[len(head):-len(tail)]
                    kind = "method" if prefix == "verdict" else kinds.get((name, label)) or "control"
                    rows.append((name, label, kind, expects.get(kind), tier, value))
    conn.executemany("INSERT OR REPLACE INTO verdicts VALUES (?,?,?,?,?,?)", rows)


def _flag(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(bool(value))


def _plain(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return None if math.isnan(value) else value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


class ResultsStore:
    """A results table in ``<out_dir>/results.sqlite``.

    Args:
        path: the SQLite file (created with its tables if absent).

    Example:
        >>> store = ResultsStore("out/results.sqlite")
        >>> store.done()
        {'DeepBind/Homo_sapiens/TF/D00328.018_ChIP-seq_CTCF'}
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with self._connect() as conn:
            _migrate_pairs(conn)
            conn.executescript(_SCHEMA)
            have = {r[1] for r in conn.execute("PRAGMA table_info(metrics)")}
            for column, kind in _ADDED.items():
                if column not in have:
                    conn.execute(f"ALTER TABLE metrics ADD COLUMN {column} {kind}")
            _migrate_verdicts(conn)

    def _connect(self):
        return sqlite3.connect(self.path, timeout=60)

    def done(self):
        """Names of the models with a row (any status)."""
        with self._connect() as conn:
            return {r[0] for r in conn.execute("SELECT name FROM models")}

    def write(self, row, metrics=None):
        """Writes one model's row, its metric rows and its verdicts (``row["verdicts"]``:
        dicts with the keys of :data:`VERDICT_COLUMNS` but ``name``) in one transaction,
        replacing any."""
        name = row["name"]
        verdicts = [(name, str(v["label"]), str(v["kind"]), v.get("expect"), str(v["tier"]), v.get("verdict"))
                    for v in row.get("verdicts") or []]
        clean = {k: _plain(v) for k, v in row.items() if k != "verdicts"}
        records = []
        for m in metrics or []:
            records.append((name, str(m["metric"]), str(m["method"]), _text(m.get("partner")),
                            *(_flag(m.get(k)) if k in _FLAGS else _plain(m.get(k))
                              for k in METRIC_COLUMNS if k not in _KEY)))
        columns = ["name", *_KEY] + [k for k in METRIC_COLUMNS if k not in _KEY]
        insert = (f"INSERT OR REPLACE INTO metrics ({', '.join(columns)}) "
                  f"VALUES ({', '.join('?' * len(columns))})")
        conn = self._connect()
        try:
            with conn:
                conn.execute("DELETE FROM metrics WHERE name = ?", (name,))
                conn.executemany(insert, records)
                conn.execute("DELETE FROM verdicts WHERE name = ?", (name,))
                conn.executemany("INSERT INTO verdicts VALUES (?,?,?,?,?,?)", verdicts)
                conn.execute(
                    "INSERT OR REPLACE INTO models VALUES (?,?,?,?,?,?,?,?)",
                    (name, clean.get("family"), clean.get("tf"), clean["status"], clean.get("reason"),
                     clean.get("seconds_total"), json.dumps(clean, default=str),
                     pd.Timestamp.now(tz="UTC").isoformat()))
        finally:
            conn.close()

    def models(self):
        """One row per model: every field of its row (status, reason, checks, timings)."""
        with self._connect() as conn:
            rows = [json.loads(r[0]) for r in conn.execute("SELECT row_json FROM models ORDER BY name")]
        return pd.DataFrame(rows)

    def metrics(self):
        """Long table: ``name`` plus :data:`METRIC_COLUMNS`."""
        with self._connect() as conn:
            frame = pd.read_sql_query("SELECT * FROM metrics ORDER BY name, metric, method", conn)
        for column in _FLAGS:
            frame[column] = frame[column].map({1: True, 0: False})
        frame["arm"] = frame["arm"].fillna("method")  # rows written before the control arms
        frame["partner"] = frame["partner"].replace("", None)
        return frame[["name", *METRIC_COLUMNS]]

    def verdicts(self):
        """Long table (:data:`VERDICT_COLUMNS`): each model's verdict per method or
        control arm (``kind`` ``"method"`` or the arm's kind) and tier."""
        with self._connect() as conn:
            return pd.read_sql_query(
                f"SELECT {', '.join(VERDICT_COLUMNS)} FROM verdicts ORDER BY name, label, tier", conn)

    def wide(self):
        """One row per model with every metric of the methods as a column
        ``"metric|method"`` (of a pair: ``"metric|method|partner"``): the layout of
        ``results.csv``, for reading in a spreadsheet."""
        models = self.models()
        metrics = self.metrics()
        if models.empty:
            return models
        if metrics.empty:
            return models
        metrics = metrics[metrics["arm"].isin(["method", "pair"])]
        column = metrics["metric"] + "|" + metrics["method"] + np.where(
            metrics["partner"].notna(), "|" + metrics["partner"].fillna(""), "")
        values = metrics.assign(column=column).pivot_table(index="name", columns="column", values="value",
                                                            aggfunc="first")
        values.columns = list(values.columns)
        return models.merge(values, left_on="name", right_index=True, how="left")
