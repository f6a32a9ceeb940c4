"""`keras_iml.validate`: the whole report on the quick protocol, argument checks, reuse of
precomputed attributions, determinism, and the model wrapper."""

import numpy as np
import pandas as pd
import pytest

from keras_iml import Attributions, dna
import keras_iml
from keras_iml.validation import Protocol, validate
from keras_iml.validation.hashing import model_sha256

from conftest import make_cnn
from test_validation_data import TRUE_ID, planted, true_model

N, L = 40, 100


@pytest.fixture(scope="module")
def quick():
    x, mask = planted()
    report = validate(true_model(), x, ground_truth=mask, motifs=[TRUE_ID], protocol="quick",
                      seed=3, verbose=0)
    return x, mask, report


def test_quick_protocol_uses_its_methods_and_every_tier(quick):
    _, _, report = quick
    assert list(report.verdict.index) == list(Protocol.quick().methods)
    assert set(report.summary.tier) == {1, 2, 3}
    assert report.protocol["name"] == "quick" and report.protocol["seed"] == 3
    assert (report.verdict[["tier2", "tier3"]] == "pass").all().all()


def test_report_keeps_every_sequence(quick):
    _, _, report = quick
    ps, who = report.per_sequence, ["metric", "method", "partner"]
    counts = ps.groupby(who, dropna=False).size()
    assert (counts == N).all()
    assert set(report.summary[who].itertuples(index=False, name=None)) == set(counts.index)
    for _, group in ps.groupby(who, dropna=False):
        assert sorted(group.seq) == list(range(N))
    assert report.provenance["n_sequences"] == N


def test_adverse_events_are_exactly_the_failing_sequences(quick):
    _, _, report = quick
    ps, ae = report.per_sequence, report.adverse_events
    for _, row in report.summary.iterrows():
        if np.isnan(row.threshold) or row.arm != "method":  # control arms have no adverse events
            continue
        values = ps[(ps.metric == row.metric) & (ps.method == row.method)].value
        higher = keras_iml.metrics.get_class(_metric_name(row.metric)).higher_is_better
        failing = (values < row.threshold) if higher else (values > row.threshold)
        got = ae[(ae.metric == row.metric) & (ae.method == row.method)]
        assert len(got) == int(failing.sum()), (row.metric, row.method)


def _metric_name(row):
    name = row.split("@")[0].removesuffix("_vs_consensus")
    return "jaccard" if name.startswith("jaccard_top") else name


def test_summary_values_match_per_sequence_means_and_cis(quick):
    _, _, report = quick
    ps = report.per_sequence
    for _, row in report.summary.iterrows():
        values = ps[(ps.metric == row.metric) & (ps.method == row.method)].value.dropna()
        if row.metric == "ensemble_stability" or values.empty:
            continue
        assert row.value == pytest.approx(values.mean())
        if len(values) > 1 and values.std() > 0:
            assert row.ci_low <= row.value + 1e-12 and row.value <= row.ci_high + 1e-12


def test_examples_are_systematic(quick):
    x, _, report = quick
    ex = report.examples
    assert "random" in ex["rule"] and "best" in ex["rule"] and "worst" in ex["rule"]
    random_items = [i for i in ex["items"] if i["why"].startswith("random")]
    assert len(random_items) == 3 * len(report.verdict)
    for item in ex["items"]:
        assert np.array(item["values"]).shape == (L, 4)
        np.testing.assert_array_equal(np.array(item["input"]), x[item["seq"]])
    worst = [i for i in ex["items"] if i["why"].startswith("worst localisation_auroc")]
    assert len(worst) == 1
    ps = report.per_sequence
    auroc = ps[(ps.metric == "localisation_auroc") & (ps.arm == "method")]
    assert auroc.value.min() == pytest.approx(
        auroc[(auroc.seq == worst[0]["seq"]) & (auroc.method == worst[0]["method"])].value.iloc[0])


def test_deterministic_under_seed(quick):
    x, mask, report = quick
    again = validate(true_model(), x, ground_truth=mask, motifs=[TRUE_ID], protocol="quick",
                     seed=3, verbose=0)
    pd.testing.assert_frame_equal(report.summary, again.summary)
    pd.testing.assert_frame_equal(report.per_sequence, again.per_sequence)
    assert report.provenance["data_sha256"] == again.provenance["data_sha256"]
    assert report.provenance["model_sha256"] == model_sha256(true_model())


def test_precomputed_attributions_are_used_not_recomputed():
    x, mask = planted()
    noise = np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)
    fake = Attributions(noise, method="saliency", params={"seed": 0}, inputs=x)
    custom = Attributions(noise, method="custom", inputs=x)
    proto = {"metrics": ["localisation_auroc", "randomisation"], "n_bootstrap": 0}
    r = validate(true_model(), x, methods=["saliency"], attributions={"saliency": fake, "custom": custom},
                 ground_truth=mask, protocol=proto, verbose=0)
    s = r.summary.set_index(["metric", "method"]).value
    assert s["localisation_auroc", "saliency"] == pytest.approx(0.5, abs=0.06)  # the noise
    assert ("randomisation", "saliency") in s.index  # rebuilt from the registry
    nr = r.not_run
    assert "re-run" in nr[(nr.metric == "randomisation") & (nr.method == "custom")].reason.iloc[0]


def test_model_info_with_labels():
    x, _ = planted()
    xs = np.concatenate([x[:20], dna.random_sequences(20, L, rng=9)])
    y = np.r_[np.ones(20), np.zeros(20)]
    proto = {"metrics": ["localisation_auroc"]}
    good = validate(true_model(), xs, y, methods=["saliency"], protocol=proto, verbose=0)
    assert good.model_info["auroc"] > 0.95 and "warning" not in good.model_info
    bad = validate(true_model(), xs, y[np.random.default_rng(0).permutation(40)],
                   methods=["saliency"], protocol=proto, verbose=0)
    assert bad.model_info["auroc"] < 0.9 and "has not learned" in bad.model_info["warning"]


def test_wrapper_and_top_level_function():
    x, mask = planted()
    model = true_model()
    proto = {"metrics": ["localisation_auroc"], "n_bootstrap": 0}
    a = keras_iml.wrap(model).validate(x[:8], ground_truth=mask[:8], methods=["saliency"],
                                       protocol=proto, verbose=0)
    b = keras_iml.validate(model, x[:8], ground_truth=mask[:8], methods=["saliency"],
                           protocol=proto, verbose=0)
    pd.testing.assert_frame_equal(a.summary, b.summary)
    assert a.provenance["model_sha256"] == b.provenance["model_sha256"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"ground_truth": np.zeros((N, L + 1))}, r"ground_truth.*Received: ground_truth.shape=\(40, 101\)"),
        ({"ground_truth": np.zeros((N + 2, L))}, r"ground_truth.*Received: ground_truth.shape=\(42, 100\)"),
        ({"ground_truth": np.full((N, L), 3)}, "ground_truth"),
        ({"protocol": {"metrics": ["no_such_metric"]}}, "Unknown metric"),
        ({"protocol": {"thresholds": {"no_such_metric": 1}}}, "Unknown metric"),
        ({"protocol": {"colour": "red"}}, "Unknown protocol key"),
        ({"methods": []}, r"methods.*Received: methods=\[\]"),
        ({"methods": ["no_such_method"]}, "Unknown method"),
        ({"ensemble": [make_cnn(length=60)]}, r"ensemble\[0\]"),
        ({"y": np.zeros(N - 1)}, r"`y`.*Received: y.shape=\(39,\)"),
        ({"attributions": {"s": Attributions(np.zeros((N, L - 1, 4)), method="s")}}, "attributions"),
        ({"seed": -1}, "seed"),
        ({"batch_size": 0}, "batch_size"),
        ({"motifs": ["MA9999.9"]}, "JASPAR"),
    ],
)
def test_bad_input_names_the_argument(kwargs, match):
    x, _ = planted()
    kwargs = {"methods": ["saliency"], "protocol": {"metrics": ["spearman"]}, "verbose": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        validate(true_model(), x, **kwargs)


def test_bad_input_without_model_or_wrong_types():
    x, _ = planted()
    with pytest.raises(ValueError, match="model"):
        validate(None, x, methods=["saliency"])
    with pytest.raises(TypeError, match="ensemble"):
        validate(true_model(), x, methods=["saliency"], ensemble=true_model())
    with pytest.raises(ValueError, match="length 100"):
        validate(true_model(), dna.random_sequences(4, 50, rng=0), methods=["saliency"])
