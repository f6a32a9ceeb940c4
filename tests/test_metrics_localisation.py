"""Tier 3 biological validity: localisation against planted motifs, decoys, known-motif
enrichment, and a confounded model that tier 3 flags while tier 2 passes."""

import numpy as np
import pandas as pd
import pytest

from keras_iml import Attributions
from keras_iml.validation import validate

from test_validation_data import TRUE_ID, RandomNoise, decoy_model, planted, true_model

METRICS = [
    "deletion", "insertion", "randomisation", "pwm_oracle",
    "localisation_auroc", "localisation_auprc", "localisation_recall",
    "localisation_precision", "motif_enrichment",
]
PROTOCOL = {"base": "quick", "metrics": METRICS, "n_bootstrap": 200}
METHODS = {"saliency": {}, "integrated_gradients": {"steps": 16}}


@pytest.fixture(scope="module")
def true_report():
    x, mask = planted()
    methods = {**METHODS, "random_noise": RandomNoise()}
    return validate(true_model(), x, methods=methods, ground_truth=mask, motifs=[TRUE_ID],
                    protocol=PROTOCOL, verbose=0)


@pytest.fixture(scope="module")
def confounded_report():
    """The model scans the decoy (GATA1), which the ground truth marks as a decoy."""
    x, mask = planted()
    return validate(decoy_model(), x, methods=METHODS, ground_truth=mask, motifs=[TRUE_ID],
                    protocol=PROTOCOL, verbose=0)


def _value(report, metric, method):
    s = report.summary
    row = s[(s.metric == metric) & (s.method == method)]
    assert len(row) == 1, (metric, method)
    return row.iloc[0]["value"]


@pytest.mark.parametrize("method", ["saliency", "integrated_gradients"])
def test_gradient_methods_localise_the_motif_on_the_oracle(true_report, method):
    assert _value(true_report, "localisation_auroc", method) > 0.95
    assert _value(true_report, "localisation_auprc", method) > 0.9
    # All top positions lie in the 15-bp site: recall@k = (k % of 100 bp) / 15 exactly.
    for k in (1, 5, 10):
        assert _value(true_report, f"localisation_recall@{k}", method) == pytest.approx(k / 15)
        assert _value(true_report, f"localisation_precision@{k}", method) == 1.0
    assert _value(true_report, "motif_enrichment", method) > 0.6
    assert true_report.verdict.loc[method].tolist() == ["not run", "pass", "pass"]


def test_random_attributions_localise_at_chance(true_report):
    assert _value(true_report, "localisation_auroc", "random_noise") == pytest.approx(0.5, abs=0.06)
    assert _value(true_report, "localisation_auprc", "random_noise") < 0.3  # chance = 0.15
    assert abs(_value(true_report, "motif_enrichment", "random_noise")) < 0.1
    assert true_report.verdict.loc["random_noise", "tier3"] == "fail"


def test_confounded_model_fails_tier3_while_tier2_passes(confounded_report):
    v = confounded_report.verdict
    for method in METHODS:
        assert v.loc[method, "tier2"] == "pass", confounded_report.summary
        assert v.loc[method, "tier3"] == "fail"
        assert _value(confounded_report, "localisation_auroc", method) < 0.5
        assert _value(confounded_report, "localisation_precision@10", method) == 0.0
        assert _value(confounded_report, "motif_enrichment", method) < 0
    ae = confounded_report.adverse_events
    decoy = ae[(ae.metric == "localisation_precision@10") & (ae.method == "saliency")]
    assert len(decoy) == 40 and decoy.reason.str.contains("decoy").all()
    assert not confounded_report.passed


def test_localisation_by_hand_and_instance_table():
    """One sequence, importance = position index; true motif at 8-9, a decoy at 7."""
    x = np.eye(4, dtype=np.float32)[np.zeros(10, int)][None]
    values = np.zeros((1, 10, 4), np.float32)
    values[0, :, 0] = np.arange(10)
    attr = {"ramp": Attributions(values, method="ramp", inputs=x)}
    mask = np.zeros((1, 10), np.int8)
    mask[0, 8:10], mask[0, 7] = 1, 2
    protocol = {"metrics": ["localisation_auroc", "localisation_recall", "localisation_precision"],
                "k": [10, 30], "n_bootstrap": 0}
    r = validate(None, x, attributions=attr, ground_truth=mask, protocol=protocol, verbose=0)
    assert _value(r, "localisation_auroc", "ramp") == 1.0
    assert _value(r, "localisation_recall@10", "ramp") == 0.5  # top 1 position: 9
    assert _value(r, "localisation_recall@30", "ramp") == 1.0  # 9, 8, 7
    assert _value(r, "localisation_precision@30", "ramp") == pytest.approx(2 / 3)
    table = pd.DataFrame({"seq": [0, 0], "motif_id": ["t", "d"], "start": [8, 7], "end": [10, 8],
                          "strand": ["+", "-"], "role": ["true", "decoy"]})
    r2 = validate(None, x, attributions=attr, ground_truth=table, protocol=protocol, verbose=0)
    pd.testing.assert_frame_equal(r.summary, r2.summary)
    curve = r.curves["localisation_recall"]
    assert curve.k.tolist() == [10, 30] and curve.value.tolist() == [0.5, 1.0]
