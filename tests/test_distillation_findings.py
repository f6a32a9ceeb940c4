"""Confounders and blind spots of distilled models (keras_iml.surrogate.findings), the
protocol's distill tier, its report section, the planted-confounder benchmark and the
SQUID cross-check.

Oracles with known answers: hand-made responses with planted effects (exact effect
sizes), Keras models whose mechanism is known (a PWM scan, restricted or not to a
window of positions), and two models trained on the synthetic benchmark, one of
them with a planted confounder.
"""

import json

import numpy as np
import pandas as pd
import pytest

import keras
from keras_iml import dna
from keras_iml.datasets import make_tf_binding
from keras_iml.models import basset_like, train
from keras_iml.models.pwm import pwm_model
from keras_iml.surrogate import crosscheck, distill, findings, models, tier, truth
from keras_iml.surrogate.distill import Distillation
from keras_iml.validation import Protocol, ValidationReport

from conftest import oracle_pfm, planted_sites

L = 80
TRUTH = truth.Truth([("TRUE", oracle_pfm())], [("DECOY", oracle_pfm("GGATAAGT"))])


# -- hand-made responses with planted effects ------------------------------------------------
def fake(n=600, gc_slope=0.0, decoy=0.0, window=None, noise=0.1, seed=0):
    """A Distillation whose model answers: 1 for the true motif (only at positions < window
    when given), ``decoy`` for the decoy, ``gc_slope`` per unit GC on GC-shifted backgrounds."""
    rng = np.random.default_rng(seed)
    e = lambda size: rng.normal(0, noise, size)  # noqa: E731
    motif = rng.choice(["none", "TRUE", "DECOY"], n)
    position = np.where(motif == "none", -1, rng.integers(0, L - 8, n))
    effect = np.select([motif == "TRUE", motif == "DECOY"], [1.0, decoy], 0.0)
    if window is not None:
        effect = np.where((motif == "TRUE") & (position >= window), 0.0, effect)
    implant = pd.DataFrame({"motif": motif, "copies": (motif != "none").astype(int), "position": position,
                            "model": effect + e(n)})
    gc = rng.uniform(0.2, 0.8, n)
    gc_shift = pd.DataFrame({"gc": gc, "model": gc_slope * (gc - 0.5) + e(n)})
    shuffle = pd.DataFrame({"gc": rng.uniform(0.38, 0.44, n), "model": e(n)})
    kinds = rng.choice(["repeat", "homopolymer"], n)
    ood = pd.DataFrame({"kind": kinds, "detail": kinds, "model": e(n)})
    responses = {"implant": implant, "gc_shift": gc_shift, "shuffle": shuffle, "out_of_distribution": ood}
    for frame in responses.values():  # a faithful surrogate everywhere
        frame["additive"] = frame["model"] + 0.3 * e(len(frame))
    fidelity = pd.DataFrame([{"library": k, "surrogate": "additive", "n": len(f),
                              **models.fidelity(f["model"], f["additive"])} for k, f in responses.items()])
    libs = {k: {"class_name": k} for k in responses}
    return Distillation(fidelity=fidelity, surrogates={}, responses=responses, libraries=libs,
                        params={"seed": seed, "length": L})


def row(table, feature):
    match = table[table["feature"] == feature]
    assert len(match) == 1, (feature, list(table["feature"]))
    return match.iloc[0]


def test_clean_responses_give_no_finding_and_every_positive_control_is_found():
    d = fake()
    conf, blind = findings.confounders(d, TRUTH), findings.blind_spots(d, TRUTH)
    assert list(conf.columns) == findings.COLUMNS == list(blind.columns)
    assert not conf["finding"].any() and not blind["finding"].any(), (conf, blind)
    assert conf["positive_control"].all()
    assert row(blind, "motif:TRUE").positive_control and row(blind, "fidelity:implant").positive_control
    # on a library where the model only varies by 0.1 motif units, a surrogate error of 0.3
    # cannot show: even a surrogate that says nothing is not flagged (uninformative)
    assert not row(blind, "fidelity:shuffle").positive_control
    gc = row(conf, "gc")
    assert abs(gc.effect) < 0.05 and gc.placebo_low < 0 < gc.placebo_high  # the null is centred on 0
    assert abs(row(conf, "decoy:DECOY").effect) < 0.05
    assert row(blind, "motif:TRUE").effect < 0.05  # detection as good as the truth's


def test_planted_gc_slope_is_measured_in_motif_units():
    conf = findings.confounders(fake(gc_slope=10.0), TRUTH)
    gc = row(conf, "gc")
    # +0.1 GC moves the output by 1.0, the effect of the true motif: 1 motif unit
    assert gc.effect == pytest.approx(1.0, abs=0.06)  # the unit: best of 5 noisy bins
    assert gc.finding and gc.p_adjusted < 0.05 and gc.effect > gc.placebo_high
    assert not row(conf, "position:TRUE").finding


def test_planted_decoy_response_is_a_confounder():
    conf = findings.confounders(fake(decoy=0.8), TRUTH)
    assert row(conf, "decoy:DECOY").effect == pytest.approx(0.8, abs=0.05)
    assert row(conf, "decoy:DECOY").finding and not row(conf, "gc").finding


def test_motif_seen_at_one_place_only_is_a_confounder_and_a_blind_spot():
    d = fake(n=900, window=15)  # the true motif counts only when it starts before 15
    conf, blind = findings.confounders(d, TRUTH), findings.blind_spots(d, TRUTH)
    assert row(conf, "position:TRUE").effect == pytest.approx(1.0, abs=0.1)
    assert row(conf, "position:TRUE").finding
    spot = row(blind, "motif_position:TRUE")
    assert spot.finding and spot.effect == pytest.approx(1.0, abs=0.1)
    assert row(blind, "motif:TRUE").finding  # most implanted copies go undetected
    assert not row(conf, "gc").finding


def test_too_few_queries_fail_the_positive_control():
    conf = findings.confounders(fake(n=15, noise=2.0), TRUTH, n_permutations=99)
    assert not conf["finding"].any() and not conf["positive_control"].all()


def test_findings_are_seeded_and_reject_bad_input():
    d = fake(gc_slope=3.0)
    pd.testing.assert_frame_equal(findings.confounders(d, TRUTH), findings.confounders(d, TRUTH))
    with pytest.raises(TypeError, match="Distillation"):
        findings.confounders(object(), TRUTH)
    with pytest.raises(ValueError, match="thresholds"):
        findings.blind_spots(d, TRUTH, thresholds={"colour": 1})
    with pytest.raises(ValueError, match="alpha"):
        findings.confounders(d, TRUTH, alpha=2)
    with pytest.raises(TypeError, match="truth"):
        truth.as_truth(5)
    with pytest.raises(ValueError, match="distill"):
        tier.check_tier({"n_query": 5})
    with pytest.raises(ValueError, match="distill"):
        Protocol(distill="yes")


def test_truth_from_the_benchmark_knows_roles_and_sufficient_motifs():
    data = make_tf_binding(60, 120, grammar=["single", "and"], seed=0)
    known = truth.as_truth(data)
    assert known.is_sufficient("MA0139.2") and known.role("MA0035.4 GATA1") == "decoy"
    assert not known.is_sufficient("MA0080.7")  # SPI1 alone is a near miss of the AND rule
    assert set(truth.truth_motifs(known)) == set(data.true_motif_ids) | set(data.decoy_motif_ids)


# -- Keras oracles through distill ------------------------------------------------------------
class _Window(keras.layers.Layer):
    """Keeps the scan scores of windows starting in [lo, hi) (a motif seen at one place only)."""

    def __init__(self, lo, hi, **kwargs):
        super().__init__(**kwargs)
        self.lo, self.hi = lo, hi

    def call(self, h):
        return h[:, self.lo:self.hi, :]


def window_model(lo, hi):
    """The PWM oracle that only sees sites starting at positions lo..hi-1."""
    scan = pwm_model(oracle_pfm(), L).get_layer("pwm_scan")
    inputs = keras.Input((L, 4))
    h = keras.layers.Reshape((-1, 1))(_Window(lo, hi)(scan(inputs)))
    return keras.Model(inputs, keras.layers.GlobalMaxPooling1D()(h))


def test_pwm_oracles_position_confounder_found_only_where_planted():
    x, _ = planted_sites(n=24, length=L, seed=0)
    known = truth.Truth([("TRUE", oracle_pfm())], [])
    libs = ["shuffle", {"class_name": "implant", "config": {"copies": [0, 1]}}, "gc_shift"]
    results = {}
    for name, model in (("clean", pwm_model(oracle_pfm(), L)), ("window", window_model(30, 40))):
        d = distill(model, x, libraries=libs, surrogates=["additive"], motifs={"TRUE": oracle_pfm()},
                    n_queries=4500, holdout=0.5,
                    seed=0, verbose=0)
        results[name] = (findings.confounders(d, known), findings.blind_spots(d, known))
    conf, blind = results["clean"]
    assert not row(conf, "position:TRUE").finding and not row(blind, "motif_position:TRUE").finding
    assert not row(blind, "motif:TRUE").finding
    conf, blind = results["window"]
    assert row(conf, "position:TRUE").finding and row(blind, "motif_position:TRUE").finding
    assert row(blind, "motif_position:TRUE").effect > 0.8  # no response away from positions 30-39


# -- proof on planted truth: a trained model with a planted confounder ------------------------
def trained(gc_shift, seed=0):
    data = make_tf_binding(1600, 100, grammar="single", gc_shift=gc_shift, seed=seed)
    model = basset_like(100, filters=(16, 16), kernel_sizes=(15, 5), pool_sizes=(2, 2), hidden=16, seed=seed)
    train(model, data.x, data.y, epochs=8, patience=1, seed=seed, rc_augment=True, verbose=0)
    return model


def test_trained_model_with_planted_gc_confounder_shows_it_and_its_blind_spot():
    reference = make_tf_binding(64, 100, grammar="single", seed=1)  # clean held-out sequences
    known = truth.as_truth(reference)
    options = tier.check_tier({"n_queries": 9000})
    found = {}
    for name, shift in (("clean", 0.0), ("confounded", 0.2)):
        d = distill(trained(shift), reference.x, libraries=options["libraries"], holdout=options["holdout"],
                    n_queries=options["n_queries"], motifs=truth.truth_motifs(known), seed=0, verbose=0)
        result = tier.tier(d, known, options)
        found[name] = {r.feature: bool(r.finding)
                       for t in ("confounders", "blind_spots") for r in result[t].itertuples()}
        # The verdict counts: the gc row found its planted positive control, so the
        # confounder metric is informative even where single k-mer rows are not.
        metrics = result["metrics"].set_index("metric")
        assert row(result["confounders"], "gc").positive_control
        assert metrics.loc["confounder_findings", "informative"]
        assert metrics.loc["confounder_findings", "passed"] == (name == "clean")
    ctcf = "motif:MA0139.2"
    assert not found["clean"]["gc"] and not found["clean"][ctcf], found["clean"]
    assert found["confounded"]["gc"] and found["confounded"][ctcf], found["confounded"]


# -- the protocol tier, the report and its JSON ---------------------------------------------
def test_validation_tier_report_json_and_html(tmp_path):
    import keras_iml

    x, mask = planted_sites(n=16, length=L, seed=1)
    protocol = {"base": "quick", "methods": ["saliency"], "metrics": ["localisation_auroc"],
                "controls": False, "distill": {"n_queries": 3000}}
    report = keras_iml.validate(window_model(30, 40), x, ground_truth=mask, motifs={"TRUE": oracle_pfm()},
                                protocol=protocol, verbose=0)
    d = report.distillation
    assert set(d["metrics"]["metric"]) == {"surrogate_fidelity", "confounder_findings", "blind_spot_findings"}
    assert row(d["confounders"], "position:TRUE").finding
    events = report.adverse_events[report.adverse_events["method"] == "model"]
    assert "confounder:position:TRUE" in set(events["metric"]) and not report.passed
    assert report.protocol["distill"]["n_queries"] == 3000
    back = ValidationReport.from_json(report.to_json(tmp_path / "report.json"))
    pd.testing.assert_frame_equal(back.distillation["confounders"].astype({"finding": bool}),
                                  d["confounders"], check_dtype=False)
    assert json.loads((tmp_path / "report.json").read_text())["distillation"]["surrogates"]["additive"]["kind"] \
        == "matrix"
    with open(back.to_html(tmp_path / "report.html"), encoding="utf-8") as handle:
        html = handle.read()
    assert 'id="distillation"' in html and "position:TRUE" in html


# -- the benchmark's planted position ---------------------------------------------------------
def test_benchmark_motif_position_plants_sites_at_one_place():
    data = make_tf_binding(200, 120, grammar="single", motif_position=(50, 52), seed=0)
    starts = data.instances.loc[data.instances["role"] == "true", "start"]
    assert starts.between(50, 52).all() and data.params["motif_position"] == [50, 52]
    clean = make_tf_binding(200, 120, grammar="single", seed=0)
    assert np.array_equal(make_tf_binding(200, 120, grammar="single", motif_position=None, seed=0).x, clean.x)
    with pytest.raises(ValueError, match="motif_position"):
        make_tf_binding(10, 60, motif_position=(5, 70))


# -- SQUID cross-check ------------------------------------------------------------------------
def test_squid_additive_surrogate_agrees_on_a_pwm_oracle():
    ok, why = crosscheck.available("ridge")
    if not ok:
        pytest.skip(f"SQUID cannot run here: {why} (see docs/distillation.md)")
    model = pwm_model("MA0139.2", 60)
    result = crosscheck.crosscheck(model, dna.random_sequences(1, 60, rng=0), n_queries=1500, backend="ridge",
                                   seed=0)
    assert result["backend"] == "ridge" and result["squid"].shape == (60, 4)
    assert result["pearson"] > 0.99
    with pytest.raises(ValueError, match="backend"):
        crosscheck.available("lasso")


def test_squid_mavenn_backend_or_the_measured_reason():
    ok, why = crosscheck.available("mavenn")
    if not ok:
        pytest.skip(f"{why}: mavenn requires the package named `tensorflow`, which would lay the full "
                    "TensorFlow wheel over tensorflow-cpu (docs/distillation.md)")
    model = pwm_model("MA0139.2", 60)
    result = crosscheck.crosscheck(model, dna.random_sequences(1, 60, rng=0), n_queries=2000, backend="mavenn")
    assert result["pearson"] > 0.85  # GE-additive vs ridge-additive: measured 0.92
