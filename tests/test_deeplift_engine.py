"""DeepLIFT engine internals: the one-pass max-pooling rule, chunking with the shared
input pass, and pairing inputs with references when layers move the batch axis."""

import warnings

import numpy as np
import pytest

import keras
from keras_iml import dna
import keras_iml
from keras_iml.methods import _deeplift_rules

from conftest import _seeded_weights, make_cnn

L = 40


def _explain(model, x, method, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no convergence warning is expected anywhere here
        return keras_iml.explain(model, x, method, verbose=0, **kw)


def _tie_pool_model(length):
    """Conv1D(1, 1) scoring A = C = 1, G = 2, T = 0.5, ReLU, MaxPooling1D(3) (one base left
    over at the end), Flatten, Dense(1) with unit weights: windows such as ACA tie."""
    model = keras.Sequential([
        keras.Input((length, 4)), keras.layers.Conv1D(1, 1, use_bias=False, activation="relu"),
        keras.layers.MaxPooling1D(3), keras.layers.Flatten(), keras.layers.Dense(1),
    ])
    n_windows = length // 3
    model.set_weights([np.array([1.0, 1.0, 2.0, 0.5], np.float32).reshape(1, 4, 1),
                       np.ones((n_windows, 1), np.float32), np.zeros(1, np.float32)])
    return model


def _pool2d_model():
    """(L, 4) seen as an image: Conv2D + ReLU, MaxPooling2D((2, 2)) with leftover rows."""
    model = keras.Sequential([
        keras.Input((L, 4)), keras.layers.Reshape((L, 4, 1)),
        keras.layers.Conv2D(3, (3, 2), activation="relu"), keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Flatten(), keras.layers.Dense(1),
    ])
    return _seeded_weights(model, 3)


@pytest.mark.parametrize("case", ["ties_and_tail", "pool2d"])
def test_tiled_maxpool_rule_equals_maxpoolgrad_routing(case, monkeypatch):
    """The one-pass window rule for non-overlapping pooling routes exactly as the
    general rule (two MaxPoolGrad calls): same argmax (the first in the window),
    same values, exact convergence, also with tied maxima and a leftover tail."""
    if case == "ties_and_tail":
        length = 10
        model = _tie_pool_model(length)
        x = dna.one_hot(["ACAGTTCCAT", "CACTTTGACA", "GAGACAATCC"])
        refs = dna.one_hot(["CAATTCACGA", "AACCTTGGAC", "TTTTACACAG"])
        kw = {"references": refs, "n_references": 3}
    else:
        model = _pool2d_model()
        x = dna.random_sequences(3, L, rng=13)
        kw = {"n_references": 4, "seed": 3}
    tiled = _explain(model, x, "deeplift_shap", **kw)
    monkeypatch.setattr(_deeplift_rules, "TILED_MAXPOOL", False)
    general = _explain(model, x, "deeplift_shap", **kw)
    assert np.abs(tiled.values).max() > 1e-3
    np.testing.assert_allclose(tiled.values, general.values, atol=1e-6)
    np.testing.assert_allclose(tiled.hypothetical, general.hypothetical, atol=1e-6)
    assert np.abs(tiled.convergence_delta).max() < 1e-5


def test_chunking_and_shared_input_pass_do_not_change_results():
    """Each input's forward pass is shared by its references; chunks of inputs of any
    size (also one input per call, and a partial last chunk) give the same values."""
    model = make_cnn(length=L)
    x = dna.random_sequences(5, L, rng=14)
    base = _explain(model, x, "deeplift_shap", n_references=3, seed=4)
    for chunk_size in (1, 7, 1000):
        other = _explain(model, x, "deeplift_shap", n_references=3, seed=4, chunk_size=chunk_size)
        np.testing.assert_allclose(other.values, base.values, atol=1e-6)
        np.testing.assert_allclose(other.convergence_delta, base.convergence_delta, atol=1e-6)


def _assert_shap_is_mean_of_single_references(model, x, refs):
    """DeepLIFT-SHAP over ``refs`` (each input's forward pass shared by all of them)
    equals the mean of one plain DeepLIFT run per reference, and converges."""
    shap_like = _explain(model, x, "deeplift_shap", references=refs, n_references=len(refs))
    singles = [_explain(model, x, "deeplift", baseline=r) for r in refs]
    assert np.abs(shap_like.values).max() > 1e-3
    np.testing.assert_allclose(shap_like.values, np.mean([a.values for a in singles], 0),
                               atol=1e-6)
    assert np.abs(shap_like.convergence_delta).max() < 1e-5


def test_batch_merged_with_another_axis_still_pairs_rows():
    """A ReLU applied with the batch merged into the rows (reshape (B, L, 4) -> (B*L, 4))
    keeps the batch outermost: pairing input and references stays right."""
    layers = keras.layers
    inp = keras.Input((L, 4))
    h = layers.Lambda(lambda t: keras.ops.reshape(t, (-1, 4)))(inp)
    h = layers.Dense(3, activation="relu")(h)
    h = layers.Lambda(lambda t: keras.ops.reshape(t, (-1, L, 3)))(h)
    h = layers.Conv1D(4, 3, activation="relu")(h)
    model = _seeded_weights(keras.Model(inp, layers.Dense(1)(layers.GlobalMaxPooling1D()(h))), 4)
    _assert_shap_is_mean_of_single_references(model, dna.random_sequences(3, L, rng=15),
                                              dna.random_sequences(4, L, rng=16))


def test_per_step_layer_that_moves_the_batch_axis_and_back_is_supported():
    """Transpose time first, unstack the steps (batch outermost again), ReLU per step,
    stack and transpose back (how legacy TimeDistributed layers are written): the
    rules still pair inputs and references right."""
    layers = keras.layers

    def per_step(t):
        steps = keras.ops.unstack(keras.ops.transpose(t, (1, 0, 2)), num=9, axis=0)
        return keras.ops.transpose(keras.ops.stack([keras.ops.relu(s) for s in steps]), (1, 0, 2))

    inp = keras.Input((L, 4))
    h = layers.Lambda(per_step)(layers.Conv1D(3, 5, strides=4)(inp))  # 9 steps
    h = layers.MaxPooling1D(2)(h)
    model = _seeded_weights(keras.Model(inp, layers.Dense(1)(layers.GlobalMaxPooling1D()(h))), 6)
    _assert_shap_is_mean_of_single_references(model, dna.random_sequences(3, L, rng=17),
                                              dna.random_sequences(3, L, rng=18))


def test_nonlinearity_on_a_moved_batch_axis_raises(onehot):
    layers = keras.layers
    inp = keras.Input((L, 4))
    h = layers.Lambda(lambda t: keras.ops.transpose(t, (1, 0, 2)), name="to_length_major")(inp)
    h = layers.Activation("relu", name="moved_relu")(h)
    h = layers.Lambda(lambda t: keras.ops.transpose(t, (1, 0, 2)))(h)
    h = layers.Permute((2, 1))(layers.Conv1D(3, 5, activation="relu")(h))  # fine: batch stays
    model = keras.Model(inp, layers.Dense(1)(layers.GlobalMaxPooling1D()(h)))
    with pytest.raises(ValueError, match=r"Relu \(after an operation that moves the batch "
                                         r"axis\) in layer\(s\) \['moved_relu'\]"):
        keras_iml.explain(model, onehot[:2, :L], "deeplift_shap", n_references=2, verbose=0,
                          seed=0)
