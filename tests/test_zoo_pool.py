"""ModelPool and shared function stores: reuse across models changes no result."""

import numpy as np
import pandas as pd
import pytest

import keras
import keras_iml
from conftest import make_cnn
from keras_iml.metrics.randomisation import randomised_cascade
from keras_iml.zoo.batch.pool import ModelPool, architecture_key

PROTOCOL = {
    "base": "quick",
    "methods": {"saliency": {}, "deeplift_shap": {"n_references": 4}},
    "metrics": ["randomisation", "pwm_oracle", "shift_equivariance", "deletion"],
    "thresholds": {}, "n_bootstrap": 20,
}


def _renamed(model, name):
    copy = keras.Sequential([keras.Input(model.input_shape[1:])] + [
        layer.__class__.from_config(layer.get_config()) for layer in model.layers], name=name)
    copy.set_weights(model.get_weights())
    return copy


def test_architecture_key_ignores_names_and_weights_only():
    a, b = make_cnn(seed=0), _renamed(make_cnn(seed=1), "another_name")
    assert architecture_key(a) == architecture_key(b)
    assert architecture_key(a) != architecture_key(make_cnn(seed=0, filters=5))
    assert architecture_key(a) != architecture_key(make_cnn(length=61))


def test_pool_copies_weights_into_its_own_model():
    a, b = make_cnn(seed=0), make_cnn(seed=1)
    before = [w.copy() for w in a.get_weights()]
    pool = ModelPool()
    pa, store_a = pool.adopt(a)
    pb, store_b = pool.adopt(b)
    assert pa is pb and store_a is store_b and pa is not a and len(pool) == 1
    x = keras_iml.dna.random_sequences(5, 60, rng=0)
    np.testing.assert_allclose(np.asarray(pb(x)), np.asarray(b(x)), atol=1e-6)
    for w0, w1 in zip(before, a.get_weights()):  # the first model was never overwritten
        np.testing.assert_array_equal(w0, w1)
    pool.adopt(make_cnn(seed=0, filters=5))
    assert len(pool) == 2
    with pytest.raises(ValueError, match="max_architectures"):
        ModelPool(max_architectures=0)


def test_pool_drops_the_least_recently_used_architecture():
    pool = ModelPool(max_architectures=1)
    first, _ = pool.adopt(make_cnn(seed=0))
    pool.adopt(make_cnn(seed=0, filters=5))
    again, _ = pool.adopt(make_cnn(seed=1))
    assert len(pool) == 1 and again is not first


def test_randomised_cascade_reusing_copies_draws_the_same_weights():
    model = make_cnn(seed=3)
    fresh = randomised_cascade(model, np.random.default_rng(7))
    other = randomised_cascade(make_cnn(seed=4), np.random.default_rng(1))
    reused = randomised_cascade(model, np.random.default_rng(7), copies=other)
    assert [name for name, _ in reused] == [name for name, _ in fresh]
    assert [id(c) for _, c in reused] == [id(c) for _, c in other]  # overwritten, not cloned
    for (_, a), (_, b) in zip(fresh, reused):
        for wa, wb in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(wa, wb)


def test_validating_through_a_pool_gives_the_results_of_a_fresh_run():
    """Model B validated after model A in one pool == B validated on its own."""
    x = keras_iml.dna.random_sequences(8, 60, rng=2)
    a, b = make_cnn(seed=0), make_cnn(seed=5)
    pool = ModelPool()
    model, store = pool.adopt(a)
    keras_iml.validate(model, x, protocol=PROTOCOL, seed=0, verbose=0, functions=store)
    size = len(store)
    model, store = pool.adopt(b)
    pooled = keras_iml.validate(model, x, protocol=PROTOCOL, seed=0, verbose=0, functions=store)
    assert len(store) == size  # nothing new was built or traced for model B
    fresh = keras_iml.validate(b, x, protocol=PROTOCOL, seed=0, verbose=0)
    first = keras_iml.validate(a, x, protocol=PROTOCOL, seed=0, verbose=0)
    cols = ["metric", "method", "value"]
    pd.testing.assert_frame_equal(pooled.summary[cols], fresh.summary[cols], atol=1e-6)
    # and the reuse did not simply return model A's numbers
    assert not np.allclose(first.summary["value"].to_numpy(float), fresh.summary["value"].to_numpy(float),
                           equal_nan=True)


def test_validate_rejects_a_cache_that_is_not_a_trace_cache(cnn, onehot):
    with pytest.raises(TypeError, match="`cache` must be a keras_iml.TraceCache"):
        keras_iml.validate(cnn, onehot[:4], protocol="quick", verbose=0, cache=[])


def test_the_old_functions_store_still_works_with_a_deprecation_warning(cnn, onehot):
    store = {}
    with pytest.warns(DeprecationWarning, match="functions"):
        a = keras_iml.explain(cnn, onehot[:4], "saliency", functions=store, verbose=0)
    assert isinstance(store["keras_iml.trace_cache"], keras_iml.TraceCache)
    b = keras_iml.explain(cnn, onehot[:4], "saliency", cache=store["keras_iml.trace_cache"], verbose=0)
    np.testing.assert_array_equal(a.values, b.values)
