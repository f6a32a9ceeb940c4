"""Tier 1 cross-method agreement: identical maps agree fully, independent ones at chance."""

import numpy as np
import pytest

from keras_iml import Attributions, dna
from keras_iml.validation import validate

N, L = 40, 100
AGREEMENT = {"metrics": ["spearman", "jaccard", "sign_agreement"], "n_bootstrap": 100}


def _attr(values, x, name):
    return Attributions(values, method=name, inputs=x, params={"seed": 0})


@pytest.fixture(scope="module")
def report():
    rng = np.random.default_rng(0)
    x = dna.random_sequences(N, L, rng=rng)
    a = rng.standard_normal((N, L, 4)).astype(np.float32)
    attrs = {
        "a": _attr(a, x, "a"),
        "a_copy": _attr(a.copy(), x, "a_copy"),
        "scaled": _attr(3.0 * a, x, "scaled"),  # same ranking, same signs
        "independent": _attr(rng.standard_normal((N, L, 4)).astype(np.float32), x, "independent"),
    }
    return validate(None, x, attributions=attrs, protocol=AGREEMENT, verbose=0)


def _rows(frame, a, b):
    """The rows of the pair (a, b): ``a`` in ``method``, ``b`` in ``partner``."""
    return (frame.method == a) & (frame.partner == b)


def _value(report, metric, pair):
    s = report.summary
    row = s[(s.metric == metric) & _rows(s, *pair)]
    assert len(row) == 1, (metric, pair)
    return row.iloc[0]


@pytest.mark.parametrize("metric", ["spearman", "jaccard_top10", "sign_agreement"])
@pytest.mark.parametrize("pair", [("a", "a_copy"), ("a", "scaled")])
def test_identical_rankings_agree_fully(report, metric, pair):
    assert _value(report, metric, pair)["value"] == pytest.approx(1.0)


def test_independent_maps_are_at_chance(report):
    rho = _value(report, "spearman", ("a", "independent"))
    assert abs(rho["value"]) < 0.05
    assert rho["ci_low"] < 0 < rho["ci_high"]
    # Expected Jaccard of two independent top-10 % sets: k / (200 - k).
    assert _value(report, "jaccard_top10", ("a", "independent"))["value"] == pytest.approx(10 / 190, abs=0.02)
    assert _value(report, "sign_agreement", ("a", "independent"))["value"] == pytest.approx(0.5, abs=0.06)


def test_matrices_are_symmetric_with_unit_diagonal(report):
    for name in ("spearman", "jaccard_top10", "sign_agreement"):
        m = report.matrices[name]
        assert list(m.index) == list(m.columns) == ["a", "a_copy", "scaled", "independent"]
        np.testing.assert_allclose(m.to_numpy(), m.to_numpy().T)
        np.testing.assert_allclose(np.diag(m.to_numpy()), 1.0)
        assert m.loc["a", "independent"] == pytest.approx(
            _value(report, name, ("a", "independent"))["value"], abs=1e-9
        )


def test_pairs_and_counts(report):
    s = report.summary
    assert len(s[s.metric == "spearman"]) == 6  # 4 choose 2
    ps = report.per_sequence
    counts = ps.groupby(["metric", "method", "partner"], dropna=False).size()
    # 3 metrics x 6 pairs, and 3 metrics x 4 methods against the consensus of the others
    assert (counts == N).all() and len(counts) == 18 + 12
    assert counts.index.get_level_values("metric").str.endswith("_vs_consensus").sum() == 12
    # Spearman's threshold is 0: sequences where independent maps anti-correlate are
    # adverse events of that pair, and none exist for identical maps.
    ae = report.adverse_events
    assert ae[_rows(ae, "a", "a_copy")].empty
    bad = ps[(ps.metric == "spearman") & _rows(ps, "a", "independent") & (ps.value < 0)]
    got = ae[(ae.metric == "spearman") & _rows(ae, "a", "independent")]
    assert sorted(got.seq) == sorted(bad.seq) and len(got) > 0


def test_signs_flipped_disagree():
    rng = np.random.default_rng(3)
    x = dna.random_sequences(10, L, rng=rng)
    a = rng.standard_normal((10, L, 4)).astype(np.float32)
    r = validate(None, x, attributions={"a": _attr(a, x, "a"), "neg": _attr(-a, x, "neg")},
                 protocol=AGREEMENT, verbose=0)
    assert _value(r, "spearman", ("a", "neg"))["value"] == pytest.approx(1.0)  # |.| ranks agree
    assert _value(r, "sign_agreement", ("a", "neg"))["value"] == pytest.approx(0.0)
