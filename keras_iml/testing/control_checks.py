"""The common checks of a control arm, chosen by its declared hooks, on a PWM oracle
with planted sites (where what a map should score is known by construction)."""

import numpy as np

from keras_iml.models.pwm import pwm_model
from keras_iml.testing.toys import oracle_pfm, planted_sites
from keras_iml.validation import Protocol, controls, validate

__all__ = ["control_checks", "check_control"]

#: The metric an arm is judged on: where the planted site is, known by construction.
JUDGE = "localisation_auroc"


def _oracle_run(name, options):
    x, mask = planted_sites(24, 80, 3)
    others = {other: False for other in controls.names() if other not in (name, "placebo")}
    protocol = Protocol.from_dict({
        "base": "quick", "methods": {"saliency": {}}, "metrics": [JUDGE], "n_bootstrap": 50,
        "controls": {**others, "placebo": True, name: options or True}})
    return validate(pwm_model(oracle_pfm(), 80), x, ground_truth=mask, protocol=protocol, verbose=0)


def _arm_rows(report, name):
    kind = controls.REGISTRY.get_class(name).arm_kind()
    arms = report.controls[report.controls["kind"] == kind]
    summary = report.summary[report.summary["method"].isin(set(arms["arm"]))]
    return arms, summary


def _check_declarations(name, options):
    cls = controls.REGISTRY.get_class(name)
    assert cls.expect in controls.EXPECT, f"expect={cls.expect!r}"
    arm = controls.get(name, **options)
    again = controls.get({"class_name": name, "config": arm.get_config()})
    assert type(again) is type(arm) and again.get_config() == arm.get_config()
    checked = Protocol.from_dict({"base": "quick", "controls": {name: options or True}}).controls
    assert checked[name], "the protocol switched the arm off"
    assert Protocol.from_dict({"base": "quick", "controls": {name: False}}).controls[name] is False


def _check_made_and_labelled(name, runs):
    arms, summary = _arm_rows(runs["a"], name)
    assert len(arms), f"no arm was made: {runs['a'].not_run}"
    bad = [label for label in arms["arm"] if not str(label).startswith(f"{name}:")]
    assert not bad, f"an arm's label must start with '{name}:' (its class). Received: {bad}"
    expect = controls.REGISTRY.get_class(name).expect
    assert (arms["expect"] == expect).all() and arms["seed"].notna().all()
    assert len(summary) and (summary["arm"] == arms["kind"].iloc[0]).all(), "not in the summary"


def _check_expectation(name, runs):
    """A positive arm beats its placebo where the site is; a negative one does not pass."""
    _, summary = _arm_rows(runs["a"], name)
    rows = summary[summary["metric"] == JUDGE]
    assert len(rows), f"the arm has no {JUDGE} row"
    if controls.REGISTRY.get_class(name).expect == "positive":
        assert (rows["beats_placebo"] == True).all(), rows.to_string()  # noqa: E712
    else:
        assert not rows["passed"].astype(bool).any(), rows.to_string()


def _check_reproducible(name, runs):
    a, b = (r.per_sequence for r in (runs["a"], runs["b"]))
    labels = set(_arm_rows(runs["a"], name)[0]["arm"])
    a, b = (f[f["method"].isin(labels)].sort_values(["metric", "method", "seq"]) for f in (a, b))
    np.testing.assert_allclose(a["value"].to_numpy(float), b["value"].to_numpy(float),
                               equal_nan=True, err_msg="the arm is not reproducible under the seed")


def control_checks(control, options=None):
    """The checks of a registered control arm.

    Args:
        control: a registered control arm's name.
        options: its options in the protocol (None: its defaults).

    Returns:
        list of ``(check_name, function)``; each function takes no argument and
        raises ``AssertionError`` on a failure.
    """
    if not isinstance(control, str):
        raise TypeError(f"`control` must be a registered arm's name. Received: control={control!r}")
    controls.REGISTRY.get_class(control)
    options = dict(options or {})
    cache = {}

    def with_runs(check):
        def run():
            if not cache:
                cache.update(a=_oracle_run(control, options), b=_oracle_run(control, options))
            check(control, cache)
        return run

    return [("check_declarations", lambda: _check_declarations(control, options)),
            ("check_made_and_labelled", with_runs(_check_made_and_labelled)),
            ("check_expectation", with_runs(_check_expectation)),
            ("check_reproducible", with_runs(_check_reproducible))]


def check_control(control, options=None):
    """Runs every check of :func:`control_checks` on a registered control arm.

    Raises:
        AssertionError: naming the check that failed.
    """
    for check_name, check in control_checks(control, options):
        try:
            check()
        except AssertionError as err:
            raise AssertionError(f"{control}: {check_name} failed: {err}") from err
