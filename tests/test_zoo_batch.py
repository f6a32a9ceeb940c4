"""Batch validation of zoo models: rows and statuses, resume without loss or duplicates,
the HTML summary, the Ray executor and the CLI (small settings throughout)."""

import json
import sqlite3

import numpy as np
import pytest

from keras_iml.cli import main
from keras_iml.zoo import batch
from keras_iml.zoo.batch import (BatchSettings, ResultsStore, evaluation_set, executors, run_batch,
                                 validate_model)

CTCF = "DeepBind/Homo_sapiens/TF/D00328.018_ChIP-seq_CTCF"
TBP = "DeepBind/Homo_sapiens/TF/D00817.001_ChIP-seq_TBP"
TINY = {"base": "quick", "methods": {"saliency": {}}, "metrics": ["deletion", "localisation_auroc"],
        "n_bootstrap": 20}


def _settings(shared_dir, tmp_path, **kw):
    return BatchSettings(source=str(shared_dir / "zoo" / "kipoi-models"), n_sequences=8, protocol=TINY,
                         cache_dir=str(tmp_path / "cache"), offline=True, **kw)


def test_evaluation_set_masks_mark_the_planted_sites():
    x_bg, x, mask = evaluation_set("MA0139.2", 60, 6, seed=0)
    assert x.shape == (6, 60, 4) and mask.shape == (6, 60)
    assert (mask.sum(1) == 15).all()  # MA0139.2 is 15 bp
    changed = (x != x_bg).any(-1)
    assert not changed[mask == 0].any()  # only planted positions differ from the background
    again = evaluation_set("MA0139.2", 60, 6, seed=0)
    np.testing.assert_array_equal(again[1], x)
    assert evaluation_set(None, 60, 6, seed=0)[2] is None


def test_validate_model_rows_and_statuses(shared_dir, tmp_path):
    settings = _settings(shared_dir, tmp_path)
    row, metrics = validate_model(CTCF, settings)
    assert row["status"] == "ok", row.get("traceback")
    assert row["tf"] == "CTCF" and row["jaspar_id"] == "MA0139.2" and row["output_shape_ok"]
    assert row["motif_raise"] >= 0.75  # a sampled CTCF site raises DeepBind's CTCF score
    names = {(m["metric"], m["method"]) for m in metrics}
    assert ("localisation_auroc", "saliency") in names and ("deletion", "saliency") in names
    auroc = next(m["value"] for m in metrics if m["metric"] == "localisation_auroc")
    assert auroc > 0.7  # saliency of the CTCF model points at the planted CTCF sites
    row, metrics = validate_model("FactorNet/CEBPB/meta_Unique35_DGF", settings)
    assert row["status"] == "weights-unavailable" and "7660e019ab5a46e407f2187cd39be921" in row["reason"]
    assert metrics == []


def test_unsupported_layer_and_failed_statuses(tmp_path):
    model_dir = tmp_path / "src" / "Odd" / "lambda_model"
    model_dir.mkdir(parents=True)
    arch = {"class_name": "Sequential", "config": [
        {"class_name": "Lambda", "config": {"name": "f", "function": ["AAAA", None, None],
                                            "batch_input_shape": [None, 10, 4]}}]}
    (model_dir / "arch.json").write_text(json.dumps(arch))
    (model_dir / "w.h5").write_bytes(b"not hdf5")
    (model_dir / "model.yaml").write_text("type: keras\nargs:\n  arch: arch.json\n  weights: w.h5\n"
                                          "schema:\n  inputs:\n    shape: (10, 4)\n")
    settings = BatchSettings(source=str(tmp_path / "src"), n_sequences=4, protocol=TINY,
                             cache_dir=str(tmp_path / "cache"))
    row, _ = validate_model("Odd/lambda_model", settings)
    assert row["status"] == "failed" and "Cannot read HDF5" in row["reason"]  # weights read first
    assert not list((tmp_path / "cache").rglob("*.keras"))  # nothing cached for a failed load
    (model_dir / "model.yaml").write_text("type: keras\nargs:\n  arch: arch.json\n  weights: w.h5\n")
    import h5py

    with h5py.File(model_dir / "w.h5", "w") as f:
        f.attrs["layer_names"] = [b"f"]
        f.create_group("f").attrs["weight_names"] = []
    row, _ = validate_model("Odd/lambda_model", settings)
    assert row["status"] == "unsupported-layer" and "Lambda" in row["reason"]


def test_resume_loses_nothing_and_duplicates_nothing(shared_dir, tmp_path, monkeypatch):
    settings = _settings(shared_dir, tmp_path)
    calls = []
    real = executors.validate_model

    def counting(name, s, **kw):
        calls.append(name)
        return real(name, s, **kw)

    monkeypatch.setattr(executors, "validate_model", counting)
    out = tmp_path / "out"
    run_batch([CTCF], settings, out, summary=False)  # a run "killed" after its first model
    with pytest.raises(ValueError, match="resume"):
        run_batch([CTCF, TBP], settings, out)
    frame = run_batch([CTCF, TBP], settings, out, resume=True)
    assert calls == [CTCF, TBP]  # CTCF was not validated twice
    assert sorted(frame["name"]) == sorted([CTCF, TBP]) and len(frame) == 2
    with sqlite3.connect(out / "results.sqlite") as conn:
        n_rows, n_keys = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT name || metric || method) FROM metrics").fetchone()
    assert n_rows == n_keys > 0
    assert "localisation_auroc|saliency" in frame.columns
    html = (out / "summary.html").read_text()
    assert "data:image/png;base64," in html and "localisation_auroc" in html and "DeepBind" in html


def test_a_failing_write_leaves_no_partial_model(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    with pytest.raises(Exception):  # noqa: B017 - sqlite refuses a dict value mid-transaction
        store.write({"name": "m", "status": "ok"},
                    [{"metric": "a", "method": "x", "value": 1.0},
                     {"metric": "b", "method": "x", "value": {"not": "a number"}}])
    assert store.done() == set() and store.metrics().empty
    store.write({"name": "m", "status": "ok"}, [{"metric": "a", "method": "x", "value": 1.0}])
    store.write({"name": "m", "status": "ok"}, [{"metric": "a", "method": "x", "value": 2.0}])
    assert store.metrics()["value"].tolist() == [2.0]


def test_ray_executor_matches_local(shared_dir, tmp_path):
    pytest.importorskip("ray")
    settings = _settings(shared_dir, tmp_path)
    local = run_batch([TBP], settings, tmp_path / "local", summary=False)
    remote = run_batch([TBP], settings, tmp_path / "ray", executor="ray", n_workers=1, summary=False)
    assert remote["status"].tolist() == ["ok"]
    column = "localisation_auroc|saliency"
    assert remote[column].item() == pytest.approx(local[column].item(), abs=1e-6)


def test_cli_list_and_validate(shared_dir, tmp_path, capsys):
    assert main(["zoo", "list", "--family", "DeepBind", "--type", "TF"]) == 0
    assert "683 models" in capsys.readouterr().out
    proto = tmp_path / "tiny.yaml"
    proto.write_text("base: quick\nmethods: {saliency: {}}\nmetrics: [deletion]\nn_bootstrap: 10\n")
    code = main(["zoo", "validate", "--family", "DeepBind", "--type", "TF", "--limit", "1",
                 "--source", str(shared_dir / "zoo" / "kipoi-models"), "--out", str(tmp_path / "o"),
                 "--protocol", str(proto), "--n-sequences", "4", "--offline",
                 "--cache-dir", str(tmp_path / "cache")])
    assert code == 0
    assert "1 models" in capsys.readouterr().out
    assert ResultsStore(batch.results_path(tmp_path / "o")).models()["status"].tolist() == ["ok"]


def test_worker_processes_match_in_process_results(shared_dir, tmp_path):
    """Two worker processes fed from a queue (each with its own ModelPool) = one process."""
    settings = _settings(shared_dir, tmp_path)
    names = [CTCF, TBP, "DeepBind/Homo_sapiens/TF/D00290.003_SELEX_ALX3"]
    alone = run_batch(names, settings, tmp_path / "one", summary=False).set_index("name")
    seen = []
    pair = run_batch(names, settings, tmp_path / "two", n_workers=2, summary=False,
                     progress=lambda done, total, row: seen.append(done)).set_index("name")
    assert seen[-1] == 3 and pair["status"].eq("ok").all()
    column = "localisation_auroc|saliency"
    np.testing.assert_allclose(pair.loc[names, column].to_numpy(float), alone.loc[names, column].to_numpy(float),
                               atol=1e-6)


def test_results_made_before_the_control_arms_are_migrated_and_read(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:  # the schema of a results table made before issue 13
        conn.executescript(
            "CREATE TABLE models (name TEXT PRIMARY KEY, family TEXT, tf TEXT, status TEXT NOT NULL,"
            " reason TEXT, seconds REAL, row_json TEXT NOT NULL, finished TEXT NOT NULL);"
            "CREATE TABLE metrics (name TEXT NOT NULL, tier INTEGER, metric TEXT NOT NULL,"
            " method TEXT NOT NULL, value REAL, ci_low REAL, ci_high REAL, threshold REAL,"
            " passed INTEGER, PRIMARY KEY (name, metric, method));"
            "INSERT INTO metrics VALUES ('old', 2, 'deletion', 'saliency', 0.5, 0.4, 0.6, 0.0, 1);")
    store = ResultsStore(path)
    store.write({"name": "new", "status": "ok"},
                [{"tier": 2, "metric": "deletion", "method": "saliency", "arm": "method", "value": 0.7,
                  "placebo_value": 0.1, "effect_size": 2.0, "p_adjusted": 0.001,
                  "beats_placebo": True, "informative": True, "passed": True},
                 {"tier": 2, "metric": "deletion", "method": "placebo:saliency", "arm": "placebo",
                  "value": 0.1, "beats_placebo": np.nan, "informative": True, "passed": False}])
    rows = store.metrics().set_index(["name", "method"])
    assert rows.loc[("old", "saliency"), "arm"] == "method"  # rows from before read as methods
    assert rows.loc[("new", "saliency"), "beats_placebo"] is True
    assert np.isnan(rows.loc[("new", "placebo:saliency"), "beats_placebo"])


def test_results_with_pairs_as_text_and_verdicts_in_the_row_are_migrated(tmp_path):
    path = tmp_path / "older.sqlite"
    row = {"name": "m", "status": "ok", "verdict|saliency|tier1": "pass",
           "control|positive:ism|tier1": "not above placebo"}
    with sqlite3.connect(path) as conn:  # the schema before pairs had a partner column
        conn.executescript(
            "CREATE TABLE models (name TEXT PRIMARY KEY, family TEXT, tf TEXT, status TEXT NOT NULL,"
            " reason TEXT, seconds REAL, row_json TEXT NOT NULL, finished TEXT NOT NULL);"
            "CREATE TABLE metrics (name TEXT NOT NULL, tier INTEGER, metric TEXT NOT NULL,"
            " method TEXT NOT NULL, value REAL, ci_low REAL, ci_high REAL, threshold REAL,"
            " passed INTEGER, arm TEXT, PRIMARY KEY (name, metric, method));"
            "INSERT INTO metrics (name, tier, metric, method, value, arm) VALUES"
            " ('m', 1, 'spearman', 'saliency|ism', 0.5, 'pair'),"
            " ('m', 1, 'spearman_vs_consensus', 'positive:ism', 0.9, 'positive_control');")
        conn.execute("INSERT INTO models VALUES ('m', NULL, NULL, 'ok', '', 1.0, ?, 'x')", (json.dumps(row),))
    store = ResultsStore(path)
    metrics = store.metrics().set_index("metric")
    assert metrics.loc["spearman", ["method", "partner", "arm"]].tolist() == ["saliency", "ism", "pair"]
    assert metrics.loc["spearman_vs_consensus", ["partner"]].isna().all()
    verdicts = store.verdicts().set_index("label")
    assert verdicts.loc["saliency", ["kind", "tier", "verdict"]].tolist() == ["method", "tier1", "pass"]
    assert verdicts.loc["positive:ism", ["kind", "expect"]].tolist() == ["positive_control", "positive"]
    ResultsStore(path)  # opening again changes nothing
    assert len(store.verdicts()) == 2 and len(store.metrics()) == 2


def test_zoo_summary_counts_every_verdict_and_the_controls():
    import pandas as pd

    from keras_iml.zoo.batch.summary import render_summary, verdict_counts

    models = pd.DataFrame({"name": ["a", "b", "c", "d"], "status": ["ok", "ok", "ok", "failed"]})

    def verdicts(method, placebo, positive=None):
        rows = [(n, "saliency", "method", None, "tier1", v) for n, v in zip("abcd", method)]
        rows += [(n, "placebo:saliency", "placebo", "negative", "tier1", v) for n, v in zip("abcd", placebo)]
        rows += [(n, "positive:ism", "positive_control", "positive", "tier1", v)
                 for n, v in zip("abcd", positive or [])]
        return pd.DataFrame(rows, columns=["name", "label", "kind", "expect", "tier", "verdict"])

    table = verdicts(["pass", "not above placebo", "fail", None], ["fail", "fail", "not above placebo", None])
    counts = verdict_counts(table, models).set_index(["method", "tier"]).loc[("saliency", "tier1")]
    assert (counts["n"], counts["pass"], counts["not above placebo"], counts["fail"]) == (3, 1, 1, 1)
    assert counts["failing models"] == "c"
    controls = verdict_counts(table, models, arms=True)
    assert controls["method"].tolist() == ["placebo:saliency"] and controls["pass"].item() == 0
    # a placebo that fails is the protocol working, not a finding: no model listed
    assert "failing models" not in controls and controls["unexpected models"].item() == ""
    table = verdicts(["pass", "not above placebo", "fail", None], ["pass", "fail", "fail", None],
                     ["pass", "not above placebo", "pass", None])
    controls = verdict_counts(table, models, arms=True).set_index("method")["unexpected models"]
    assert controls.to_dict() == {"placebo:saliency": "a", "positive:ism": "b"}
    metrics = pd.DataFrame({
        "name": ["a", "a", "b"], "tier": 1, "metric": "spearman", "arm": "pair",
        "method": "saliency", "partner": "ism", "value": [0.2, 0.2, 0.6], "threshold": np.nan})
    html = render_summary(models, metrics, table)
    assert "Verdicts across models" in html and "not above placebo" in html
    assert "Method x method agreement, mean over models" in html
