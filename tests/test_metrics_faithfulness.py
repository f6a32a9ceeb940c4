"""Tier 2 faithfulness metrics on oracle models whose mechanism is known by construction."""

import numpy as np
import pytest

import keras
from keras_iml import dna
from keras_iml.metrics.randomisation import randomised_cascade
from keras_iml.validation import validate

from conftest import make_cnn
from test_validation_data import InputCopy, RandomNoise, planted, true_model

METHODS = {
    "saliency": {},
    "integrated_gradients": {"steps": 16},
    "input_copy": InputCopy(),
    "random_noise": RandomNoise(),
}
PROTOCOL = {
    "base": "quick",
    "metrics": {
        "deletion": {},
        "insertion": {},
        "randomisation": {"n_sequences": 20},
        "completeness": {},
        "ism_agreement": {},
        "pwm_oracle": {"n_sequences": 40},
    },
    "n_bootstrap": 200,
}


@pytest.fixture(scope="module")
def run():
    x, mask = planted()
    model = true_model()
    before = [w.copy() for w in model.get_weights()]
    report = validate(model, x, methods=METHODS, ground_truth=mask, protocol=PROTOCOL, verbose=0)
    return x, model, before, report


def _row(report, metric, method):
    s = report.summary
    row = s[(s.metric == metric) & (s.method == method)]
    assert len(row) == 1, (metric, method)
    return row.iloc[0]


def test_gradient_methods_pass_tier2_and_model_blind_ones_fail(run):
    _, _, _, report = run
    assert report.verdict.loc["saliency", "tier2"] == "pass"
    assert report.verdict.loc["integrated_gradients", "tier2"] == "pass"
    assert report.verdict.loc["input_copy", "tier2"] == "fail"
    assert report.verdict.loc["random_noise", "tier2"] == "fail"


def test_randomisation_flags_the_attribution_that_ignores_the_model(run):
    _, _, _, report = run
    assert _row(report, "randomisation", "saliency")["value"] < 0.5
    copy = _row(report, "randomisation", "input_copy")
    assert copy["value"] == pytest.approx(1.0) and copy["passed"] is False
    ae = report.adverse_events
    survivors = ae[(ae.metric == "randomisation") & (ae.method == "input_copy")]
    assert len(survivors) == 20 and survivors.reason.str.contains("survivor").all()
    curve = report.curves["randomisation"]
    assert list(curve[curve.method == "saliency"].layer) == ["pwm_scan"]


def test_randomisation_never_modifies_the_users_model(run):
    _, model, before, _ = run
    for w0, w1 in zip(before, model.get_weights()):
        np.testing.assert_array_equal(w0, w1)


def test_pwm_oracle_peak_on_the_scored_match(run):
    _, _, _, report = run
    assert _row(report, "pwm_oracle", "saliency")["value"] == 1.0
    assert _row(report, "pwm_oracle", "integrated_gradients")["value"] == 1.0
    # Random maps peak inside the 15-bp window of 100 bp about 15 % of the time.
    assert _row(report, "pwm_oracle", "random_noise")["value"] < 0.4
    assert _row(report, "pwm_oracle", "input_copy")["value"] < 0.4


def test_deletion_and_insertion_beat_random_rankings(run):
    x, model, _, report = run
    for metric in ("deletion", "insertion"):
        assert _row(report, metric, "saliency")["ci_low"] > 0.2
        assert _row(report, metric, "integrated_gradients")["ci_low"] > 0.2
        noise = _row(report, metric, "random_noise")  # no better than a random ranking
        assert noise["ci_low"] < 0 < noise["ci_high"]
        assert noise["value"] < _row(report, metric, "saliency")["ci_low"]
    curve = report.curves["deletion"]
    sal = curve[curve.method == "saliency"]
    assert list(sal[sal.kind == "ranked"].fraction) == [0.0, 0.05, 0.1, 0.2, 0.5]
    # At fraction 0 nothing is replaced: both curves start at the mean output.
    f0 = sal[sal.fraction == 0.0].output.to_numpy()
    np.testing.assert_allclose(f0, model.predict(x, verbose=0).mean(), rtol=1e-4)
    ranked = sal[sal.kind == "ranked"].output.to_numpy()
    random = sal[sal.kind == "random"].output.to_numpy()
    assert (ranked[1:] < random[1:]).all()  # deleting the motif bases first lowers the match most


def test_perturbation_infill_is_valid_dna():
    """A model that counts non-one-hot columns outputs 0 on every perturbed input."""
    length = 40
    inp = keras.Input((length, 4))
    ops = keras.ops
    off = keras.layers.Lambda(lambda t: ops.sum(ops.abs(1.0 - ops.sum(t, -1)), -1, keepdims=True))(inp)
    model = keras.Model(inp, off)
    x = dna.random_sequences(6, length, rng=0)
    for infill in ("dinuc_shuffle", "shuffle", "random"):
        r = validate(model, x, methods=["saliency"], verbose=0,
                     protocol={"metrics": {"deletion": {"infill": infill, "fractions": [0, 0.5, 1.0]}}})
        assert (r.curves["deletion"].output == 0).all()


def test_completeness_of_integrated_gradients(run):
    _, _, _, report = run
    # Linear scan + max with a zero baseline: f(a x) = a f(x), so IG is exact.
    assert _row(report, "completeness", "integrated_gradients")["value"] < 1e-4
    nr = report.not_run
    reason = nr[(nr.metric == "completeness") & (nr.method == "saliency")].reason.iloc[0]
    assert "convergence_delta" in reason


def test_ism_agreement(run):
    _, _, _, report = run
    assert _row(report, "ism_agreement", "saliency")["value"] > 0.6
    assert abs(_row(report, "ism_agreement", "random_noise")["value"]) < 0.15


def test_randomised_cascade_goes_top_down_on_copies():
    model = make_cnn(length=40)
    before = [w.copy() for w in model.get_weights()]
    cascade = randomised_cascade(model, np.random.default_rng(0))
    assert [name for name, _ in cascade] == [model.layers[i].name for i in (4, 2, 0)]
    _, top_only = cascade[0]
    w_orig, w_top = model.get_weights(), top_only.get_weights()
    for a, b in zip(w_orig[:-2], w_top[:-2]):  # conv layers untouched
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(w_orig[-2], w_top[-2])  # dense kernel redrawn
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
