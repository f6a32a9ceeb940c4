"""Tier 1 metrics that re-run the method: seeds, hyper-parameters, ensembles, equivariance."""

import numpy as np
import pytest

import keras
from keras_iml.validation import validate

from conftest import make_linear
from test_validation_data import RandomNoise, decoy_model, planted, true_model

N = 24


def _clone(model):
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _value(report, metric, method):
    s = report.summary
    row = s[(s.metric == metric) & (s.method == method)]
    assert len(row) == 1, (metric, method)
    return row.iloc[0]["value"]


def _reason(report, metric, method):
    nr = report.not_run
    return nr[(nr.metric == metric) & (nr.method == method)].reason.iloc[0]


@pytest.fixture(scope="module")
def report():
    x, _ = planted()
    methods = {
        "saliency": {},
        "integrated_gradients": {"steps": 16},
        "expected_gradients": {"n_references": 4},
        "eg_many": {"name": "expected_gradients", "n_references": 24},
        "random_noise": RandomNoise(),
    }
    metrics = {
        "seed_repeatability": {"n_sequences": N},
        "hyperparameter_sensitivity": {
            "n_sequences": N,
            "alternatives": {"integrated_gradients": [{"steps": 4}],
                             "expected_gradients": [{"n_references": 4}]},
        },
        "ensemble_stability": {"n_sequences": N},
        "rc_equivariance": {"n_sequences": N},
        "shift_equivariance": {"n_sequences": N, "shifts": [1, -2]},
    }
    return validate(true_model(), x, methods=methods, ensemble=[_clone(true_model())],
                    protocol={"metrics": metrics, "n_bootstrap": 100}, verbose=0)


def test_seed_repeatability(report):
    few = _value(report, "seed_repeatability", "expected_gradients")
    many = _value(report, "seed_repeatability", "eg_many")
    assert many > 0.8 and many > few + 0.1  # more references, less Monte-Carlo noise
    assert abs(_value(report, "seed_repeatability", "random_noise")) < 0.1
    assert report.verdict.loc["random_noise", "tier1"] == "fail"
    assert "deterministic" in _reason(report, "seed_repeatability", "saliency")


def test_hyperparameter_sensitivity(report):
    # On a linear scan + max model IG is exact at any number of steps.
    assert _value(report, "hyperparameter_sensitivity", "integrated_gradients") == pytest.approx(1.0)
    assert "equals the configured options" in _reason(report, "hyperparameter_sensitivity",
                                                       "expected_gradients")
    assert "no alternative" in _reason(report, "hyperparameter_sensitivity", "saliency")


def test_identical_ensemble_is_perfectly_stable(report):
    for method in ("saliency", "integrated_gradients", "expected_gradients", "eg_many"):
        assert _value(report, "ensemble_stability", method) == pytest.approx(0.0, abs=1e-6)
    values = report.per_sequence
    stab = values[(values.metric == "ensemble_stability") & (values.method == "saliency")]
    assert len(stab) == 40 and stab.value.notna().sum() == N  # subsample kept, others NaN


def test_ensemble_of_disjoint_mechanisms_by_hand():
    """Two models whose saliency windows never overlap: at every position with a non-zero
    mean, the maps are (a, 0), whose relative sd (ddof=1) is exactly sqrt(2)."""
    x, _ = planted()
    r = validate(true_model(), x[:8], methods=["saliency"], ensemble=[decoy_model()], verbose=0,
                 protocol={"metrics": ["ensemble_stability"], "n_bootstrap": 0})
    assert _value(r, "ensemble_stability", "saliency") == pytest.approx(np.sqrt(2), rel=1e-6)


def test_reverse_complement_and_shift_equivariance(report):
    # The PWM model scans both strands: f(rc(x)) = f(x), so the maps match exactly.
    assert _value(report, "rc_equivariance", "saliency") == pytest.approx(1.0)
    assert _value(report, "shift_equivariance", "saliency") > 0.95
    # A linear model's saliency is its weight matrix W for every input, so the
    # reverse-complement map flipped back is W[::-1, ::-1]: a known, input-free value.
    x, _ = planted()
    linear = make_linear(length=100, seed=4)
    w = linear.get_weights()[0].reshape(100, 4)
    expected = np.corrcoef(np.abs(w).sum(1), np.abs(w[::-1, ::-1]).sum(1))[0, 1]
    r = validate(linear, x[:N], methods=["saliency"], verbose=0,
                 protocol={"metrics": ["rc_equivariance"], "n_bootstrap": 0})
    assert _value(r, "rc_equivariance", "saliency") == pytest.approx(expected, abs=1e-6)
    assert abs(expected) < 0.5


def test_missing_inputs_are_reported_not_run():
    x, _ = planted()
    r = validate(true_model(), x[:5], methods=["saliency"], verbose=0,
                 protocol={"metrics": ["ensemble_stability", "localisation_auroc", "motif_enrichment",
                                       "spearman"], "n_bootstrap": 0})
    assert "ensemble=" in _reason(r, "ensemble_stability", "saliency")
    assert "ground_truth=" in _reason(r, "localisation_auroc", "saliency")
    assert "motifs=" in _reason(r, "motif_enrichment", "saliency")
    assert "two methods" in _reason(r, "spearman", "all")
    assert r.summary.empty and r.verdict.loc["saliency"].tolist() == ["not run"] * 3
