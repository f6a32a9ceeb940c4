"""Control arms: the placebo method, paired statistics against placebo, verdicts that a
placebo or broken method cannot sway, and the report's control section."""

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage, stats

from keras_iml import dna
import keras_iml
from keras_iml.methods.base import AttributionMethod
from keras_iml.methods.placebo import Placebo, lag1_autocorrelation, match_placebo
from keras_iml.models.pwm import pwm_model
from keras_iml.stats import adjust
from keras_iml.validation import Protocol

from conftest import make_cnn, oracle_pfm, planted_sites

def _pfm():
    return oracle_pfm()


def planted(n=48, length=80, seed=0):
    return planted_sites(n, length, seed)


# -- the placebo method -----------------------------------------------------------------
def test_placebo_is_model_independent_and_sequence_keyed(onehot):
    a = keras_iml.explain(make_cnn(seed=0), onehot, "placebo", seed=4, verbose=0)
    b = keras_iml.explain(make_cnn(seed=1), onehot, "placebo", seed=4, verbose=0)
    np.testing.assert_array_equal(a.values, b.values)
    values = a.values.reshape(-1)
    # standard normal values without quantiles
    assert abs(values.mean()) < 0.1 and abs(values.std() - 1.0) < 0.1


def test_placebo_matches_the_distribution_and_smoothness_of_a_method():
    rng = np.random.default_rng(0)
    x = dna.random_sequences(64, 200, rng=rng)
    # a smooth, sparse, positive "method": blurred exponential noise on the observed base
    smooth = ndimage.gaussian_filter1d(rng.exponential(1.0, (64, 200)), 4.0, axis=1) ** 3
    values = smooth[:, :, None] * x
    placebo = match_placebo(values, x, seed=1)
    assert placebo.observed_only
    assert placebo.width >= 2.0
    made = placebo.attribute(None, x, [np.random.default_rng(i) for i in range(64)])["values"]
    observed = x > 0.5
    # the same marginal distribution on the observed bases
    ks = stats.ks_2samp(made[observed], values[observed]).statistic
    assert ks < 0.05
    # a similar lag-1 autocorrelation of position importance
    assert abs(lag1_autocorrelation(np.abs(made).sum(-1)) - lag1_autocorrelation(smooth)) < 0.1
    # nothing off the observed bases
    assert np.all(made[~observed] == 0)
    # a rough map gets no smoothing
    rough = match_placebo(rng.normal(size=(64, 200, 4)).astype(np.float32), x)
    assert rough.width == 0.0 and not rough.observed_only


@pytest.mark.parametrize("bad", [{"width": -1.0}, {"width": float("nan")}, {"quantiles": [1.0]},
                                 {"quantiles": [2.0, 1.0]}])
def test_placebo_bad_options(bad, onehot):
    with pytest.raises(ValueError, match=next(iter(bad))):
        keras_iml.explain(make_cnn(), onehot[:2], Placebo(**bad), verbose=0)


# -- statistics -----------------------------------------------------------------------------
def test_holm_and_bh_by_hand():
    p = [0.01, 0.04, 0.03, np.nan]
    # Holm: sorted 0.01, 0.03, 0.04 times 3, 2, 1, then running max
    np.testing.assert_allclose(adjust(p, "holm")[:3], [0.03, 0.06, 0.06])
    # BH: 0.01*3/1, 0.03*3/2, 0.04*3/3, then running min from the top
    np.testing.assert_allclose(adjust(p, "bh")[:3], [0.03, 0.04, 0.04])
    assert np.isnan(adjust(p, "holm")[3])
    with pytest.raises(ValueError, match="correction"):
        adjust(p, "bonferonni")


@pytest.mark.parametrize("bad", [{"alpha": 0.0}, {"alpha": 1.5}, {"correction": "fdr"},
                                 {"controls": {"placebos": True}}, {"controls": "yes"},
                                 {"controls": {"randomised_model": {"layer": 1}}}])
def test_protocol_rejects_bad_control_settings(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        Protocol.from_dict({"base": "quick", **bad})


def test_controls_round_trip_and_switch_off():
    proto = Protocol.from_dict({"base": "quick", "controls": {"positive": False}})
    again = Protocol.from_dict(proto.to_dict())
    assert again.controls == proto.controls and again.controls["placebo"] is True
    assert Protocol.from_dict({"base": "quick", "controls": False}).controls["placebo"] is False


# -- validation with control arms -------------------------------------------------------
@pytest.fixture(scope="module")
def oracle_run():
    x, mask = planted()
    model = pwm_model(_pfm(), x.shape[1])
    report = keras_iml.validate(model, x, ground_truth=mask, protocol="quick", verbose=0)
    return model, x, mask, report


def test_arms_are_marked_and_recorded(oracle_run):
    _, x, _, report = oracle_run
    arms = set(report.controls["arm"])
    methods_ = list(report.verdict.index)
    assert {f"placebo:{m}" for m in methods_} <= arms
    assert {"positive:ism", "positive:ground_truth", f"randomised_model:{methods_[0]}"} <= arms
    kinds = dict(zip(report.controls["arm"], report.controls["kind"]))
    assert kinds["positive:ism"] == "positive_control" and kinds["placebo:saliency"] == "placebo"
    assert report.controls["seed"].notna().all()
    assert set(report.summary["arm"]) >= {"method", "placebo", "positive_control", "randomised_model"}
    assert set(report.per_sequence["arm"]) >= {"method", "placebo"}
    # the demo's text table lists them apart from the methods
    from keras_iml import demo

    text = demo.summary_table(report)
    assert "Control arms:" in text and text.index("placebo:saliency") > text.index("Control arms:")
    # control arms are never in the method verdict, and never adverse events
    assert not any(":" in m for m in report.verdict.index)
    assert not report.adverse_events["method"].astype(str).str.contains(":").any()


def test_on_planted_truth_methods_and_positive_controls_beat_placebo(oracle_run):
    _, _, _, report = oracle_run
    s = report.summary.set_index(["metric", "method"])
    for label in ("saliency", "positive:ground_truth", "positive:ism"):
        row = s.loc[("localisation_auroc", label)]
        assert row["beats_placebo"] is True and row["effect_size"] > 1
        assert row["value"] > row["placebo_value"] + 0.3
    # placebo maps sit at chance on localisation
    assert abs(s.loc[("localisation_auroc", "placebo:saliency"), "value"] - 0.5) < 0.1
    assert (report.verdict == "pass").all().all()
    assert report.passed


def test_report_json_round_trip_and_html_show_the_controls(oracle_run, tmp_path):
    _, _, _, report = oracle_run
    again = keras_iml.validation.ValidationReport.from_json(report.to_json(tmp_path / "r.json"))
    assert list(again.controls["arm"]) == list(report.controls["arm"])
    assert list(again.summary.columns) == list(report.summary.columns)
    html = open(report.to_html(tmp_path / "r.html")).read()
    assert "Control arms and placebo comparison" in html and "placebo:saliency" in html


class _Broken(AttributionMethod):
    """Gradient maps reversed along the sequence: a method that is plainly wrong."""

    name = "broken_in_test"

    def attribute(self, function, x, rngs):
        return {"values": np.ascontiguousarray(np.asarray(function.gradient(x))[:, ::-1])}


def test_a_placebo_or_broken_method_cannot_sway_another_methods_verdict():
    x, mask = planted(n=40, length=80, seed=3)
    model = make_cnn(length=80, seed=2)
    base = ["saliency", "input_x_gradient", "integrated_gradients", "ism", "smoothgrad"]
    proto = Protocol.from_dict({"base": "quick", "methods": base})
    before = keras_iml.validate(model, x, ground_truth=mask, protocol=proto, verbose=0)
    added = {m: proto.method_instance(m) for m in base}
    added["noise"] = Placebo(width=2.0)
    added["broken"] = _Broken()
    after = keras_iml.validate(model, x, ground_truth=mask, protocol=proto, methods=added, verbose=0)
    pd.testing.assert_frame_equal(after.verdict.loc[base], before.verdict.loc[base])
    # and the random method is not "perfectly" anything: it does not beat its placebo
    rows = after.summary[(after.summary["method"] == "noise") & after.summary["beats_placebo"].notna()]
    assert len(rows) and not rows["beats_placebo"].astype(bool).any()
    assert (after.verdict.loc["noise"].isin(["fail", "not above placebo", "inconclusive", "not run"])).all()


def test_a_metric_that_random_maps_ace_is_flagged_uninformative():
    """Model-independent maps are 'perfectly stable' across an ensemble: the report must
    say that ensemble stability cannot tell them from a method here."""
    x, _ = planted(n=24, length=60, seed=5)
    ensemble = [make_cnn(seed=s) for s in (1, 2)]
    report = keras_iml.validate(
        make_cnn(seed=0), x, ensemble=ensemble, verbose=0,
        protocol={"base": "quick", "methods": {"saliency": {}, "noise": {"name": "placebo"}},
                  "metrics": ["ensemble_stability", "deletion"],
                  "thresholds": {"ensemble_stability": 0.5}})
    weak = report.tables["uninformative"]
    assert "ensemble_stability" in set(weak["metric"])
    assert "placebo" in weak.set_index("metric").loc["ensemble_stability", "reason"]
    row = report.summary.set_index(["metric", "method"]).loc[("ensemble_stability", "noise")]
    assert row["value"] == 0.0 and not row["informative"]
    assert report.verdict.loc["noise", "tier1"] == "inconclusive"


def test_paired_comparison_by_hand():
    from keras_iml.metrics import get as get_metric
    from keras_iml.validation.evidence import compare_with_placebo
    from keras_iml.validation.labels import Label
    from keras_iml.validation.verdict import Record

    rng = np.random.default_rng(0)
    placebo = rng.normal(0.0, 1.0, 30)
    method = placebo + rng.normal(0.8, 1.0, 30)
    method[3] = np.nan  # unscored sequences drop out of the pairs
    deletion = get_metric("deletion")  # higher is better
    randomisation = get_metric("randomisation")  # lower is better
    m, placebo_m = Label("m"), Label("placebo:m", "placebo")
    records = [Record(deletion, "deletion", m, method), Record(deletion, "deletion", placebo_m, placebo),
               Record(randomisation, "randomisation", m, -method),
               Record(randomisation, "randomisation", placebo_m, -placebo)]
    proto = Protocol.from_dict({"base": "quick", "n_bootstrap": 500})
    ev = compare_with_placebo(records, {"m": "placebo:m"}, proto).set_index("metric")
    d = (method - placebo)[np.isfinite(method)]
    row = ev.loc["deletion"]
    assert row["n"] == 29 and row["difference"] == pytest.approx(d.mean())
    assert row["effect_size"] == pytest.approx(d.mean() / d.std(ddof=1))
    assert row["p_value"] == pytest.approx(stats.wilcoxon(d, alternative="greater").pvalue)
    assert row["diff_ci_low"] < d.mean() < row["diff_ci_high"]
    # the direction of a lower-is-better metric is taken into account
    assert ev.loc["randomisation", "difference"] == pytest.approx(d.mean())
    # Holm over the method's two rows
    p = np.sort(ev["p_value"].to_numpy())
    np.testing.assert_allclose(np.sort(ev["p_adjusted"].to_numpy()), [2 * p[0], max(2 * p[0], p[1])])
    assert (ev["beats_placebo"] == True).all() and ev["decidable"].all()  # noqa: E712
