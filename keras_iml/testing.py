"""The common checks every attribution method and every metric must pass, as functions.

The repository's own suites (``tests/test_methods_common.py``,
``tests/test_metrics_common.py``) call these over every registered plugin, and a
plugin written outside the repository can call them the same way (as
scikit-learn's ``check_estimator``). The checks a plugin gets are chosen by the
hooks it declares, never by its name: a method declaring ``stochastic = True`` must
key its random draws by the sequence; one that does not must not draw at all; a
metric declaring ``placebo_ceiling`` must tie its placebo, the others must beat it.

Example:
    >>> from keras_iml import methods, testing
    >>> @methods.register("gradient_times_input")
    ... class GradientTimesInput(methods.AttributionMethod):
    ...     def attribute(self, function, x, rngs):
    ...         return {"values": function.gradient(x) * x}
    >>> testing.check_method("gradient_times_input")  # AssertionError on a failure

Each check is also available alone (``method_checks(name)``,
``metric_checks(name)`` give ``(check_name, function)`` pairs) to parametrise a
test suite with.
"""

import numpy as np

import keras
from keras_iml import dna
from keras_iml import methods as methods_lib
from keras_iml import metrics as metrics_lib
from keras_iml.explanations import explain
from keras_iml.models.pwm import pwm_model
from keras_iml.validation import Protocol, validate

__all__ = ["check_method", "method_checks", "check_metric", "metric_checks", "oracle_runs",
           "toy_cnn", "toy_multi_output", "toy_sequences", "oracle_pfm", "planted_sites",
           "ORACLE_SITE", "ORACLE_DECOY"]

ORACLE_SITE = "CACGTGAC"
ORACLE_DECOY = "GGATAAGT"
_TOL = {"rtol": 1e-4, "atol": 1e-5}


# -- models and data known by construction --------------------------------------------

def _seeded_weights(model, seed):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in model.get_weights()])
    return model


def toy_cnn(length=60, seed=0, filters=6, head_activation=None):
    """Conv1D+ReLU+MaxPool+Conv1D+ReLU+GlobalMaxPool+Dense(1), with seeded weights."""
    model = keras.Sequential([
        keras.Input((length, 4)),
        keras.layers.Conv1D(filters, 7, activation="relu"),
        keras.layers.MaxPooling1D(2),
        keras.layers.Conv1D(filters, 3, activation="relu"),
        keras.layers.GlobalMaxPooling1D(),
        keras.layers.Dense(1, activation=head_activation),
    ])
    return _seeded_weights(model, seed)


def toy_multi_output(length=60, seed=0):
    """A functional model with a 3-column head, with seeded weights."""
    inp = keras.Input((length, 4))
    h = keras.layers.Conv1D(5, 7, activation="relu")(inp)
    h = keras.layers.GlobalMaxPooling1D()(h)
    return _seeded_weights(keras.Model(inp, keras.layers.Dense(3)(h)), seed)


def toy_sequences(n=12, length=60, seed=1):
    """``n`` random one-hot sequences."""
    return dna.random_sequences(n, length, rng=seed)


def oracle_pfm(site=ORACLE_SITE):
    """A sharp PFM (0.94 on each consensus base) for PWM oracle models."""
    pfm = np.full((len(site), 4), 0.02)
    for i, base in enumerate(site):
        pfm[i, "ACGT".index(base)] = 0.94
    return pfm


def planted_sites(n=48, length=80, seed=0, decoy=False):
    """Random sequences with one planted ``ORACLE_SITE`` each (mask 1) and, with
    ``decoy``, one ``ORACLE_DECOY`` in the other half (mask 2).

    Returns:
        ``(x, mask)``: one-hot ``(n, length, 4)`` and int8 ``(n, length)``.
    """
    rng = np.random.default_rng(seed)
    x = dna.random_sequences(n, length, rng=rng)
    mask = np.zeros((n, length), np.int8)
    site, other = dna.one_hot([ORACLE_SITE, ORACLE_DECOY])
    width, half = len(ORACLE_SITE), length // 2
    for i in range(n):
        if not decoy:
            s = rng.integers(0, length - width)
            x[i, s:s + width], mask[i, s:s + width] = site, 1
            continue
        s, d = rng.integers(0, half - width), half + rng.integers(0, half - width)
        if rng.random() < 0.5:
            s, d = d, s
        x[i, s:s + width], x[i, d:d + width] = site, other
        mask[i, s:s + width], mask[i, d:d + width] = 1, 2
    return x, mask


# -- attribution methods ---------------------------------------------------------------

def _method_name(method):
    if isinstance(method, str):
        methods_lib.REGISTRY.get_class(method)  # a clear error for an unregistered name
        return method
    raise TypeError(f"`method` must be a registered method's name. Received: method={method!r}")


def _check_shape_and_batch_size(name):
    model, x = toy_cnn(), toy_sequences()
    a = explain(model, x, name, batch_size=5, seed=3, verbose=0)
    b = explain(model, x, name, batch_size=12, seed=3, verbose=0)
    assert a.values.shape == x.shape and a.values.dtype == np.float32, (a.values.shape, a.values.dtype)
    assert np.isfinite(a.values).all(), "non-finite attributions"
    assert np.abs(a.values).sum() > 0, "all-zero attributions"
    np.testing.assert_allclose(a.values, b.values, err_msg="depends on batch_size", **_TOL)
    if a.hypothetical is not None:
        np.testing.assert_allclose(a.hypothetical, b.hypothetical, **_TOL)
    assert a.method == name and a.params["seed"] == 3, (a.method, a.params)


def _check_seed(name):
    model, x = toy_cnn(), toy_sequences(4)
    a = explain(model, x, name, seed=11, verbose=0)
    b = explain(model, x, name, seed=11, verbose=0)
    np.testing.assert_array_equal(a.values, b.values, err_msg="not reproducible under a seed")
    c = explain(model, x, name, seed=None, verbose=0)
    d = explain(model, x, name, seed=c.params["seed"], verbose=0)
    np.testing.assert_allclose(c.values, d.values, rtol=1e-5, atol=1e-6,
                               err_msg="seed=None does not record the seed it drew")


def _snapshot(model):
    return ([w.copy() for w in model.get_weights()], [layer.trainable for layer in model.layers],
            model.compiled)


def _check_model_not_modified(name):
    model = toy_cnn()
    model.compile(optimizer="adam", loss="mse")
    model.layers[0].trainable = False
    before = _snapshot(model)
    explain(model, toy_sequences(3), name, seed=0, verbose=0)
    after = _snapshot(model)
    for w0, w1 in zip(before[0], after[0]):
        np.testing.assert_array_equal(w0, w1, err_msg="the model's weights changed")
    assert before[1:] == after[1:], "the model's trainable flags or compiled state changed"


def _check_target(name):
    multi, x = toy_multi_output(), toy_sequences(3)
    single = keras.Model(multi.inputs, keras.layers.Lambda(lambda t: t[:, 1:2])(multi.outputs[0]))
    a = explain(multi, x, name, target=1, seed=0, verbose=0)
    b = explain(single, x, name, seed=0, verbose=0)
    np.testing.assert_allclose(a.values, b.values, err_msg="target=1 is not output 1", **_TOL)
    for target in (7, None):
        try:
            explain(multi, x, name, target=target, verbose=0)
        except ValueError as err:
            assert "target" in str(err), err
        else:
            raise AssertionError(f"target={target!r} on a 3-output model did not raise ValueError")


def _check_config(name):
    method = methods_lib.get(name)
    again = methods_lib.get({"class_name": name, "config": method.get_config()})
    assert type(again) is type(method)
    assert again.get_config().keys() == method.get_config().keys()


def _check_draws_keyed_by_sequence(name):
    """Declared ``stochastic``: a sequence gets the same draws alone, in any batch,
    order or subsample; the seed changes them; identical copies get draws of their own."""
    model, x = toy_cnn(), toy_sequences()
    full = explain(model, x, name, seed=5, batch_size=5, verbose=0)
    close = {"rtol": 1e-5, "atol": 1e-6}
    np.testing.assert_allclose(explain(model, x[5:6], name, seed=5, verbose=0).values[0],
                               full.values[5], err_msg="alone != in the batch", **close)
    reverse = explain(model, x[::-1], name, seed=5, batch_size=7, verbose=0)
    np.testing.assert_allclose(reverse.values[::-1], full.values, err_msg="order matters", **close)
    index = [9, 2, 7]
    np.testing.assert_allclose(explain(model, x[index], name, seed=5, verbose=0).values,
                               full.values[index], err_msg="subsample differs", **close)
    other = explain(model, x[:3], name, seed=6, verbose=0)
    assert not np.allclose(other.values, full.values[:3]), "the seed changes nothing: not stochastic?"
    twice = explain(model, x[[4, 4]], name, seed=5, verbose=0)
    np.testing.assert_allclose(twice.values[0], full.values[4], **close)
    assert not np.allclose(twice.values[1], twice.values[0]), "identical copies share their draws"


def _check_draws_nothing(name):
    """Not declared ``stochastic``: the seed must not change the attributions."""
    model, x = toy_cnn(), toy_sequences(3)
    a, b = (explain(model, x, name, seed=s, verbose=0).values for s in (1, 2))
    np.testing.assert_array_equal(a, b, err_msg="the seed changes a method not declared stochastic")


def method_checks(method):
    """The checks that apply to a registered method, chosen by its declared hooks.

    Args:
        method: a registered method's name.

    Returns:
        list of ``(check_name, function)``; each function takes no argument and
        raises ``AssertionError`` on a failure.
    """
    name = _method_name(method)
    checks = [_check_shape_and_batch_size, _check_seed, _check_model_not_modified,
              _check_target, _check_config]
    stochastic = bool(methods_lib.get(name).stochastic)  # may depend on the defaults (a property)
    checks.append(_check_draws_keyed_by_sequence if stochastic else _check_draws_nothing)
    return [(check.__name__.lstrip("_"), lambda check=check: check(name)) for check in checks]


def check_method(method):
    """Runs every check of :func:`method_checks` on a registered method.

    Raises:
        AssertionError: naming the check that failed.
    """
    for check_name, check in method_checks(method):
        try:
            check()
        except AssertionError as err:
            raise AssertionError(f"{method}: {check_name} failed: {err}") from err


# -- metrics ---------------------------------------------------------------------------

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
