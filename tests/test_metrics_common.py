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

import pytest

from keras_iml import metrics, testing

#: The oracle checks run for every metric declared ``quick``, and for every one
#: declaring ``placebo_ceiling`` (cheap on the oracle, and the only way that branch
#: is checked). Others (TF-MoDISco: minutes per method) get their config checks
#: here; their own tests (tests/test_motifs.py) cover them on planted data.
ALL = metrics.names()
FAST = [name for name in ALL
        if metrics.get_class(name).quick or metrics.get_class(name).placebo_ceiling]


@pytest.fixture(scope="module")
def runs():
    """One set of oracle runs with every quick metric, shared by their checks."""
    return testing.oracle_runs(FAST)


CHECKS = [(name, check_name) for name in ALL
          for check_name, _ in testing.metric_checks(name, runs={}, slow=name in FAST)]


@pytest.mark.parametrize("name, check_name", CHECKS, ids=[f"{n}-{c}" for n, c in CHECKS])
def test_metric(name, check_name, request):
    needs_runs = check_name in {"check_oracle_against_placebo", "check_batch_size",
                                "check_other_sequences"}
    shared = request.getfixturevalue("runs") if needs_runs else {}
    dict(testing.metric_checks(name, runs=shared, slow=name in FAST))[check_name]()


def test_a_placebo_ceiling_metric_is_checked_to_tie_its_placebo():
    """The ``placebo_ceiling`` branch runs: some quick metric declares it."""
    assert any(metrics.get_class(name).placebo_ceiling for name in FAST), (
        "no quick metric declares placebo_ceiling: the branch is untested")
