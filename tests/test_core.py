"""Core: encoding, input validation, targets, Attributions, wrapper and serialization."""

import numpy as np
import pytest
import tensorflow as tf

import keras
from keras_iml import dna, methods
import keras_iml

from conftest import make_cnn, make_linear, make_multi_output


# -- DNA encoding and shuffles ------------------------------------------------------
def test_one_hot_policies():
    x = dna.one_hot(["ACgTn"])
    np.testing.assert_array_equal(x[0, :4], np.eye(4))
    np.testing.assert_array_equal(x[0, 4], [0.25] * 4)
    np.testing.assert_array_equal(dna.one_hot("N", n_policy="zeros")[0, 0], [0, 0, 0, 0])
    with pytest.raises(ValueError, match="n_policy='error'"):
        dna.one_hot("AN", n_policy="error")
    with pytest.raises(ValueError, match="'X' at sequence 1, position 2"):
        dna.one_hot(["ACGT", "ACXT"])
    with pytest.raises(ValueError, match="same length"):
        dna.one_hot(["ACGT", "ACG"])
    assert dna.decode(dna.one_hot(["ACGTN"])) == ["ACGTN"]


def _dinucs(codes):
    return np.bincount(codes[:-1] * 4 + codes[1:], minlength=16)


def test_dinuc_shuffle_preserves_dinucleotides_and_is_seeded():
    x = dna.random_sequences(5, 200, gc=0.6, rng=0)
    s1 = dna.dinuc_shuffle(x, rng=3, n_shuffles=4)
    s2 = dna.dinuc_shuffle(x, rng=3, n_shuffles=4)
    np.testing.assert_array_equal(s1, s2)
    assert s1.shape == (5, 4, 200, 4)
    for n in range(5):
        orig = x[n].argmax(-1)
        for r in range(4):
            shuf = s1[n, r].argmax(-1)
            np.testing.assert_array_equal(_dinucs(orig), _dinucs(shuf))
            assert shuf[0] == orig[0] and shuf[-1] == orig[-1]
        assert not np.array_equal(s1[n, 0], x[n])


def test_dinuc_shuffle_per_sequence_generators_are_batch_invariant():
    x = dna.random_sequences(4, 120, rng=5)
    together = dna.dinuc_shuffle(x, [np.random.default_rng(i) for i in range(4)], n_shuffles=3)
    for i in range(4):  # sequence i draws only from its own generator
        alone = dna.dinuc_shuffle(x[i], np.random.default_rng(i), n_shuffles=3)
        np.testing.assert_array_equal(together[i], alone)
    # different shuffles of one sequence differ; different seeds give different shuffles
    assert len({together[0, r].tobytes() for r in range(3)}) == 3
    assert not np.array_equal(dna.dinuc_shuffle(x, rng=1), dna.dinuc_shuffle(x, rng=2))
    with pytest.raises(ValueError, match="one generator per sequence"):
        dna.dinuc_shuffle(x, [np.random.default_rng(0)] * 3)


def test_dinuc_shuffle_edge_cases():
    same = dna.one_hot(["AAAAAAA", "ACACACA"])  # only one sequence has these dinucleotides
    np.testing.assert_array_equal(dna.dinuc_shuffle(same, rng=0, n_shuffles=2),
                                  np.repeat(same[:, None], 2, axis=1))
    short = dna.one_hot(["AC"])
    np.testing.assert_array_equal(dna.dinuc_shuffle(short, rng=0), short)
    with_n = dna.one_hot(["ACNGTNACGT"])  # N read as its argmax letter (A)
    out = dna.dinuc_shuffle(with_n, rng=0, n_shuffles=3)
    assert set(np.unique(out)) == {0.0, 1.0} and (out.sum(-1) == 1).all()
    codes = with_n[0].argmax(-1)
    for r in range(3):
        np.testing.assert_array_equal(_dinucs(out[0, r].argmax(-1)), _dinucs(codes))


def test_dinuc_shuffle_is_uniform_over_sequences_with_the_same_dinucleotides():
    """Every sequence with the input's first base and dinucleotide counts (enumerated
    by brute force) comes out, each about equally often (a uniform shuffle). This
    sequence has 5 last-exit trees, one of weight 2: the trees must be weighted."""
    seq = "GCTATAGGTC"
    codes = dna.one_hot([seq])[0].argmax(-1)
    n = len(seq)
    grid = np.indices((4,) * (n - 1)).reshape(n - 1, -1).T  # every possible tail
    every = np.concatenate([np.full((len(grid), 1), codes[0]), grid], axis=1)
    pairs = every[:, :-1] * 4 + every[:, 1:]
    counts = np.stack([(pairs == d).sum(1) for d in range(16)], axis=1)
    valid = {tuple(v) for v in every[(counts == _dinucs(codes)).all(1)]}
    assert len(valid) > 5
    draws = dna.dinuc_shuffle(dna.one_hot([seq])[0], rng=0, n_shuffles=12000).argmax(-1)
    seen = [tuple(d) for d in draws]
    assert set(seen) == valid
    freq = np.array([seen.count(v) for v in sorted(valid)])
    expected = len(seen) / len(valid)
    assert np.abs(freq - expected).max() < 5 * np.sqrt(expected), freq


def test_shuffle_keeps_composition_and_random_gc():
    x = dna.random_sequences(3, 500, gc=0.8, rng=1)
    s = dna.shuffle(x, rng=2)
    np.testing.assert_array_equal(x.sum(1), s.sum(1))
    gc = x[..., 1:3].sum() / (3 * 500)
    assert 0.75 < gc < 0.85
    with pytest.raises(ValueError, match="gc"):
        dna.random_sequences(1, 10, gc=1.5)


def test_reverse_complement():
    x = dna.one_hot(["AACGT"])
    assert dna.decode(dna.reverse_complement(x)) == ["ACGTT"]


# -- input validation -----------------------------------------------------------------
@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((3, 4, 60), np.float32), r"channels-first.*Received: x.shape=\(3, 4, 60\)"),
        (np.full((2, 60, 4), 0.3, np.float32), "one-hot"),
        (np.full((2, 60, 4), np.nan, np.float32), "NaN"),
        (np.zeros((2, 60), np.float32), r"Received: x.shape=\(2, 60\)"),
    ],
)
def test_bad_inputs_raise_value_error(cnn, bad, match):
    with pytest.raises(ValueError, match=match):
        keras_iml.explain(cnn, bad, verbose=0)


def test_wrong_length_and_characters(cnn):
    with pytest.raises(ValueError, match=r"length 60.*Received: x.shape=\(2, 50, 4\)"):
        keras_iml.explain(cnn, dna.random_sequences(2, 50, rng=0), verbose=0)
    with pytest.raises(ValueError, match="outside ACGTN"):
        keras_iml.explain(cnn, ["ACGU" * 15], verbose=0)


def test_unknown_method_and_option(cnn, onehot):
    with pytest.raises(ValueError, match="Unknown method: 'nope'"):
        keras_iml.explain(cnn, onehot, "nope")
    with pytest.raises(ValueError, match=r"Unknown option\(s\) \['stepz'\]"):
        keras_iml.explain(cnn, onehot, "saliency", stepz=3)
    with pytest.raises(ValueError, match="batch_size"):
        keras_iml.explain(cnn, onehot, batch_size=0)
    with pytest.raises(ValueError, match="at least one"):
        keras_iml.explain(cnn, onehot, [])


# -- targets --------------------------------------------------------------------------
def test_targets_int_slice_list_and_callable(onehot):
    model = make_multi_output()
    grads = [keras_iml.explain(model, onehot, target=k, verbose=0).values for k in range(3)]
    summed = keras_iml.explain(model, onehot, target=[0, 2], verbose=0).values
    np.testing.assert_allclose(summed, grads[0] + grads[2], rtol=1e-5, atol=1e-6)
    sliced = keras_iml.explain(model, onehot, target=slice(1, 3), verbose=0).values
    np.testing.assert_allclose(sliced, grads[1] + grads[2], rtol=1e-5, atol=1e-6)
    neg = keras_iml.explain(model, onehot, target=-1, verbose=0).values
    np.testing.assert_allclose(neg, grads[2])
    fn = keras_iml.explain(model, onehot, target=lambda out: out[:, 1] * 2.0, verbose=0).values
    np.testing.assert_allclose(fn, 2 * grads[1], rtol=1e-5, atol=1e-6)


def test_named_outputs(onehot):
    inp = keras.Input((60, 4))
    h = keras.layers.Flatten()(inp)
    a = keras.layers.Dense(1, name="a")(h)
    b = keras.layers.Dense(1, name="b")(h)
    model = keras.Model(inp, {"a": a, "b": b})
    ga = keras_iml.explain(model, onehot, target="a", verbose=0).values
    wa = model.get_layer("a").get_weights()[0].reshape(60, 4)
    np.testing.assert_allclose(ga[0], wa, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="target='c' is not an output"):
        keras_iml.explain(model, onehot, target="c", verbose=0)
    with pytest.raises(ValueError, match="several outputs"):
        keras_iml.explain(model, onehot, verbose=0)


def test_logit_of_sigmoid_head(onehot):
    model = make_cnn(head_activation="sigmoid")
    logits = keras.Model(model.inputs, model.layers[-1].input)
    dense = model.layers[-1]

    def f(x):
        return keras.ops.matmul(logits(x), dense.kernel) + dense.bias

    xt = tf.convert_to_tensor(onehot)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        z = f(xt)[:, 0]
    expected = tape.gradient(z, xt).numpy()
    got = keras_iml.explain(model, onehot, logit=True, verbose=0).values
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    prob = keras_iml.explain(model, onehot, verbose=0).values
    p = model.predict(onehot, verbose=0)[:, 0]
    np.testing.assert_allclose(prob, expected * (p * (1 - p))[:, None, None], rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="logit=True"):
        keras_iml.explain(make_cnn(), onehot, logit=True, verbose=0)


def test_gradient_correction_and_rc_average(linear):
    x = dna.random_sequences(4, 20, rng=0)
    w = linear.get_weights()[0].reshape(20, 4)
    corr = keras_iml.explain(linear, x, gradient_correction=True, verbose=0).values
    np.testing.assert_allclose(corr[0], w - w.mean(-1, keepdims=True), rtol=1e-5, atol=1e-6)
    rc = keras_iml.explain(linear, x, rc_average=True, verbose=0).values
    # f(rc(x)) has gradient w flipped on both axes, mapped back onto the forward strand.
    np.testing.assert_allclose(rc[0], 0.5 * (w + w[::-1, ::-1]), rtol=1e-5, atol=1e-6)


# -- input kinds ----------------------------------------------------------------------
def test_strings_dataset_and_array_agree(cnn, onehot):
    strings = dna.decode(onehot)
    a = keras_iml.explain(cnn, onehot, verbose=0).values
    b = keras_iml.explain(cnn, [s.lower() for s in strings], verbose=0).values
    ds = tf.data.Dataset.from_tensor_slices((onehot, np.zeros(len(onehot)))).batch(5)
    c = keras_iml.explain(cnn, ds, batch_size=4, verbose=0).values
    d = keras_iml.explain(cnn, tf.convert_to_tensor(onehot), verbose=0).values
    for other in (b, c, d):
        np.testing.assert_allclose(a, other, rtol=1e-5, atol=1e-7)
    streamed = list(keras_iml.iter_explain(cnn, onehot, batch_size=5, verbose=0))
    assert [len(p) for p in streamed] == [5, 5, 2]
    np.testing.assert_allclose(np.concatenate([p.values for p in streamed]), a, rtol=1e-5)


def test_list_of_methods_returns_dict(cnn, onehot):
    out = keras_iml.explain(cnn, onehot, ["saliency", methods.get("saliency", absolute=True)], verbose=0)
    assert list(out) == ["saliency", "saliency#2"]
    np.testing.assert_allclose(out["saliency#2"].values, np.abs(out["saliency"].values))


# -- Attributions -------------------------------------------------------------------------
def test_attributions_npz_and_dataframe_round_trip(tmp_path, cnn, onehot):
    attr = keras_iml.explain(cnn, onehot, seed=4, verbose=0)
    path = attr.to_npz(tmp_path / "a.npz")
    again = keras_iml.Attributions.from_npz(path)
    np.testing.assert_array_equal(again.values, attr.values)
    np.testing.assert_array_equal(again.inputs, onehot)
    assert again.method == "saliency" and again.params["seed"] == 4
    frame = attr.to_dataframe()
    assert len(frame) == onehot.size
    row = frame[(frame.seq == 3) & (frame.pos == 7) & (frame.base == "G")].iloc[0]
    assert row.value == pytest.approx(attr.values[3, 7, 2])
    assert row.input == onehot[3, 7, 2]
    sub = attr[[1, 3]]
    np.testing.assert_array_equal(sub.values, attr.values[[1, 3]])
    assert not list(tmp_path.glob(".tmp-*"))


# -- wrapper ---------------------------------------------------------------------------------
def test_wrap_delegates_and_round_trips(tmp_path, onehot):
    model = make_cnn()
    iml = keras_iml.wrap(model, metadata={"tf": "CTCF"})
    np.testing.assert_allclose(iml.predict(onehot, verbose=0), model.predict(onehot, verbose=0))
    direct = keras_iml.explain(model, onehot, verbose=0).values
    np.testing.assert_allclose(iml.explain(onehot, verbose=0).values, direct)
    path = tmp_path / "m.keras"
    iml.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, keras_iml.IMLModel) and loaded.metadata == {"tf": "CTCF"}
    np.testing.assert_allclose(loaded.explain(onehot, verbose=0).values, direct, rtol=1e-6)
    with pytest.raises(TypeError, match="keras.Model"):
        keras_iml.wrap("not a model")


class SubclassedLinear(keras_iml.IMLMixin, keras.Model):
    def __init__(self):
        super().__init__()
        self.flat = keras.layers.Flatten()
        self.out = keras.layers.Dense(1)

    def call(self, x):
        return self.out(self.flat(x))


def test_mixin_on_subclassed_model():
    model = SubclassedLinear()
    x = dna.random_sequences(3, 10, rng=0)
    model(x)
    w = model.out.get_weights()[0].reshape(10, 4)
    np.testing.assert_allclose(model.explain(x, verbose=0).values[1], w, rtol=1e-6)


def test_linear_saliency_equals_weights():
    model = make_linear()
    x = dna.random_sequences(3, 20, rng=5)
    w = model.get_weights()[0].reshape(20, 4)
    vals = keras_iml.explain(model, x, verbose=0).values
    for n in range(3):
        np.testing.assert_allclose(vals[n], w, rtol=1e-6, atol=1e-7)


def test_wrapper_reuses_compiled_functions(tmp_path, onehot):
    iml = keras_iml.wrap(make_cnn())
    a = iml.explain(onehot, verbose=0)
    assert len(iml.iml_cache) == 1
    b = iml.explain(onehot[:3], verbose=0)
    c = iml.explain(onehot[:3], target=0, verbose=0)
    assert len(iml.iml_cache) == 2
    np.testing.assert_allclose(a.values[:3], b.values, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b.values, c.values, rtol=1e-5, atol=1e-6)
    iml.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.explain(onehot[:3], verbose=0).values, b.values, rtol=1e-6)
