"""Reference/baseline builder shared by IG, expected gradients, DeepLIFT and occlusion."""

import collections

import numpy as np
import pytest

from keras_iml import dna
from keras_iml.methods._references import check_reference, is_random, make_references


def _rngs(n, seed=0):
    return [np.random.default_rng([seed, i]) for i in range(n)]


@pytest.fixture
def x():
    return dna.random_sequences(3, 30, rng=4)


def _dinucs(seq):
    s = dna.decode(seq[None])[0]
    return collections.Counter(s[i : i + 2] for i in range(len(s) - 1))


def test_constant_kinds(x):
    np.testing.assert_array_equal(make_references("zeros", x, _rngs(3)), np.zeros_like(x))
    uni = make_references("uniform", x, _rngs(3), n=2)
    assert uni.shape == (3, 2, 30, 4) and np.all(uni == 0.25)


def test_shuffles_keep_composition(x):
    shuf = make_references("shuffle", x, _rngs(3), n=5)
    dinuc = make_references("dinuc_shuffle", x, _rngs(3), n=5)
    for i in range(3):
        for k in range(5):
            np.testing.assert_array_equal(shuf[i, k].sum(0), x[i].sum(0))
            assert _dinucs(dinuc[i, k]) == _dinucs(x[i])
    # Shuffles actually move bases (a 30-bp random sequence has many orderings).
    assert not np.array_equal(shuf[0, 0], x[0]) and not np.array_equal(dinuc[0, 0], dinuc[0, 1])


def test_random_kind_is_one_hot(x):
    ref = make_references("random", x, _rngs(3), n=4)
    assert np.all(ref.sum(-1) == 1) and set(np.unique(ref)) == {0.0, 1.0}
    assert is_random("random") and is_random("dinuc_shuffle") and not is_random("zeros")
    assert not is_random(np.zeros((30, 4)))


@pytest.mark.parametrize("kind", ["random", "shuffle", "dinuc_shuffle"])
def test_sequence_i_uses_only_rngs_i(kind, x):
    full = make_references(kind, x, _rngs(3, seed=7), n=3)
    again = make_references(kind, x, _rngs(3, seed=7), n=3)
    np.testing.assert_array_equal(full, again)
    # Sequence 2 alone with its own generator gets the same references.
    alone = make_references(kind, x[2:], _rngs(3, seed=7)[2:], n=3)
    np.testing.assert_array_equal(alone[0], full[2])
    other = make_references(kind, x, _rngs(3, seed=8), n=3)
    assert not np.array_equal(full, other)


def test_arrays(x):
    one = np.random.default_rng(0).random((30, 4)).astype("float32")
    np.testing.assert_array_equal(make_references(one, x, _rngs(3)), np.stack([one] * 3))
    np.testing.assert_array_equal(make_references(one, x, _rngs(3), n=2)[1, 1], one)
    np.testing.assert_array_equal(make_references(x[::-1], x, _rngs(3)), x[::-1])
    # (k, L, 4) with k == n: the same set, in order, for every sequence.
    pool = dna.random_sequences(4, 30, rng=9)
    got = make_references(pool, x, _rngs(3), n=4)
    for i in range(3):
        np.testing.assert_array_equal(got[i], pool)
    # k != n: n draws from the pool per sequence.
    drawn = make_references(pool, x, _rngs(3), n=6)
    assert drawn.shape == (3, 6, 30, 4)
    flat = pool.reshape(4, -1)
    for ref in drawn.reshape(18, -1):
        assert (flat == ref).all(axis=1).any()
    per_seq = np.stack([pool[:2]] * 3)
    np.testing.assert_array_equal(make_references(per_seq, x, _rngs(3), n=2), per_seq)


@pytest.mark.parametrize(
    "kind, message",
    [
        ("gaussian", "one of"),
        (np.zeros((31, 4)), "length 31"),
        (np.zeros((30, 5)), r"baseline.shape=\(30, 5\)"),
        (np.zeros((2, 30, 4)), r"baseline.shape=\(2, 30, 4\)"),
        (np.full((30, 4), np.nan), "NaN"),
    ],
)
def test_invalid_kinds_name_the_option(kind, message, x):
    with pytest.raises(ValueError, match="baseline") as err:
        make_references(kind, x, _rngs(3))
    assert err.match(message)


def test_invalid_arguments(x):
    with pytest.raises(ValueError, match="references"):
        check_reference("nope", "references")
    with pytest.raises(ValueError, match=r"references.shape=\(2, 2, 30, 4\)"):
        make_references(np.zeros((2, 2, 30, 4)), x, _rngs(3), n=2, option="references")
    with pytest.raises(ValueError, match="`n`"):
        make_references("zeros", x, _rngs(3), n=0)
    with pytest.raises(ValueError, match="rngs"):
        make_references("shuffle", x, _rngs(2))


@pytest.mark.parametrize("method,option,shape", [
    ("integrated_gradients", "baseline", (7, 30, 4)),
    ("deeplift", "baseline", (7, 30, 4)),
    ("deeplift_shap", "references", (7, 3, 30, 4)),
    ("expected_gradients", "references", (7, 3, 30, 4)),
])
def test_per_sequence_arrays_work_with_any_batch_size(method, option, shape):
    """One baseline (or reference set) per sequence: batches of 3 of 7 sequences give what
    one batch gives, and (for the deterministic methods) what explaining a sequence
    alone with its own entry gives; an array of the wrong length is refused."""
    import keras_iml

    from conftest import make_cnn

    model = make_cnn(length=30)
    x = dna.random_sequences(7, 30, rng=21)
    arr = dna.random_sequences(int(np.prod(shape[:-2])), 30, rng=22).reshape(shape)
    kw = {option: arr, "verbose": 0, "seed": 5}
    if len(shape) == 4:
        kw["n_references"] = shape[1]
    whole = keras_iml.explain(model, x, method, batch_size=100, **kw)
    batched = keras_iml.explain(model, x, method, batch_size=3, **kw)
    assert np.abs(whole.values).max() > 1e-3
    np.testing.assert_allclose(batched.values, whole.values, rtol=1e-5, atol=1e-6)
    if method != "expected_gradients":  # it draws path points from sequence i's generator
        alone = keras_iml.explain(model, x[5:6], method, batch_size=1, **{**kw, option: arr[5:6]})
        np.testing.assert_allclose(alone.values[0], whole.values[5], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=rf"for each of the N sequences.*"
                                         rf"Received: {option}.shape=\(6,"):
        keras_iml.explain(model, x, method, batch_size=3, **{**kw, option: arr[:6]})
