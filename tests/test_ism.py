"""ISM: oracle values on linear models, agreement with a naive ``model.predict`` loop, and
the receptive-field fast path equal to the general path on many architectures."""

import copy

import numpy as np
import pytest

import keras
from keras_iml import dna
import keras_iml
from keras_iml.engine import ModelFunction
from keras_iml.methods import _fast_ism, ism

from conftest import _seeded_weights, make_cnn, make_linear, make_multi_output

L = keras.layers


def naive_ism(model, x, transform=lambda p: p[:, 0]):
    """values[n, i, b] = f(x with base b at i) - f(x), one model.predict per sequence."""
    out = np.zeros(x.shape, np.float64)
    for n, seq in enumerate(x):
        mutants = np.repeat(seq[None], seq.shape[0] * 4, axis=0).reshape(-1, 4, *seq.shape)
        for i in range(seq.shape[0]):
            mutants[i, :, i, :] = np.eye(4)
        preds = transform(model.predict(mutants.reshape(-1, *seq.shape), verbose=0))
        ref = transform(model.predict(seq[None], verbose=0))[0]
        out[n] = preds.reshape(seq.shape) - ref
    return np.where(x == 1, 0.0, out)


def with_ambiguous(x):
    """Copies x and makes position 3 an N (0.25) and position 5 all-zero in sequence 0."""
    x = x.copy()
    x[0, 3] = 0.25
    x[0, 5] = 0.0
    return x


def test_linear_model_equals_weight_differences():
    model = make_linear(length=20)
    w = model.get_weights()[0].reshape(20, 4)
    x = with_ambiguous(dna.random_sequences(4, 20, rng=2))
    attr = keras_iml.explain(model, x, "ism", verbose=0)
    # f(x with e_b at i) - f(x) = W[i, b] - x_i . W[i]: weight differences at one-hot
    # positions, W[i, b] - mean(W[i]) at N, W[i, b] at an all-zero position.
    expected = w[None] - np.sum(x * w[None], axis=-1, keepdims=True)
    np.testing.assert_allclose(attr.values, expected, atol=1e-5)
    assert np.all(attr.values[x == 1] == 0)
    np.testing.assert_array_equal(attr.hypothetical, attr.values)


def test_linear_conv_model_fast_path_equals_kernel_differences():
    # f(x) = mean_j conv(x)[j]: each position i contributes sum of the kernel taps that
    # see it, divided by the output length (taps cut off at the sequence ends).
    length, k = 30, 5
    model = _seeded_weights(keras.Sequential([keras.Input((length, 4)), L.Conv1D(1, k),
                                              L.GlobalAveragePooling1D()]), 4)
    kernel = model.get_weights()[0][:, :, 0]
    per_pos = np.zeros((length, 4))
    for j in range(length - k + 1):
        per_pos[j : j + k] += kernel
    per_pos /= length - k + 1
    x = with_ambiguous(dna.random_sequences(3, length, rng=5))
    assert _fast_ism.build(ModelFunction(model), length) is not None
    attr = keras_iml.explain(model, x, "ism", verbose=0)
    expected = per_pos[None] - np.sum(x * per_pos[None], axis=-1, keepdims=True)
    np.testing.assert_allclose(attr.values, expected, atol=1e-5)


@pytest.mark.parametrize("fast", [True, False])
def test_matches_naive_predict_loop(cnn, onehot, fast):
    x = with_ambiguous(onehot[:4])
    attr = keras_iml.explain(cnn, x, "ism", fast=fast, verbose=0)
    np.testing.assert_allclose(attr.values, naive_ism(cnn, x), atol=1e-5)
    assert np.abs(attr.values).max() > 0.05
    if fast:
        assert _fast_ism.build(ModelFunction(cnn), 60) is not None


def _chain(length, *layers):
    return keras.Sequential([keras.Input((length, 4)), *layers])


def _functional_chain(length):
    inp = keras.Input((length, 4))
    h = L.Conv1D(5, 5, padding="same")(inp)
    h = L.Activation("relu")(h)
    h = L.LayerNormalization()(h)
    h = L.Dense(3, activation="tanh")(h)  # position-wise on (N, L, C)
    h = L.AveragePooling1D(3)(h)
    h = L.Flatten()(h)
    return keras.Model(inp, L.Dense(1)(h))


def _batchnorm_model(length):
    model = _chain(length, L.BatchNormalization(), L.Conv1D(4, 5, strides=2, padding="same"),
                   L.BatchNormalization(), L.ReLU(), L.Dropout(0.5), L.MaxPooling1D(3),
                   L.GlobalMaxPooling1D(), L.Dense(1))
    rng = np.random.default_rng(7)  # non-trivial moving statistics
    model.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") if w.ndim == 1
                       else rng.normal(0, 0.3, w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


# name -> (builder(length), expected head mode of the fast path)
ARCHITECTURES = {
    "valid_pool3_not_dividing": (lambda n: _chain(
        n, L.Conv1D(6, 7, activation="relu"), L.MaxPooling1D(3),
        L.Conv1D(6, 3, activation="relu"), L.GlobalMaxPooling1D(), L.Dense(1)), "max"),
    "same_padding_strides": (lambda n: _chain(
        n, L.Conv1D(5, 6, strides=2, padding="same"),
        L.MaxPooling1D(3, strides=2, padding="same"),
        L.Conv1D(4, 4, strides=3, padding="same"), L.GlobalAveragePooling1D(),
        L.Dense(2)), "avg"),
    "dilation_causal_avgpool_same": (lambda n: _chain(
        n, L.Conv1D(4, 3, dilation_rate=3, padding="causal", activation="elu"),
        L.AveragePooling1D(4, strides=3, padding="same"),
        L.Conv1D(4, 3, dilation_rate=2, activation="relu"), L.GlobalMaxPooling1D(),
        L.Dense(1)), "max"),
    "flatten_dense_tail": (lambda n: _chain(
        n, L.Conv1D(4, 5, activation="relu"), L.MaxPooling1D(4), L.Flatten(),
        L.Dense(8, activation="relu"), L.Dense(1)), None),
    "batchnorm_leading_pointwise": (_batchnorm_model, "max"),
    "functional_chain_pointwise_dense": (_functional_chain, None),
    "nested_sequential": (lambda n: _chain(
        n, keras.Sequential([L.Conv1D(4, 5, activation="relu"), L.MaxPooling1D(2)]),
        L.Conv1D(3, 3), L.Softmax(), L.GlobalMaxPooling1D(), L.Dense(1)), "max"),
    "unknown_layer_starts_tail": (lambda n: _chain(
        n, L.Conv1D(4, 5, activation="relu"), L.Lambda(lambda t: t * 2.0),
        L.Conv1D(3, 3), L.GlobalMaxPooling1D(), L.Dense(1)), "max-unknown"),
}


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_fast_path_equals_general_path(name):
    build, head = ARCHITECTURES[name]
    length = 41
    model = build(length)
    if name != "batchnorm_leading_pointwise":
        _seeded_weights(model, 3)
    x = with_ambiguous(dna.random_sequences(3, length, rng=4))
    target = 1 if model.outputs[0].shape[-1] == 2 else None
    plan = _fast_ism.build(ModelFunction(model, target=target), length, example=x)
    assert plan is not None
    if head == "max-unknown":  # the Lambda and what follows run in full on spliced maps
        assert plan.pool is None and len(plan.stages) == 1
    else:
        assert plan.pool == head
    fast = keras_iml.explain(model, x, "ism", target=target, verbose=0)
    general = keras_iml.explain(model, x, "ism", target=target, fast=False, verbose=0)
    scale = np.abs(general.values).max()
    assert scale > 1e-3
    np.testing.assert_allclose(fast.values, general.values, atol=1e-5 * max(1.0, scale))


def test_profile_model_without_tail_and_callable_target():
    # The whole model is local: the spliced map itself goes to the callable target.
    model = _seeded_weights(_chain(40, L.Conv1D(4, 5, padding="same", activation="relu"),
                                   L.Conv1D(2, 3, dilation_rate=2)), 9)

    def target(out):
        return keras.ops.sum(out[:, 10:30, 1], axis=1)

    x = with_ambiguous(dna.random_sequences(2, 40, rng=3))
    plan = _fast_ism.build(ModelFunction(model, target=target), 40, example=x)
    assert plan is not None and plan.tail == []
    attr = keras_iml.explain(model, x, "ism", target=target, verbose=0)
    expected = naive_ism(model, x, lambda p: p[:, 10:30, 1].sum(axis=1))
    np.testing.assert_allclose(attr.values, expected, atol=1e-5)


def test_fast_path_matches_predict_on_strided_same_model():
    build, _ = ARCHITECTURES["same_padding_strides"]
    model = _seeded_weights(build(33), 1)
    x = with_ambiguous(dna.random_sequences(2, 33, rng=8))
    attr = keras_iml.explain(model, x, "ism", target=0, verbose=0)
    np.testing.assert_allclose(attr.values, naive_ism(model, x), atol=1e-5)


def test_center_gives_zero_mean_per_position(cnn, onehot):
    raw = keras_iml.explain(cnn, onehot[:3], "ism", verbose=0)
    centred = keras_iml.explain(cnn, onehot[:3], "ism", center=True, verbose=0)
    np.testing.assert_allclose(centred.values.mean(-1), 0.0, atol=1e-6)
    np.testing.assert_allclose(centred.values, raw.values - raw.values.mean(-1, keepdims=True),
                               atol=1e-6)
    np.testing.assert_array_equal(centred.hypothetical, centred.values)


def test_logit_equals_ism_of_the_model_without_sigmoid(onehot):
    sigmoid, plain = make_cnn(head_activation="sigmoid"), make_cnn()
    expected = keras_iml.explain(plain, onehot[:3], "ism", verbose=0).values
    for fast in (True, False):
        got = keras_iml.explain(sigmoid, onehot[:3], "ism", logit=True, fast=fast, verbose=0)
        np.testing.assert_allclose(got.values, expected, atol=1e-5)
    assert _fast_ism.build(ModelFunction(sigmoid, logit=True), 60) is not None


def test_list_target_is_sum_of_columns(onehot):
    model = make_multi_output()
    parts = [keras_iml.explain(model, onehot[:2], "ism", target=t, verbose=0).values
             for t in (0, 2)]
    both = keras_iml.explain(model, onehot[:2], "ism", target=[0, 2], verbose=0).values
    np.testing.assert_allclose(both, parts[0] + parts[1], atol=1e-5)
    np.testing.assert_allclose(parts[1], naive_ism(model, onehot[:2], lambda p: p[:, 2]),
                               atol=1e-5)


class SubclassedCNN(keras.Model):
    def __init__(self):
        super().__init__()
        self.conv = L.Conv1D(4, 5, activation="relu")
        self.pool = L.GlobalMaxPooling1D()
        self.out = L.Dense(1)

    def call(self, x):
        return self.out(self.pool(self.conv(x)))


def _residual(length):
    inp = keras.Input((length, 4))
    h = L.Conv1D(4, 3, padding="same", activation="relu")(inp)
    h = L.Add()([h, L.Conv1D(4, 5, padding="same")(h)])
    return keras.Model(inp, L.Dense(1)(L.GlobalMaxPooling1D()(h)))


def _two_pools(length):
    """A Basset-like head: a conv/pool chain, then a global max and a global average concatenated."""
    inp = keras.Input((length, 4))
    h = L.Conv1D(6, 5, activation="relu")(inp)
    h = L.MaxPooling1D(2)(h)
    h = L.Conv1D(4, 3, activation="relu")(h)
    h = L.Concatenate()([L.GlobalMaxPooling1D()(h), L.GlobalAveragePooling1D()(h)])
    return keras.Model(inp, L.Dense(1)(L.Dense(5, activation="relu")(h)))


def _two_heads(length):
    """Two outputs from one trunk (a multi-output model)."""
    inp = keras.Input((length, 4))
    h = L.MaxPooling1D(2)(L.Conv1D(6, 5, activation="relu")(inp))
    return keras.Model(inp, [L.Dense(1, name="a")(L.GlobalMaxPooling1D()(h)),
                             L.Dense(2, name="b")(L.Flatten()(h))])


def test_subclassed_models_use_the_general_path():
    x = with_ambiguous(dna.random_sequences(2, 30, rng=6))
    model = SubclassedCNN()
    model(x[:1])
    _seeded_weights(model, 2)
    assert _fast_ism.build(ModelFunction(model), 30) is None
    attr = keras_iml.explain(model, x, "ism", verbose=0)
    np.testing.assert_allclose(attr.values, naive_ism(model, x), atol=1e-5)


@pytest.mark.parametrize("kind,target", [("residual", None), ("two_pools", None), ("two_heads", ("b", 1)),
                                         ("two_heads", "a")])
def test_branching_models_take_the_fast_path_up_to_the_branch(kind, target, tmp_path):
    """A graph that branches after a local chain recomputes windows up to the branch and
    runs the rest in full: equal to every mutant through the model, also after a reload."""
    x = with_ambiguous(dna.random_sequences(3, 30, rng=6))
    model = {"residual": _residual, "two_pools": _two_pools, "two_heads": _two_heads}[kind](30)
    _seeded_weights(model, 2)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    select = {None: lambda p: p[:, 0], "a": lambda p: p[0][:, 0], ("b", 1): lambda p: p[1][:, 1]}[target]
    expected = naive_ism(model, x, select)
    for m in (model, loaded):
        plan = _fast_ism.build(ModelFunction(m, target=target), 30, example=x)
        assert isinstance(plan, _fast_ism.FastISM) and plan.stages
        np.testing.assert_allclose(keras_iml.explain(m, x, "ism", target=target, verbose=0).values,
                                   expected, atol=1e-5)


def test_chunk_size_does_not_change_values(cnn, onehot):
    a = keras_iml.explain(cnn, onehot[:3], "ism", chunk_size=7, verbose=0)
    b = keras_iml.explain(cnn, onehot[:3], "ism", verbose=0)
    np.testing.assert_allclose(a.values, b.values, atol=1e-6)


def test_mutants_cover_every_substitution():
    x = with_ambiguous(dna.random_sequences(2, 10, rng=0))
    n, i, b = ism.mutants(x)
    assert len(n) == 2 * 10 * 3 + 2  # 3 per one-hot position, 4 at the N and the zero column
    assert not np.any(x[n, i, b] == 1)


@pytest.mark.parametrize("option, value", [("center", "yes"), ("fast", 1),
                                           ("chunk_size", 0), ("chunk_size", 2.5)])
def test_bad_options_raise(cnn, onehot, option, value):
    with pytest.raises(ValueError, match=f"{option}.*Received"):
        keras_iml.explain(cnn, onehot[:2], "ism", verbose=0, **{option: value})


def test_wrapped_model_uses_fast_path_and_reused_instance(cnn, onehot):
    wrapped = keras_iml.wrap(cnn)
    assert _fast_ism.build(ModelFunction(wrapped), 60) is not None
    method = keras_iml.methods.get("ism")
    a = keras_iml.explain(wrapped, onehot[:3], method, batch_size=2, verbose=0)
    b = wrapped.explain(onehot[:3], method, verbose=0)  # a new function: a new runner
    np.testing.assert_allclose(a.values, naive_ism(cnn, onehot[:3]), atol=1e-5)
    np.testing.assert_allclose(a.values, b.values, atol=1e-6)
    clone = copy.deepcopy(method)  # compiled runners live on the function, not the method
    assert set(clone.__dict__) == set(method.get_config()) and clone.get_config() == method.get_config()
