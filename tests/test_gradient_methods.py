"""Value tests for input_x_gradient, integrated_gradients, expected_gradients,
smoothgrad, grad_cam and occlusion: linear oracles, completeness, hand-built models."""

import numpy as np
import pytest
import tensorflow as tf

import keras
from keras_iml import dna
import keras_iml
from keras_iml.methods.grad_cam import position_centres

from conftest import make_cnn, make_linear, project


def _weights(model):
    kernel, bias = model.layers[-1].get_weights()
    return kernel[:, 0].reshape(-1, 4), float(bias[0])


def _explain(model, x, method, **kw):
    kw.setdefault("verbose", 0)
    return keras_iml.explain(model, x, method, **kw)


@pytest.fixture
def x20():
    return dna.random_sequences(5, 20, rng=2)


# -- input x gradient -----------------------------------------------------------------
def test_input_x_gradient_linear_oracle(linear, x20):
    w, _ = _weights(linear)
    a = _explain(linear, x20, "input_x_gradient")
    np.testing.assert_allclose(a.values, x20 * w, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(a.hypothetical, np.broadcast_to(w, x20.shape), rtol=1e-6)
    np.testing.assert_array_equal(a.values, a.hypothetical * x20)


# -- integrated gradients -----------------------------------------------------------
@pytest.mark.parametrize("rule", ["midpoint", "trapezoid"])
def test_ig_linear_zero_baseline_is_x_times_w(linear, x20, rule):
    w, _ = _weights(linear)
    a = _explain(linear, x20, "integrated_gradients", steps=3, rule=rule)
    np.testing.assert_allclose(a.values, x20 * w, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(a.hypothetical * x20, a.values, rtol=1e-6, atol=1e-7)
    assert np.abs(a.convergence_delta).max() < 1e-5


def test_ig_linear_array_baseline(linear, x20):
    w, _ = _weights(linear)
    base = np.random.default_rng(0).random((20, 4)).astype("float32")
    a = _explain(linear, x20, "integrated_gradients", baseline=base, steps=2)
    np.testing.assert_allclose(a.values, project((x20 - base) * w, x20), rtol=1e-5, atol=1e-6)
    # Hypothetical contributions: same per-position sums as the values.
    np.testing.assert_allclose((a.hypothetical * x20).sum(-1), a.values.sum(-1), atol=1e-5)


def _tape_ig(model, x, steps):
    """Independent reference: a plain GradientTape IG, one sequence at a time."""
    out = []
    for seq in x:
        alphas = (np.arange(steps) + 0.5) / steps
        path = tf.constant(alphas[:, None, None] * seq[None], tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(path)
            y = model(path)[:, 0]
        out.append(seq * tape.gradient(y, path).numpy().mean(0))
    return np.stack(out)


def test_ig_matches_plain_tape_and_chunking(cnn, onehot):
    x = onehot[:4]
    a = _explain(cnn, x, "integrated_gradients", steps=16)
    np.testing.assert_allclose(a.values, _tape_ig(cnn, x, 16), rtol=1e-4, atol=1e-6)
    # Chunks that split a sequence's path give the same sums.
    b = _explain(cnn, x, "integrated_gradients", steps=16, chunk_size=7)
    np.testing.assert_allclose(a.values, b.values, rtol=1e-5, atol=1e-7)


def _first_layer_models():
    inp = keras.Input((60, 4))
    conv = keras.layers.Conv1D(4, 5, strides=2, padding="same", activation="relu")(inp)
    skip = keras.layers.Dense(4)(inp)  # the input feeds two layers: no shortcut
    both = keras.layers.Concatenate()([keras.layers.GlobalMaxPooling1D()(conv),
                                       keras.layers.GlobalAveragePooling1D()(skip)])
    models = {
        "valid_conv": make_cnn(),
        "same_conv_strided": keras.Sequential([
            keras.Input((60, 4)), keras.layers.Conv1D(4, 5, strides=2, padding="same",
                                                      activation="relu"),
            keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(1)]),
        "dense_first": keras.Sequential([
            keras.Input((60, 4)), keras.layers.Dense(3, activation="tanh"),
            keras.layers.Flatten(), keras.layers.Dense(1)]),
        "branching": keras.Model(inp, keras.layers.Dense(1)(both)),
    }
    for i, model in enumerate(models.values()):
        rng = np.random.default_rng(i)
        model.set_weights([rng.normal(0, 0.3, w.shape).astype("float32")
                           for w in model.get_weights()])
    return models


@pytest.mark.parametrize("name", ["valid_conv", "same_conv_strided", "dense_first", "branching"])
def test_ig_affine_first_layer_shortcut_is_exact(name, onehot):
    from keras_iml.methods.integrated_gradients import affine_first_layer

    model = _first_layer_models()[name]
    assert (affine_first_layer(model) is None) == (name == "branching")
    x = onehot[:3]
    reference = _tape_ig(model, x, 8)
    a = _explain(model, x, "integrated_gradients", steps=8)
    np.testing.assert_allclose(a.values, reference, rtol=1e-4, atol=1e-6)
    # gradient_correction centres the averaged gradient over the 4 bases.
    b = _explain(model, x, "integrated_gradients", steps=8, gradient_correction=True)
    grad = a.hypothetical
    np.testing.assert_allclose(b.values, x * (grad - grad.mean(-1, keepdims=True)),
                               rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("rule", ["midpoint", "trapezoid"])
def test_ig_completeness_on_cnn(cnn, onehot, rule):
    x = onehot[:6]
    a = _explain(cnn, x, "integrated_gradients", steps=512, rule=rule)
    gain = cnn.predict(x, verbose=0)[:, 0] - cnn.predict(np.zeros_like(x), verbose=0)[:, 0]
    np.testing.assert_allclose(a.convergence_delta, a.values.sum((1, 2)) - gain, atol=1e-5)
    assert np.abs(a.convergence_delta).max() < 1e-3
    coarse = _explain(cnn, x, "integrated_gradients", steps=8, rule=rule)
    assert np.abs(coarse.convergence_delta).max() > np.abs(a.convergence_delta).max()


def test_ig_random_baselines_average(cnn, onehot):
    x = onehot[:3]
    a = _explain(cnn, x, "integrated_gradients", baseline="dinuc_shuffle", n_baselines=3,
                 steps=64, seed=1)
    assert np.abs(a.convergence_delta).max() < 0.02
    np.testing.assert_allclose((a.hypothetical * x).sum(-1), a.values.sum(-1), atol=1e-5)


@pytest.mark.parametrize(
    "method, options",
    [("integrated_gradients", {"steps": 8}), ("expected_gradients", {"n_references": 5})],
)
def test_logit_of_sigmoid_head_equals_linear_head(method, options, onehot):
    # Same seeded weights: the sigmoid head's logit is the linear head's output.
    x = onehot[:3]
    sigmoid = make_cnn(head_activation="sigmoid")
    a = _explain(sigmoid, x, method, logit=True, seed=0, **options)
    b = _explain(make_cnn(), x, method, seed=0, **options)
    np.testing.assert_allclose(a.values, b.values, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"steps": 0}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"baseline": "mean"}, "baseline"),
        ({"baseline": np.zeros((3, 60, 4))}, r"baseline.shape=\(3, 60, 4\)"),
        ({"baseline": np.zeros((50, 4))}, "baseline"),
        ({"rule": "simpson"}, "rule"),
        ({"n_baselines": 0}, "n_baselines"),
    ],
)
def test_ig_bad_options(cnn, onehot, options, match):
    with pytest.raises(ValueError, match=match):
        _explain(cnn, onehot[:2], "integrated_gradients", **options)


# -- expected gradients ---------------------------------------------------------------
def test_eg_linear_with_explicit_references_is_exact(linear, x20):
    w, _ = _weights(linear)
    refs = dna.random_sequences(4, 20, rng=5)
    a = _explain(linear, x20, "expected_gradients", references=refs, n_references=4, seed=0)
    np.testing.assert_allclose(a.values, project((x20 - refs.mean(0)) * w, x20), rtol=1e-5, atol=1e-6)
    assert np.abs(a.convergence_delta).max() < 1e-5
    np.testing.assert_allclose((a.hypothetical * x20).sum(-1), a.values.sum(-1), atol=1e-6)


def test_eg_linear_shuffles_converge_in_expectation(linear, x20):
    # Per position, x - E[shuffled ref] -> x - composition: check the exact identity
    # sum(values) == mean_k f(x) - f(r_k) (linear => exact) and the expectation loosely.
    w, _ = _weights(linear)
    a = _explain(linear, x20, "expected_gradients", references="shuffle", n_references=400,
                 seed=0)
    assert np.abs(a.convergence_delta).max() < 1e-4
    expected = (x20 - x20.mean(1, keepdims=True)) * w
    np.testing.assert_allclose(a.values, project(expected, x20), atol=0.12)


def test_eg_completeness_on_cnn(cnn, onehot):
    x = onehot[:4]
    refs = dna.random_sequences(8, 60, rng=3)
    a = _explain(cnn, x, "expected_gradients", references=refs, n_references=8, seed=2)
    gain = cnn.predict(x, verbose=0)[:, 0] - cnn.predict(refs, verbose=0)[:, 0].mean()
    np.testing.assert_allclose(a.convergence_delta, a.values.sum((1, 2)) - gain, atol=1e-5)
    # Completeness holds in expectation; the Monte-Carlo error shrinks with samples.
    many = _explain(cnn, x, "expected_gradients", references="random",
                    n_references=2000, seed=2)
    few = _explain(cnn, x, "expected_gradients", references="random",
                   n_references=10, seed=2)
    assert np.abs(many.convergence_delta).mean() < 0.02
    assert np.abs(many.convergence_delta).mean() < np.abs(few.convergence_delta).mean()


@pytest.mark.parametrize(
    "options, match",
    [({"n_references": 0}, "n_references"), ({"references": "blur"}, "references"),
     ({"references": np.zeros((2, 2, 60, 4))}, "references.shape")],
)
def test_eg_bad_options(cnn, onehot, options, match):
    with pytest.raises(ValueError, match=match):
        _explain(cnn, onehot[:3], "expected_gradients", **options)


# -- smoothgrad -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "base",
    ["saliency", "input_x_gradient",
     {"class_name": "integrated_gradients", "config": {"steps": 10}}],
)
def test_smoothgrad_without_noise_equals_base(cnn, onehot, base):
    x = onehot[:3]
    smooth = _explain(cnn, x, "smoothgrad", base=base, noise=0.0, n_samples=3, seed=0)
    plain = _explain(cnn, x, base, seed=0)
    # Equal up to float32 round-off (the gradient kernels differ with the batch size).
    np.testing.assert_allclose(smooth.values, plain.values, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(smooth.hypothetical, plain.hypothetical, rtol=1e-5, atol=1e-7)


def test_smoothgrad_projects_input_multiplying_bases_on_clean_x(cnn, onehot):
    x = onehot[:3]
    ig = {"class_name": "integrated_gradients", "config": {"steps": 8, "baseline": "uniform"}}
    smooth = _explain(cnn, x, "smoothgrad", base=ig, noise=0.0, n_samples=2, seed=0)
    plain = _explain(cnn, x, ig, seed=0)
    np.testing.assert_allclose(smooth.values, plain.hypothetical * x, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(smooth.values.sum(-1), plain.values.sum(-1), atol=1e-5)
    noisy = _explain(cnn, x, "smoothgrad", base="input_x_gradient", noise=0.2, seed=0)
    np.testing.assert_array_equal(noisy.values, noisy.hypothetical * x)


def test_smoothgrad_linear_oracle(linear, x20):
    # The gradient of a linear model is w wherever the noise moves x.
    w, _ = _weights(linear)
    sal = _explain(linear, x20, "smoothgrad", noise=0.5, n_samples=4, seed=0)
    np.testing.assert_allclose(sal.values, np.broadcast_to(w, x20.shape), rtol=1e-5)
    ixg = _explain(linear, x20, "smoothgrad", base="input_x_gradient", noise=0.5, seed=0)
    np.testing.assert_allclose(ixg.values, w * x20, rtol=1e-5, atol=1e-7)


def test_smoothgrad_seeded(cnn, onehot):
    x = onehot[:4]
    a = _explain(cnn, x, "smoothgrad", n_samples=5, seed=3)
    b = _explain(cnn, x, "smoothgrad", n_samples=5, seed=3, batch_size=1)
    c = _explain(cnn, x, "smoothgrad", n_samples=5, seed=4)
    np.testing.assert_allclose(a.values, b.values, rtol=1e-5, atol=1e-7)
    assert not np.allclose(a.values, c.values)
    plain = _explain(cnn, x, "saliency")
    assert not np.allclose(a.values, plain.values)


@pytest.mark.parametrize(
    "options, match",
    [({"n_samples": 0}, "n_samples"), ({"noise": -0.1}, "noise"), ({"noise": "x"}, "noise"),
     ({"base": "nope"}, "base"),
     ({"base": {"class_name": "integrated_gradients", "config": {"steps": 0}}}, "steps")],
)
def test_smoothgrad_bad_options(cnn, onehot, options, match):
    with pytest.raises(ValueError, match=match):
        _explain(cnn, onehot[:2], "smoothgrad", **options)


# -- grad_cam ---------------------------------------------------------------------------
MOTIF = "ACGTA"


def _motif_model(length=40, head_activation=None):
    """One Conv1D filter that fires (value 1) only on MOTIF; GlobalMaxPool; Dense(1)."""
    model = keras.Sequential([
        keras.Input((length, 4)),
        keras.layers.Conv1D(1, len(MOTIF), activation="relu", name="motif"),
        keras.layers.GlobalMaxPooling1D(),
        keras.layers.Dense(1, activation=head_activation),
    ])
    kernel = dna.one_hot(MOTIF)[0][:, :, None]
    model.layers[0].set_weights([kernel, np.array([1.0 - len(MOTIF)], "float32")])
    model.layers[-1].set_weights([np.ones((1, 1), "float32"), np.zeros(1, "float32")])
    return model


def _with_motif(n, length, positions, seed=0):
    x = dna.random_sequences(n, length, rng=seed)
    for i, p in enumerate(positions):
        x[i, p : p + len(MOTIF)] = dna.one_hot(MOTIF)[0]
    assert all(s.count(MOTIF) == 1 for s in dna.decode(x))
    return x


def test_grad_cam_peaks_on_the_motif():
    model = _motif_model()
    x = _with_motif(3, 40, [3, 17, 30])
    a = _explain(model, x, "grad_cam")
    # Global max pooling sends the gradient 1 to the motif's position only, so the
    # channel weight is 1 / L' and cam = A / L' there, 0 elsewhere; the 'valid'
    # output j is centred on input j + 2, so the map peaks at the motif's centre.
    n_out = 40 - len(MOTIF) + 1
    for i, p in enumerate([3, 17, 30]):
        expected = np.zeros(40, "float32")
        expected[p + 2] = 1.0 / n_out
        np.testing.assert_allclose(a.hypothetical[i, :, 0], expected, atol=1e-7)
        np.testing.assert_allclose(a.values[i], expected[:, None] * x[i], atol=1e-7)
    named = _explain(model, x, "grad_cam", layer="motif")
    np.testing.assert_array_equal(named.values, a.values)


def test_grad_cam_logit_of_sigmoid_head():
    model = _motif_model(head_activation="sigmoid")
    x = _with_motif(2, 40, [5, 20])
    prob = _explain(model, x, "grad_cam")
    logit = _explain(model, x, "grad_cam", logit=True)
    # d sigmoid(z) / dA = s(z)(1 - s(z)) dz / dA: one positive factor per sequence.
    s = model.predict(x, verbose=0)[:, 0]
    np.testing.assert_allclose(prob.values, logit.values * (s * (1 - s))[:, None, None],
                               rtol=1e-5, atol=1e-8)


def test_position_centres_follow_receptive_fields(cnn):
    # conv 7 valid -> centre 3; pool 2 -> +0.5, stride 2; conv 3 valid -> +1 * 2.
    centres = position_centres(cnn, cnn.layers[2], 60, 25)
    np.testing.assert_allclose(centres, 5.5 + 2 * np.arange(25))
    np.testing.assert_allclose(position_centres(cnn, cnn.layers[0], 60, 54), 3 + np.arange(54))
    same = keras.Sequential([keras.Input((30, 4)), keras.layers.Conv1D(2, 5, padding="same"),
                             keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(1)])
    np.testing.assert_allclose(position_centres(same, same.layers[0], 30, 30), np.arange(30))


def test_grad_cam_through_wrapper_and_bad_layers(cnn, onehot, linear):
    x = onehot[:3]
    direct = _explain(cnn, x, "grad_cam")
    wrapped = keras_iml.explain(keras_iml.wrap(cnn), x, "grad_cam", verbose=0)
    np.testing.assert_array_equal(direct.values, wrapped.values)
    names = [layer.name for layer in cnn.layers]
    with pytest.raises(ValueError, match="nonexistent"):
        _explain(cnn, x, "grad_cam", layer="nonexistent")
    with pytest.raises(ValueError, match="3-D output"):
        _explain(cnn, x, "grad_cam", layer=names[-1])
    with pytest.raises(ValueError, match="no Conv1D"):
        _explain(linear, dna.random_sequences(2, 20, rng=0), "grad_cam")


def test_grad_cam_subclassed_model_is_refused(onehot):
    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv1D(3, 5, activation="relu")
            self.pool = keras.layers.GlobalMaxPooling1D()
            self.out = keras.layers.Dense(1)

        def call(self, x):
            return self.out(self.pool(self.conv(x)))

    model = Sub()
    model(onehot[:1])
    with pytest.raises(ValueError, match="subclassed"):
        _explain(model, onehot[:2], "grad_cam")


# -- occlusion --------------------------------------------------------------------------
def test_occlusion_window_one_replace_oracle(linear, x20):
    w, _ = _weights(linear)
    a = _explain(linear, x20, "occlusion", window=1, mode="replace", value="A")
    observed = (x20 * w).sum(-1)  # w[i, base of x at i]
    np.testing.assert_allclose(a.values, (observed - w[:, 0])[:, :, None] * x20,
                               rtol=1e-4, atol=1e-5)
    zeros = _explain(linear, x20, "occlusion", window=1, mode="zeros")
    np.testing.assert_allclose(zeros.values, x20 * w, rtol=1e-4, atol=1e-5)


def test_occlusion_overlapping_windows_average(linear, x20):
    w, _ = _weights(linear)
    a = _explain(linear, x20, "occlusion", window=3, stride=2, mode="replace", value=[0.25] * 4)
    per_pos = (x20 * w).sum(-1) - w.mean(-1)  # drop of replacing position i
    starts = [0, 2, 4, 6, 8, 10, 12, 14, 16, 17]  # last window aligned to the end
    total, count = np.zeros((5, 20)), np.zeros(20)
    for s in starts:
        total[:, s : s + 3] += per_pos[:, s : s + 3].sum(1, keepdims=True)
        count[s : s + 3] += 1
    np.testing.assert_allclose(a.values, (total / count)[:, :, None] * x20, rtol=1e-4, atol=1e-5)


def test_occlusion_shuffles_are_sequence_valid(linear, x20):
    # On a linear model the drop of a window is sum_window w * (x - r); a dinucleotide
    # shuffle's replacement r is one-hot, so every drop is a difference of weights.
    a = _explain(linear, x20, "occlusion", window=1, n_shuffles=1, seed=0)
    w, _ = _weights(linear)
    obs = (x20 * w).sum(-1)
    diffs = obs[:, :, None] - w[None]  # every possible one-base replacement
    got = a.values.sum(-1)
    assert np.all(np.isclose(diffs, got[:, :, None], atol=1e-5).any(-1))


@pytest.mark.parametrize(
    "options, match",
    [({"window": 0}, "window"), ({"window": 61}, "window"), ({"stride": 0}, "stride"),
     ({"mode": "blur"}, "mode"), ({"mode": "replace"}, "value"),
     ({"mode": "replace", "value": "Z"}, "value"), ({"value": "A"}, "value"),
     ({"n_shuffles": 0}, "n_shuffles")],
)
def test_occlusion_bad_options(cnn, onehot, options, match):
    with pytest.raises(ValueError, match=match):
        _explain(cnn, onehot[:2], "occlusion", **options)
