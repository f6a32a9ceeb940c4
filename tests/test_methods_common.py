"""One suite run over every registered attribution method (scikit-learn style).

The checks live in :mod:`keras_iml.testing` (``method_checks``), so a method written
outside the repository passes the same ones; each method gets the checks its
declared hooks call for: values are finite float32 of the input's shape, do not
depend on the batch size, are reproducible under a seed, never modify the model,
``target`` selects the same function as a model that only has that output, the
config round-trips, and a ``stochastic`` method keys its draws by the sequence while
any other draws nothing.
"""

import pytest

from keras_iml import methods, testing

CHECKS = [(name, check_name, check) for name in methods.names()
          for check_name, check in testing.method_checks(name)]


@pytest.mark.parametrize("name, check_name, check", CHECKS,
                         ids=[f"{name}-{check_name}" for name, check_name, _ in CHECKS])
def test_method(name, check_name, check):
    check()


def test_every_method_gets_the_draw_check_its_hook_calls_for():
    for name in methods.names():
        names = {check_name for check_name, _ in testing.method_checks(name)}
        stochastic = bool(methods.get(name).stochastic)
        assert ("check_draws_keyed_by_sequence" in names) == stochastic
        assert ("check_draws_nothing" in names) == (not stochastic)
