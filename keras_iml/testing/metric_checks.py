"""The common checks of a validation metric, chosen by its declared hooks, on a PWM
oracle whose own map is right by construction."""

import numpy as np

from keras_iml import metrics as metrics_lib
from keras_iml.models.pwm import pwm_model
from keras_iml.testing.toys import oracle_pfm, planted_sites
from keras_iml.validation import Protocol, validate

__all__ = ["metric_checks", "check_metric", "oracle_runs", "ORACLE_METHODS"]


#: The methods of the oracle runs: the oracle's own map first (ISM of a PWM model is
#: right by construction), then a stochastic map and one with a convergence delta for
#: metrics that need them.
ORACLE_METHODS = {"ism": {}, "saliency": {}, "input_x_gradient": {}, "smoothgrad": {"n_samples": 8},
                  "integrated_gradients": {"steps": 16}}
ORACLE_LABELS = ("ism", "smoothgrad", "integrated_gradients")
_SUBSET = np.array([1, 4, 5, 11, 20, 21, 30, 33])


def _oracle_protocol(names):
    opts = {}
    for name in names:
        cls = metrics_lib.get_class(name)
        opts[name] = {"n_sequences": None} if "n_sequences" in cls.option_names() else {}
    return Protocol.from_dict({"base": "quick", "methods": ORACLE_METHODS, "metrics": opts})


def _oracle_run(names, x, mask, batch_size=64):
    pfm = oracle_pfm()
    model = pwm_model(pfm, x.shape[1])
    ensemble = [pwm_model(pfm, x.shape[1]) for _ in range(2)]
    return validate(model, x, ground_truth=mask, motifs=[pfm], ensemble=ensemble,
                    protocol=_oracle_protocol(names), batch_size=batch_size, verbose=0)


def oracle_runs(names):
    """Validation runs of a PWM oracle (36 sequences with a planted site and a decoy)
    with the metrics ``names``: the data whole, again with ``batch_size=7``, and a
    subset of 8 sequences. One set of runs serves the checks of many metrics.

    Returns:
        dict: ``"full"``, ``"batch7"``, ``"subset"`` (ValidationReports) and ``"index"``
        (the subset's rows in the full data).
    """
    x, mask = planted_sites(36, 80, 0, decoy=True)
    return {"full": _oracle_run(names, x, mask), "batch7": _oracle_run(names, x, mask, 7),
            "subset": _oracle_run(names, x[_SUBSET], mask[_SUBSET]), "index": _SUBSET}


def _rows(report, name):
    """Summary rows of one metric (a pairwise metric: its consensus rows)."""
    metric = metrics_lib.get(name)
    rows = [r if not metric.pairwise else f"{r}_vs_consensus" for r in metric.row_names()]
    return report.summary[report.summary["metric"].isin(rows)], metric


def _check_oracle_against_placebo(name, runs):
    report = runs["full"]
    rows, metric = _rows(report, name)
    label = next((lab for lab in ORACLE_LABELS if (rows["method"] == lab).any()), None)
    assert label is not None, f"ran for none of {ORACLE_LABELS}: {report.not_run}"
    mine = rows[rows["method"] == label]
    sign = 1.0 if metric.higher_is_better else -1.0
    if not metric.placebo_comparable:  # declared: judged on its threshold alone
        assert mine["placebo_value"].isna().all() and mine["passed"].astype(bool).all(), mine.to_string()
        return
    assert len(mine) and mine["placebo_value"].notna().all(), mine.to_string()
    if metric.placebo_ceiling:  # declared: a map that knows nothing attains the best value
        assert (sign * (mine["value"] - mine["placebo_value"]) <= 1e-9).all(), mine.to_string()
        assert set(mine["metric"]) <= set(report.tables["uninformative"]["metric"])
        assert not mine["informative"].astype(bool).any()
    else:
        assert (mine["beats_placebo"] == True).all(), mine.to_string()  # noqa: E712
        assert (sign * (mine["value"] - mine["placebo_value"]) > 0).all(), mine.to_string()


def _scores(report, name):
    rows, _ = _rows(report, name)
    frame = report.per_sequence
    frame = frame[frame["metric"].isin(set(rows["metric"])) & (frame["arm"] == "method")]
    return frame.set_index(["metric", "method", "seq"])["value"].sort_index()


def _check_batch_size(name, runs):
    a, b = _scores(runs["full"], name), _scores(runs["batch7"], name)
    assert len(a), "no per-sequence scores"
    np.testing.assert_allclose(a.to_numpy(float), b.reindex(a.index).to_numpy(float), rtol=1e-3,
                               atol=1e-4, equal_nan=True, err_msg="depends on batch_size")


def _check_other_sequences(name, runs):
    metric = metrics_lib.get(name)
    full, sub = _scores(runs["full"], name), _scores(runs["subset"], name)
    for (row, method), part in sub.groupby(level=[0, 1]):
        mine = part.to_numpy(float)
        theirs = full.loc[(row, method)].to_numpy(float)[runs["index"]]
        if metric.dataset_relative:  # declared: scaled by a statistic of the data
            ok = np.isfinite(mine) & np.isfinite(theirs)
            if ok.sum() > 2 and np.ptp(mine[ok]) > 0:
                assert np.corrcoef(mine[ok], theirs[ok])[0, 1] > 0.999, f"{row} / {method}"
            continue
        np.testing.assert_allclose(mine, theirs, rtol=1e-3, atol=1e-4, equal_nan=True,
                                   err_msg=f"{row} / {method} depends on the other sequences")


def _check_metric_config(name):
    metric = metrics_lib.get(name)
    again = metrics_lib.get({"class_name": name, "config": metric.get_config()})
    assert type(again) is type(metric) and again.get_config() == metric.get_config()
    assert metrics_lib.get(metrics_lib.serialize(metric)).get_config() == metric.get_config()
    try:
        metrics_lib.get(name, not_an_option=1)
    except ValueError as err:
        assert "not_an_option" in str(err), err
    else:
        raise AssertionError("an unknown option did not raise ValueError")


def _check_subsample_size(name):
    try:
        Protocol.from_dict({"base": "quick", "metrics": {name: {"n_sequences": -3}}})
    except ValueError as err:
        assert "n_sequences" in str(err), err
    else:
        raise AssertionError("n_sequences=-3 did not raise ValueError")


def metric_checks(metric, runs=None, *, slow=False):
    """The checks that apply to a registered metric, chosen by its declared hooks.

    Args:
        metric: a registered metric's name.
        runs: :func:`oracle_runs` that included the metric (built on first use of a
            check when None: one set of runs for this metric alone).
        slow: also run the oracle checks of a metric not declared ``quick``.

    Returns:
        list of ``(check_name, function)``; each function takes no argument and
        raises ``AssertionError`` on a failure.
    """
    if not isinstance(metric, str):
        raise TypeError(f"`metric` must be a registered metric's name. Received: metric={metric!r}")
    cls = metrics_lib.get_class(metric)
    cache = {} if runs is None else {"runs": runs}

    def with_runs(check):
        def run():
            if "runs" not in cache:
                cache["runs"] = oracle_runs([metric])
            check(metric, cache["runs"])
        return run

    checks = [("check_metric_config", lambda: _check_metric_config(metric))]
    if "n_sequences" in cls.option_names():
        checks.append(("check_subsample_size", lambda: _check_subsample_size(metric)))
    if cls.quick or slow:
        checks += [("check_oracle_against_placebo", with_runs(_check_oracle_against_placebo)),
                   ("check_batch_size", with_runs(_check_batch_size)),
                   ("check_other_sequences", with_runs(_check_other_sequences))]
    return checks


def check_metric(metric, runs=None, *, slow=False):
    """Runs every check of :func:`metric_checks` on a registered metric.

    Raises:
        AssertionError: naming the check that failed.
    """
    for check_name, check in metric_checks(metric, runs, slow=slow):
        try:
            check()
        except AssertionError as err:
            raise AssertionError(f"{metric}: {check_name} failed: {err}") from err
