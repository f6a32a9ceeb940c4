"""One suite run over every registered control arm (as over every method and metric):
the checks of keras_iml.testing.control_checks, chosen by the arm's declared hooks."""

import pytest

from keras_iml import testing
from keras_iml.validation import controls

CHECKS = [(name, check_name) for name in controls.names()
          for check_name, _ in testing.control_checks(name)]
_CHECKS = {}


def _checks(name):
    if name not in _CHECKS:  # one set of oracle runs per arm, shared by its checks
        _CHECKS[name] = dict(testing.control_checks(name))
    return _CHECKS[name]


@pytest.mark.parametrize("name, check_name", CHECKS, ids=[f"{n}-{c}" for n, c in CHECKS])
def test_control(name, check_name):
    _checks(name)[check_name]()
