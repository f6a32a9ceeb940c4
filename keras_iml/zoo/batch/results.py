"""The batch-validation results table: SQLite, one transaction per model.

Two tables: ``models`` (one row per model: status, reason, timings, checks, as JSON
plus key columns) and ``metrics`` (one row per model, metric and method: the
validation summary). A model's rows are written in a single transaction, so a killed
run leaves every finished model complete and no half-written one; the primary keys
make a resumed run replace, never duplicate, a model's rows.
"""

import json
import math
import os
import sqlite3

import numpy as np
import pandas as pd

__all__ = ["ResultsStore", "METRIC_COLUMNS"]

METRIC_COLUMNS = ["tier", "metric", "method", "arm", "value", "ci_low", "ci_high", "threshold",
                  "placebo_value", "effect_size", "p_adjusted", "beats_placebo", "informative",
                  "passed"]
_FLAGS = ("beats_placebo", "informative", "passed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY, family TEXT, tf TEXT, status TEXT NOT NULL, reason TEXT,
    seconds REAL, row_json TEXT NOT NULL, finished TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS metrics (
    name TEXT NOT NULL, tier INTEGER, metric TEXT NOT NULL, method TEXT NOT NULL, value REAL,
    ci_low REAL, ci_high REAL, threshold REAL, passed INTEGER,
    PRIMARY KEY (name, metric, method));
"""
#: Columns added with the control arms (issue 13); a table made before gets them on open.
_ADDED = {"arm": "TEXT", "placebo_value": "REAL", "effect_size": "REAL", "p_adjusted": "REAL",
          "beats_placebo": "INTEGER", "informative": "INTEGER"}


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
            conn.executescript(_SCHEMA)
            have = {r[1] for r in conn.execute("PRAGMA table_info(metrics)")}
            for column, kind in _ADDED.items():
                if column not in have:
                    conn.execute(f"ALTER TABLE metrics ADD COLUMN {column} {kind}")

    def _connect(self):
        return sqlite3.connect(self.path, timeout=60)

    def done(self):
        """Names of the models with a row (any status)."""
        with self._connect() as conn:
            return {r[0] for r in conn.execute("SELECT name FROM models")}

    def write(self, row, metrics=None):
        """Writes one model's row and its metric rows in one transaction (replacing any)."""
        name = row["name"]
        clean = {k: _plain(v) for k, v in row.items()}
        records = []
        for m in metrics or []:
            records.append((name, str(m["metric"]), str(m["method"]),
                            *(_flag(m.get(k)) if k in _FLAGS else _plain(m.get(k))
                              for k in METRIC_COLUMNS if k not in ("metric", "method"))))
        columns = ["name", "metric", "method"] + [k for k in METRIC_COLUMNS if k not in ("metric", "method")]
        insert = (f"INSERT OR REPLACE INTO metrics ({', '.join(columns)}) "
                  f"VALUES ({', '.join('?' * len(columns))})")
        conn = self._connect()
        try:
            with conn:
                conn.execute("DELETE FROM metrics WHERE name = ?", (name,))
                conn.executemany(insert, records)
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
        return frame[["name", *METRIC_COLUMNS]]

    def wide(self):
        """One row per model with every metric as a column ``"metric|method"``."""
        models = self.models()
        metrics = self.metrics()
        if models.empty:
            return models
        if metrics.empty:
            return models
        metrics = metrics[metrics["arm"].isin(["method", "pair"])]
        values = metrics.pivot_table(index="name", columns=["metric", "method"], values="value",
                                     aggfunc="first")
        values.columns = [f"{m}|{k}" for m, k in values.columns]
        return models.merge(values, left_on="name", right_index=True, how="left")
