"""Every registered input kind passes the common checks (keras_iml.testing.input_kind_checks)."""

import pytest

from keras_iml import testing
from keras_iml.engine import input_kinds

CHECKS = [(name, check_name, check) for name in input_kinds.names()
          for check_name, check in testing.input_kind_checks(name)]


@pytest.mark.parametrize("name,check_name,check", CHECKS, ids=[f"{n}-{c}" for n, c, _ in CHECKS])
def test_input_kind(name, check_name, check):
    check()


def test_the_built_in_kinds_and_their_order():
    assert input_kinds.names()[:2] == ["onehot_dna", "tokens"]
    assert input_kinds.describe_kinds().startswith("one-hot DNA (N, L, 4), or integer tokens (N, L)")
