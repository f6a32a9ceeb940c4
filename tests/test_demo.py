"""``keras-iml demo --quick`` end to end, and the demo's warning and failure paths."""

import json
import sys

import numpy as np
import pandas as pd
import pytest

from keras_iml import demo, methods
from keras_iml.cli import main
from keras_iml.datasets import make_tf_binding
from keras_iml.schema import COLUMNS


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        rc = main(["demo", "--quick", "--out", str(out), "--seed", "0"])
    return rc, out, buffer.getvalue()


def test_quick_demo_writes_the_report(quick_run):
    rc, out, printed = quick_run
    assert rc == 0
    for name in ("report.html", "report.json", "summary.csv"):
        assert (out / name).stat().st_size > 0, name
    assert not list(out.glob(".tmp-*"))  # atomic writes leave no temporaries
    assert f"Report: {(out / 'report.html').resolve()}" in printed
    assert "localisation_auroc" in printed  # the summary table is printed
    html = (out / "report.html").read_text()
    assert html.lstrip().lower().startswith("<!doctype html")


def test_quick_demo_model_and_numbers_come_from_the_run(quick_run):
    _, out, _ = quick_run
    info = json.loads((out / "report.json").read_text())["model_info"]
    auroc = info["held_out_auroc"]
    assert auroc > 0.8  # far above chance (0.5) on held-out sequences
    assert ("warning" in info) == (auroc < demo.MIN_AUROC)
    assert len(info["ensemble_auroc"]) == demo.DemoConfig.quick().k
    assert info["ensemble_auroc"][0] == auroc
    assert info["benchmark"]["true_motifs"] == {"MA0139.2": "CTCF"}
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == COLUMNS["summary"]
    # the explanations of a model that learned CTCF point at the planted sites, and beat
    # their placebo there; the control arms are in the table, marked
    loc = summary[(summary.metric == "localisation_auroc") & (summary.method == "saliency")]
    assert loc.value.iloc[0] > 0.7 and loc.beats_placebo.iloc[0]
    assert {"placebo", "randomised_model", "positive_control"} <= set(summary.arm)
    assert "ensemble_stability" in set(summary.metric)


def test_quick_demo_covers_every_registered_method(quick_run):
    _, out, _ = quick_run
    summary = pd.read_csv(out / "summary.csv")
    single = set(summary.method[summary.arm == "method"])
    assert {n for n in methods.names() if not methods.get(n).control} == single


def test_low_auroc_gives_a_prominent_warning():
    data = make_tf_binding(20, 60, grammar="single", seed=0)
    cfg = demo.DemoConfig.quick()
    scores = [{"auroc": 0.62, "auprc": 0.6, "n": 10, "n_positive": 5}]
    history = pd.DataFrame({"seed": [7], "epoch": [1]})

    class _Model:
        def count_params(self):
            return 3

    info = demo._model_info(cfg, data, scores, [history], _Model())
    assert "0.620" in info["warning"] and "below 0.9" in info["warning"]
    scores[0]["auroc"] = 0.95
    assert "warning" not in demo._model_info(cfg, data, scores, [history], _Model())


def test_demo_fails_loudly_without_validation(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "keras_iml.validation", None)
    with pytest.raises(ImportError, match="keras_iml.validation"):
        demo.run_demo(tmp_path, quick=True, verbose=0)
    assert not list(tmp_path.iterdir())


def test_demo_rejects_a_bad_seed(tmp_path):
    with pytest.raises(ValueError, match="seed"):
        demo.run_demo(tmp_path, seed=-3, verbose=0)
    assert main(["demo", "--out", str(tmp_path), "--seed", "-1"]) == 2


def test_summary_table_lists_methods_and_verdicts():
    from keras_iml.validation import ValidationReport

    summary = pd.DataFrame({
        "tier": [3, 3, 1], "metric": ["localisation_auroc"] * 2 + ["spearman"],
        "method": ["a", "b", "a"], "arm": ["method", "method", "pair"], "partner": [None, None, "b"],
        "value": [0.91, 0.42, 0.5], "ci_low": np.nan,
        "ci_high": np.nan, "threshold": [0.8, 0.8, np.nan], "passed": [True, False, np.nan]})
    verdict = pd.DataFrame({"tier1": ["pass", "fail"], "tier2": ["not run"] * 2,
                            "tier3": ["pass", "fail"]}, index=["a", "b"])
    text = demo.summary_table(ValidationReport(summary=summary, verdict=verdict))
    lines = text.splitlines()
    assert "localisation_auroc" in lines[0] and "tier3" in lines[0]
    assert any(line.startswith("a ") and "0.910" in line and "pass" in line for line in lines)
    assert any(line.startswith("b ") and "0.420" in line and "fail" in line for line in lines)
    assert "spearman" not in text and "0.500" not in text  # pairs are not in the table


def test_demo_protocol_merges_options_and_records_what_it_leaves_out():
    from keras_iml import validation

    cfg = demo.DemoConfig(protocol="quick", metric_options={
        "ensemble_stability": {"n_sequences": 8}, "deletion": {"n_sequences": 5}},
        left_out={"randomisation": "too slow here", "motif_recovery": "not in the protocol"})
    quick = validation.Protocol.quick()
    proto = demo._protocol(validation, cfg, seed=3)
    assert proto.seed == 3
    assert "randomisation" in quick.metrics and "randomisation" not in proto.metrics
    assert proto.metrics["ensemble_stability"] == {"n_sequences": 8}
    assert proto.metrics["deletion"] == {**quick.metrics["deletion"], "n_sequences": 5}
    order = [m for m in validation.protocol.default_metrics() if m in proto.metrics]
    assert list(proto.metrics) == order
    report = validation.ValidationReport()
    demo._record_left_out(report, cfg, quick)
    assert report.not_run.values.tolist() == [["randomisation", "all", "too slow here"]]
