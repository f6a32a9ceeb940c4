"""Every registered fast path is taken on its declared example model, in memory and
loaded back from .keras, and equals the generic computation there
(keras_iml.testing.fast_path_checks)."""

import pytest

import keras_iml.zoo  # noqa: F401 - registers the zoo families' fast paths
from keras_iml import testing
from keras_iml.engine import backend, fast_paths

CHECKS = [(hook, name, check_name, check) for hook in fast_paths.HOOKS
          for name, _ in fast_paths.plugins(hook)
          for check_name, check in testing.fast_path_checks(hook, name)]


@pytest.mark.skipif(backend.name() != "tensorflow", reason="the fast paths run on TensorFlow")
@pytest.mark.parametrize("hook,name,check_name,check", CHECKS,
                         ids=[f"{h}-{n}-{c}" for h, n, c, _ in CHECKS])
def test_fast_path(hook, name, check_name, check):
    check()


def test_every_built_in_fast_path_is_checked():
    names = {(h, n) for h, n, _, _ in CHECKS}
    assert {("ism", "receptive_field"), ("path_gradients", "affine_first_layer"),
            ("ism", "deepbind_windows"), ("path_gradients", "deepbind_affine_split"),
            ("path_gradients", "deepbind_window_envelope"), ("activation_scale", "deepbind_scale")} <= names
