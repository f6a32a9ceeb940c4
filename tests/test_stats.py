"""The shared statistics (row-wise metrics statistics, the one multiple-testing
correction, the one seed derivation), against independent references."""

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score

from keras_iml import metrics
from keras_iml.stats import (
    adjust,
    auroc_rows,
    average_precision_rows,
    bootstrap_ci,
    pearson_rows,
    similarity_rows,
    spearman_rows,
    top_k_mask,
)


def test_spearman_rows_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, (20, 30)).astype(float)  # many ties
    b = a + rng.normal(0, 2, a.shape)
    expected = [stats.spearmanr(a[i], b[i]).statistic for i in range(20)]
    np.testing.assert_allclose(spearman_rows(a, b), expected, atol=1e-12)
    # Convention for constant rows: both constant -> 1, one constant -> 0.
    const = np.ones((1, 30))
    assert spearman_rows(const, const)[0] == 1.0
    assert spearman_rows(const, b[:1])[0] == 0.0


def test_pearson_rows_matches_numpy():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(5, 40)), rng.normal(size=(5, 40))
    b[1] = 2 * a[1] + 1
    expected = [np.corrcoef(a[i], b[i])[0, 1] for i in range(5)]
    np.testing.assert_allclose(pearson_rows(a, b), expected, atol=1e-12)
    assert pearson_rows(a, b)[1] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="similarity"):
        similarity_rows(a, b, "kendall")


def test_auroc_and_average_precision_match_sklearn():
    rng = np.random.default_rng(1)
    labels = rng.random((15, 50)) < 0.2
    scores = np.round(labels * 0.8 + rng.random((15, 50)), 1)  # rounded: ties
    labels[0] = False  # no positives -> NaN
    got_auc = auroc_rows(scores, labels)
    got_ap = average_precision_rows(scores, labels)
    assert np.isnan(got_auc[0]) and np.isnan(got_ap[0])
    for i in range(1, 15):
        assert got_auc[i] == pytest.approx(roc_auc_score(labels[i], scores[i]), abs=1e-12)
        assert got_ap[i] == pytest.approx(average_precision_score(labels[i], scores[i]), abs=1e-12)


def test_top_k_mask_counts_and_ties():
    scores = np.array([[5.0, 1, 1, 1, 1, 1, 1, 1, 1, 9]])
    tiebreak = np.linspace(0, 1, 10)[None]
    mask = top_k_mask(scores, 30, tiebreak)  # 3 positions: 9, 5, then one tied 1
    assert mask.sum() == 3 and mask[0, 9] and mask[0, 0]
    assert mask[0, 1]  # the tie goes to the lowest tiebreak key
    assert top_k_mask(scores, 1, tiebreak).sum() == 1  # at least one position


def test_bootstrap_ci_covers_the_mean_and_is_seeded():
    rng = np.random.default_rng(2)
    values = rng.normal(3.0, 1.0, 400)
    value, low, high = bootstrap_ci(values, n_bootstrap=500, seed=7)
    assert value == pytest.approx(values.mean())
    half = 1.96 * values.std() / np.sqrt(len(values))
    assert low == pytest.approx(value - half, abs=0.03) and high == pytest.approx(value + half, abs=0.03)
    assert bootstrap_ci(values, n_bootstrap=500, seed=7) == (value, low, high)
    with_nan = np.r_[values, np.nan, np.nan]
    assert bootstrap_ci(with_nan, n_bootstrap=500, seed=7) == (value, low, high)
    v, lo, hi = bootstrap_ci([1.0], n_bootstrap=100)
    assert v == 1.0 and np.isnan(lo) and np.isnan(hi)
    med = bootstrap_ci(values, how="median", n_bootstrap=200, seed=0)[0]
    assert med == pytest.approx(np.median(values))


def test_registry_declarations():
    names = metrics.names()
    for name in names:
        cls = metrics.get_class(name)
        assert cls.tier in (1, 2, 3)
        assert isinstance(cls.higher_is_better, bool)
        assert "attributions" in cls.requires and cls.requires <= metrics.REQUIREMENTS
    tiers = {metrics.get_class(n).tier for n in names}
    assert tiers == {1, 2, 3}
    assert metrics.get({"name": "deletion", "n_random": 2}).n_random == 2
    with pytest.raises(ValueError, match="Unknown metric"):
        metrics.get("no_such_metric")
    with pytest.raises(ValueError, match="Unknown option"):
        metrics.get("deletion", steps=3)
    with pytest.raises(ValueError, match="already registered"):
        metrics.register("deletion")(type("Other", (metrics.Metric,), {"tier": 2}))


def test_lazy_registration_hook(tmp_path, monkeypatch):
    """A metric in an optional module is listed when the module exists and imported on use."""
    from keras_iml.metrics import base

    (tmp_path / "fake_lazy_metric.py").write_text(
        "from keras_iml.metrics.base import Metric, register\n"
        "@register('fake_lazy')\n"
        "class Fake(Metric):\n"
        "    tier = 3\n"
        "    def compute(self, ctx, method):\n"
        "        return ctx.importance(method).max(1)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(base.REGISTRY, "_classes", dict(base.REGISTRY._classes))
    monkeypatch.setattr(base.REGISTRY, "_lazy", dict(base.REGISTRY._lazy))
    base.REGISTRY.register_lazy("fake_lazy", "fake_lazy_metric")
    base.REGISTRY.register_lazy("absent_lazy", "no_such_module_for_keras_iml")
    assert "fake_lazy" in metrics.names() and "absent_lazy" not in metrics.names()
    assert metrics.get("fake_lazy").tier == 3
    with pytest.raises(ValueError, match="Unknown metric"):
        metrics.get("absent_lazy")


def test_bh_qvalues_match_hand_values_and_scipy():
    from scipy.stats import false_discovery_control

    def bh_qvalues(p):
        return adjust(p, "bh")

    p = np.array([0.01, 0.04, 0.03, 0.5])
    np.testing.assert_allclose(bh_qvalues(p), [0.04, 0.16 / 3, 0.16 / 3, 0.5])
    rng = np.random.default_rng(3)
    p = rng.random(200) ** 3
    np.testing.assert_allclose(bh_qvalues(p), false_discovery_control(p), rtol=1e-12)
    q = bh_qvalues([0.2, np.nan, 0.01])
    assert np.isnan(q[1]) and q[2] == pytest.approx(0.02) and q[0] == pytest.approx(0.2)
