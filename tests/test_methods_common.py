"""One suite run over every registered attribution method (scikit-learn style).

A new method registered with ``@keras_iml.methods.register`` is covered here
automatically: values are finite float32 of the input's shape, results do not depend
on the batch size, are reproducible under a seed, never modify the model, and
``target`` selects the same function as a model that only has that output.
"""

import numpy as np
import pytest

import keras
import keras_iml
from keras_iml import methods

from conftest import make_cnn, make_multi_output

ALL = methods.names()


def _snapshot(model):
    return (
        [w.copy() for w in model.get_weights()],
        [layer.trainable for layer in model.layers],
        model.compiled,
    )


@pytest.mark.parametrize("name", ALL)
def test_shape_dtype_finite_and_batch_invariance(name, onehot):
    model = make_cnn()
    a = keras_iml.explain(model, onehot, name, batch_size=5, seed=3, verbose=0)
    b = keras_iml.explain(model, onehot, name, batch_size=12, seed=3, verbose=0)
    assert a.values.shape == onehot.shape and a.values.dtype == np.float32
    assert np.isfinite(a.values).all()
    assert np.abs(a.values).sum() > 0, "all-zero attributions"
    np.testing.assert_allclose(a.values, b.values, rtol=1e-4, atol=1e-5)
    if a.hypothetical is not None:
        np.testing.assert_allclose(a.hypothetical, b.hypothetical, rtol=1e-4, atol=1e-5)
    assert a.method == name and a.params["seed"] == 3


@pytest.mark.parametrize("name", ALL)
def test_deterministic_under_seed(name, onehot):
    model = make_cnn()
    a = keras_iml.explain(model, onehot[:4], name, seed=11, verbose=0)
    b = keras_iml.explain(model, onehot[:4], name, seed=11, verbose=0)
    np.testing.assert_array_equal(a.values, b.values)
    c = keras_iml.explain(model, onehot[:4], name, seed=None, verbose=0)
    d = keras_iml.explain(model, onehot[:4], name, seed=c.params["seed"], verbose=0)
    np.testing.assert_allclose(c.values, d.values, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ALL)
def test_model_not_modified(name, onehot):
    model = make_cnn()
    model.compile(optimizer="adam", loss="mse")
    model.layers[0].trainable = False
    before = _snapshot(model)
    keras_iml.explain(model, onehot[:3], name, seed=0, verbose=0)
    after = _snapshot(model)
    for w0, w1 in zip(before[0], after[0]):
        np.testing.assert_array_equal(w0, w1)
    assert before[1:] == after[1:]


@pytest.mark.parametrize("name", ALL)
def test_target_selects_one_output(name, onehot):
    multi = make_multi_output()
    # A single-output model equal to column 1 of the multi-output one.
    single = keras.Model(multi.inputs, keras.layers.Lambda(lambda t: t[:, 1:2])(multi.outputs[0]))
    a = keras_iml.explain(multi, onehot[:3], name, target=1, seed=0, verbose=0)
    b = keras_iml.explain(single, onehot[:3], name, seed=0, verbose=0)
    np.testing.assert_allclose(a.values, b.values, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="target"):
        keras_iml.explain(multi, onehot[:3], name, target=7, verbose=0)
    with pytest.raises(ValueError, match="target"):
        keras_iml.explain(multi, onehot[:3], name, verbose=0)


@pytest.mark.parametrize("name", ALL)
def test_config_round_trip(name):
    method = methods.get(name)
    again = methods.get({"class_name": name, "config": method.get_config()})
    assert type(again) is type(method)
    assert again.get_config().keys() == method.get_config().keys()


STOCHASTIC = [n for n in ALL if methods.get(n).stochastic]


@pytest.mark.parametrize("name", STOCHASTIC)
def test_random_draws_are_keyed_by_the_sequence_not_its_position(name, onehot):
    """A sequence gets the same attributions alone, in any batch, order or subsample."""
    model = make_cnn()
    full = keras_iml.explain(model, onehot, name, seed=5, batch_size=5, verbose=0)
    alone = keras_iml.explain(model, onehot[5:6], name, seed=5, verbose=0)
    np.testing.assert_allclose(alone.values[0], full.values[5], rtol=1e-5, atol=1e-6)
    reverse = keras_iml.explain(model, onehot[::-1], name, seed=5, batch_size=7, verbose=0)
    np.testing.assert_allclose(reverse.values[::-1], full.values, rtol=1e-5, atol=1e-6)
    index = [9, 2, 7]
    sub = keras_iml.explain(model, onehot[index], name, seed=5, verbose=0)
    np.testing.assert_allclose(sub.values, full.values[index], rtol=1e-5, atol=1e-6)
    # the draws do change with the seed, and identical copies get draws of their own
    other = keras_iml.explain(model, onehot[:3], name, seed=6, verbose=0)
    assert not np.allclose(other.values, full.values[:3])
    twice = keras_iml.explain(model, onehot[[4, 4]], name, seed=5, verbose=0)
    np.testing.assert_allclose(twice.values[0], full.values[4], rtol=1e-5, atol=1e-6)
    assert not np.allclose(twice.values[1], twice.values[0])


def test_the_stochastic_methods_are_the_ones_that_draw():
    assert set(STOCHASTIC) == {"deeplift_shap", "expected_gradients", "occlusion", "placebo",
                               "smoothgrad"}
