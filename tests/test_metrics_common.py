"""One suite run over every registered metric (as tests/test_methods_common.py runs over
every method).

On a PWM oracle model with planted sites, whose own map (ISM of the oracle; a
stochastic method where the metric needs one) is right by construction, every metric
with a direction must score that map better than its placebo arm, except a metric that
declares ``placebo_ceiling`` (a model-independent map attains its best value, as with
ensemble stability): there the placebo must tie the map and the run must flag the
metric uninformative. Per-sequence scores must not depend on the batch size, nor on
which other sequences are in the data; configs round-trip; bad options raise ValueError.
"""

import numpy as np
import pytest

import keras_iml
from keras_iml import metrics
from keras_iml.validation import Protocol
from keras_iml.models.pwm import pwm_model

from conftest import oracle_pfm, planted_sites

#: Slow metrics (minutes per method: TF-MoDISco) left out of the oracle runs; their
#: own tests (tests/test_motifs.py) cover them on planted data.
SLOW = {name for name in metrics.names() if not metrics.get_class(name).quick}
ALL = metrics.names()
FAST = [name for name in ALL if name not in SLOW]
METHODS = {"ism": {}, "saliency": {}, "input_x_gradient": {}, "smoothgrad": {"n_samples": 8},
           "integrated_gradients": {"steps": 16}}
#: The oracle's own map, then a stochastic one and one with a convergence delta for
#: metrics that need them.
ORACLE_LABELS = ("ism", "smoothgrad", "integrated_gradients")


def _pfm():
    return oracle_pfm()


def _data(n=36, length=80, seed=0):
    """Sequences with the oracle's motif in one half and a decoy (mask 2) in the other."""
    return planted_sites(n, length, seed, decoy=True)


def _protocol():
    opts = {}
    for name in FAST:
        cls = metrics.get_class(name)
        opts[name] = {"n_sequences": None} if "n_sequences" in cls.option_names() else {}
    return Protocol.from_dict({"base": "quick", "methods": METHODS, "metrics": opts})


def _run(x, mask, batch_size=64):
    model = pwm_model(_pfm(), x.shape[1])
    ensemble = [pwm_model(_pfm(), x.shape[1]) for _ in range(2)]
    return keras_iml.validate(model, x, ground_truth=mask, motifs=[_pfm()], ensemble=ensemble,
                              protocol=_protocol(), batch_size=batch_size, verbose=0)


@pytest.fixture(scope="module")
def runs():
    x, mask = _data()
    index = np.array([1, 4, 5, 11, 20, 21, 30, 33])
    return {"full": _run(x, mask), "batch7": _run(x, mask, batch_size=7),
            "subset": _run(x[index], mask[index]), "index": index}


def _rows(report, name):
    """Summary rows of one metric's rows (a pairwise metric: its consensus rows)."""
    metric = metrics.get(name)
    rows = [r if not metric.pairwise else f"{r}_vs_consensus" for r in metric.row_names()]
    return report.summary[report.summary["metric"].isin(rows)], metric


@pytest.mark.parametrize("name", FAST)
def test_the_oracle_map_beats_placebo(name, runs):
    report = runs["full"]
    rows, metric = _rows(report, name)
    label = next((lab for lab in ORACLE_LABELS if (rows["method"] == lab).any()), None)
    assert label is not None, f"{name} ran for none of {ORACLE_LABELS}: {report.not_run}"
    mine = rows[rows["method"] == label]
    sign = 1.0 if metric.higher_is_better else -1.0
    if not metric.placebo_comparable:  # judged on its threshold alone
        assert mine["placebo_value"].isna().all() and mine["passed"].astype(bool).all()
        return
    assert len(mine) and mine["placebo_value"].notna().all()
    if metric.placebo_ceiling:
        assert (sign * (mine["value"] - mine["placebo_value"]) <= 1e-9).all()
        assert set(mine["metric"]) <= set(report.tables["uninformative"]["metric"])
        assert not mine["informative"].astype(bool).any()
    else:
        assert (mine["beats_placebo"] == True).all(), mine.to_string()  # noqa: E712
        assert (sign * (mine["value"] - mine["placebo_value"]) > 0).all()


def _scores(report, name):
    rows, _ = _rows(report, name)
    frame = report.per_sequence
    frame = frame[frame["metric"].isin(set(rows["metric"])) & (frame["arm"] == "method")]
    return frame.set_index(["metric", "method", "seq"])["value"].sort_index()


@pytest.mark.parametrize("name", FAST)
def test_scores_do_not_depend_on_the_batch_size(name, runs):
    a, b = _scores(runs["full"], name), _scores(runs["batch7"], name)
    assert len(a)
    np.testing.assert_allclose(a.to_numpy(float), b.reindex(a.index).to_numpy(float),
                               rtol=1e-3, atol=1e-4, equal_nan=True)


@pytest.mark.parametrize("name", FAST)
def test_scores_do_not_depend_on_the_other_sequences(name, runs):
    metric = metrics.get(name)
    full, sub = _scores(runs["full"], name), _scores(runs["subset"], name)
    index = runs["index"]
    for (row, method), part in sub.groupby(level=[0, 1]):
        mine = part.to_numpy(float)
        theirs = full.loc[(row, method)].to_numpy(float)[index]
        if metric.dataset_relative:  # scaled by a statistic of the data: equal up to scale
            ok = np.isfinite(mine) & np.isfinite(theirs)
            if ok.sum() > 2 and np.ptp(mine[ok]) > 0:
                assert np.corrcoef(mine[ok], theirs[ok])[0, 1] > 0.999
            continue
        np.testing.assert_allclose(mine, theirs, rtol=1e-3, atol=1e-4, equal_nan=True,
                                   err_msg=f"{row} / {method}")


@pytest.mark.parametrize("name", ALL)
def test_config_round_trip(name):
    metric = metrics.get(name)
    again = metrics.get({"class_name": name, "config": metric.get_config()})
    assert type(again) is type(metric) and again.get_config() == metric.get_config()
    assert metrics.get(metrics.serialize(metric)).get_config() == metric.get_config()


@pytest.mark.parametrize("name", ALL)
def test_unknown_options_raise(name):
    with pytest.raises(ValueError, match="not_an_option"):
        metrics.get(name, not_an_option=1)


@pytest.mark.parametrize("name", [n for n in FAST if "n_sequences" in metrics.get_class(n).option_names()])
def test_bad_subsample_size_raises(name):
    with pytest.raises(ValueError, match="n_sequences"):
        Protocol.from_dict({"base": "quick", "metrics": {name: {"n_sequences": -3}}})
