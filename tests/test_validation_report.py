"""ValidationReport (JSON round trip, verdict, passed) and Protocol (dict/YAML, merging)."""

import json
import pathlib
import sys
import types

import numpy as np
import pandas as pd
import pytest

from keras_iml import Attributions, dna
from keras_iml.validation import Protocol, ValidationReport, validate
from keras_iml.validation.verdict import verdict


@pytest.fixture(scope="module")
def report():
    rng = np.random.default_rng(0)
    x = dna.random_sequences(12, 30, rng=rng)
    a = rng.standard_normal(x.shape).astype(np.float32)
    mask = np.zeros((12, 30), np.int8)
    mask[:, 5:10], mask[:, 20:24] = 1, 2
    attrs = {"a": Attributions(a, method="a", inputs=x), "b": Attributions(-a + 0.1, method="b", inputs=x)}
    proto = {"metrics": ["spearman", "sign_agreement", "localisation_auroc", "localisation_precision"],
             "thresholds": {"localisation_auroc": 0.2}, "n_bootstrap": 50}
    return validate(None, x, attributions=attrs, ground_truth=mask, protocol=proto, verbose=0)


def test_json_round_trip(report, tmp_path):
    path = pathlib.Path(report.to_json(tmp_path / "sub" / "report.json"))
    back = ValidationReport.from_json(path)
    for name in ("summary", "per_sequence", "adverse_events", "not_run"):
        pd.testing.assert_frame_equal(getattr(report, name), getattr(back, name), check_dtype=False)
    pd.testing.assert_frame_equal(report.verdict, back.verdict)
    for name, frame in report.matrices.items():
        pd.testing.assert_frame_equal(frame, back.matrices[name])
    for name, frame in report.curves.items():
        pd.testing.assert_frame_equal(frame, back.curves[name], check_dtype=False)
    assert back.examples == json.loads(json.dumps(report.examples))
    assert back.protocol == report.protocol and back.provenance == report.provenance
    assert back.passed == report.passed
    json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))
    assert not list(tmp_path.glob("sub/.tmp-*"))  # written atomically


def test_not_a_report(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="Not a keras_iml validation report"):
        ValidationReport.from_json(path)


def test_passed_and_failed(report):
    s = report.summary
    thresholded = s[s.threshold.notna()]
    assert report.passed == bool(thresholded.passed.all())
    assert len(report.failed) == int((thresholded.passed == False).sum())  # noqa: E712
    text = repr(report)
    assert "12 sequences, 2 methods" in text and "tier1" in text


def test_verdict_rules_by_hand():
    columns = ["tier", "metric", "method", "partner", "value", "threshold", "meets_threshold",
               "beats_placebo", "informative", "passed"]
    summary = pd.DataFrame(
        [
            [1, "spearman", "a", "b", 0.1, np.nan, np.nan, np.nan, True, np.nan],  # pairs: never judged
            [1, "spearman_vs_consensus", "a", None, 0.4, 0.0, True, True, True, True],
            [2, "deletion", "a", None, 0.5, 0.0, True, True, True, True],
            [2, "deletion", "b", None, -0.5, 0.0, False, False, True, False],
            [2, "insertion", "b", None, 0.5, 0.0, True, False, True, False],
            [1, "spearman_vs_consensus", "b", None, 0.3, 0.0, True, False, True, False],
            [3, "localisation_auprc", "a", None, 0.5, np.nan, np.nan, True, True, np.nan],
            [3, "localisation_auroc", "c", None, 0.9, 0.75, True, True, True, True],
            [1, "ensemble_stability", "c", None, 0.0, 0.5, True, False, False, False],
        ],
        columns=columns,
    )
    for column in ("meets_threshold", "beats_placebo", "passed"):
        summary[column] = summary[column].astype(object)
    v = verdict(summary, ["a", "b", "c"])
    assert v.loc["a"].tolist() == ["pass", "pass", "not run"]
    # a missed threshold is a failure; meeting it without beating placebo is not a pass
    assert v.loc["b"].tolist() == ["not above placebo", "fail", "not run"]
    # a tier judged only on an uninformative metric cannot be decided
    assert v.loc["c"].tolist() == ["inconclusive", "not run", "pass"]
    # a summary without the placebo columns (an older report) is read on thresholds alone
    old = summary[["tier", "metric", "method", "value", "threshold", "passed"]]
    assert verdict(old, ["a", "b"]).loc["b"].tolist() == ["fail", "fail", "not run"]


def test_to_html_delegates_to_the_report_renderer(report, tmp_path, monkeypatch):
    calls = []
    fake = types.ModuleType("keras_iml.report")
    fake.render_html = lambda rep, path: calls.append((rep, path)) or path
    monkeypatch.setitem(sys.modules, "keras_iml.report", fake)
    assert report.to_html(tmp_path / "r.html") == tmp_path / "r.html"
    assert calls == [(report, tmp_path / "r.html")]


def test_protocol_yaml_round_trip_and_merging(tmp_path):
    p = Protocol.from_dict({"base": "quick", "thresholds": {"localisation_auroc": 0.9}, "seed": 5})
    assert p.thresholds["localisation_auroc"] == 0.9 and p.thresholds["deletion"] == 0.0
    assert p.seed == 5 and p.methods == Protocol.quick().methods
    # A metric listed by name keeps the base's options; thresholds follow the new list.
    q = Protocol.from_dict({"base": "quick", "metrics": ["randomisation", "localisation_recall"],
                            "k": [2, 20]})
    assert q.metrics["randomisation"] == {"n_sequences": 16}
    assert set(q.thresholds) == {"randomisation"}
    rows = [m.row_names() for m in q.metric_instances()][1]
    assert rows == ["localisation_recall@2", "localisation_recall@20"]
    path = p.to_yaml(tmp_path / "protocol.yaml")
    back = Protocol.from_yaml(path)
    assert back.to_dict() == p.to_dict()
    assert Protocol.from_any(str(path)).to_dict() == p.to_dict()
    assert Protocol.from_any(p) is p
    r = Protocol.from_dict({"thresholds": {"localisation_recall@5": 0.3},
                            "adverse_thresholds": {"deletion": -0.5}})
    assert r.threshold("localisation_recall", "localisation_recall@5") == 0.3
    assert r.threshold("localisation_recall", "localisation_recall@10") is None
    assert r.threshold("deletion", "deletion", adverse=True) == -0.5
    assert r.threshold("deletion", "deletion") == 0.0


def test_protocol_bad_input(tmp_path):
    with pytest.raises(ValueError, match="base"):
        Protocol.from_dict({"base": "slow"})
    with pytest.raises(ValueError, match="seed"):
        Protocol.from_dict({"seed": 1.5})
    with pytest.raises(ValueError, match="Unknown method"):
        Protocol.from_dict({"methods": ["nope"]})
    with pytest.raises(ValueError, match="Unknown option"):
        Protocol.from_dict({"metrics": {"deletion": {"colour": 1}}})
    with pytest.raises(FileNotFoundError, match="protocol"):
        Protocol.from_any(str(tmp_path / "missing.yaml"))
    with pytest.raises(TypeError, match="protocol"):
        Protocol.from_any(3)


def test_protocol_replace_metrics_keeps_thresholds_consistent():
    p = Protocol.from_dict({"thresholds": {"deletion": 0.1, "localisation_auroc": 0.8}})
    q = p.replace(metrics=["deletion", "spearman"], seed=9)
    assert q.thresholds == {"deletion": 0.1, "spearman": 0.0} and q.seed == 9
    r = q.replace(metrics={**q.metrics, "pwm_oracle": {}})
    assert r.thresholds["pwm_oracle"] == 0.9 and r.thresholds["deletion"] == 0.1
