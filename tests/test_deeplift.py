"""DeepLIFT (rescale rule) and DeepLIFT-SHAP: hand-computed values, exact convergence,
agreement with shap's DeepExplainer, and refusal of operations without a rule."""

import warnings

import numpy as np
import pytest

import keras
from keras_iml import adapters, dna
import keras_iml
from keras_iml.engine import ModelFunction
from keras_iml.methods import _deeplift_engine, _deeplift_rules

from conftest import _seeded_weights, make_cnn, make_linear, project

L = 40


def _explain(model, x, method, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no convergence warning is expected anywhere here
        return keras_iml.explain(model, x, method, verbose=0, **kw)


def _tiny_relu_net():
    """Flatten -> Dense(2, relu) -> Dense(1) on 2 positions, weights set by hand."""
    model = keras.Sequential([
        keras.Input((2, 4)), keras.layers.Flatten(),
        keras.layers.Dense(2, activation="relu"), keras.layers.Dense(1),
    ])
    w1 = np.zeros((8, 2), np.float32)
    w1[0, 0], w1[5, 0] = 2.0, 1.0   # h1 = relu(2 [pos0 = A] + 1 [pos1 = C] - 1)
    w1[0, 1], w1[5, 1] = -3.0, 1.0  # h2 = relu(-3 [pos0 = A] + 1 [pos1 = C] + 0.5)
    b1 = np.array([-1.0, 0.5], np.float32)
    w2 = np.array([[1.0], [2.0]], np.float32)  # y = h1 + 2 h2
    model.set_weights([w1, b1, w2, np.zeros(1, np.float32)])
    return model


def test_tiny_relu_network_matches_hand_computation():
    model = _tiny_relu_net()
    x = dna.one_hot(["AC"])
    # x: z1 = 2 + 1 - 1 = 2 (h1 = 2); z2 = -3 + 1 + 0.5 = -1.5 (h2 = 0); f(x) = 2.
    # zero reference: z1 = -1 (h1 = 0); z2 = 0.5 (h2 = 0.5); f(r) = 1.
    # rescale multipliers: m1 = (2 - 0) / (2 - -1) = 2/3; m2 = (0 - 0.5) / (-1.5 - 0.5) = 1/4.
    # input multipliers: pos0 A: 1 * 2/3 * 2 + 2 * 1/4 * -3 = -1/6; pos1 C: 2/3 + 2/4 = 7/6.
    expected = np.zeros((1, 2, 4), np.float32)
    expected[0, 0, 0], expected[0, 1, 1] = -1 / 6, 7 / 6
    attr = _explain(model, x, "deeplift")
    np.testing.assert_allclose(attr.values, expected, atol=1e-6)
    np.testing.assert_allclose(attr.hypothetical, expected, atol=1e-6)  # zero baseline
    np.testing.assert_allclose(attr.convergence_delta, [0.0], atol=1e-6)  # -1/6 + 7/6 = 2 - 1
    # The gradient gives 2 and 1 here (sum 3 != f(x) - f(0) = 1): DeepLIFT is not x * grad.
    grad = _explain(model, x, "input_x_gradient").values
    assert grad[0, 0, 0] == pytest.approx(2.0) and grad[0, 1, 1] == pytest.approx(1.0)


@pytest.mark.parametrize("head", ["global", "maxpool_flatten"])
def test_max_rule_routes_to_the_winning_window(head):
    """Per-position score w = [1, 2, 3, 4] (A, C, G, T), then the max over positions.

    x = GAA scores [3, 1, 1], max 3 at position 0; reference GTA scores [3, 4, 1],
    max 4 at position 1; f(x) - f(r) = -1. The input's argmax has no difference
    (x = r = G there), so routing through it (the gradient) loses the -1. The rule
    sends it to the reference's argmax: multiplier -1 / (1 - 4) = 1/3 at position 1,
    (A - T) * w / 3 = [1/3, 0, 0, -4/3], whose sum -1 sits on the observed base A.
    """
    pool = ([keras.layers.GlobalMaxPooling1D()] if head == "global"
            else [keras.layers.MaxPooling1D(3), keras.layers.Reshape((1,))])
    model = keras.Sequential([keras.Input((3, 4)), keras.layers.Conv1D(1, 1, use_bias=False)]
                             + pool)
    model.set_weights([np.array([1.0, 2.0, 3.0, 4.0], np.float32).reshape(1, 4, 1)])
    x, ref = dna.one_hot(["GAA"]), dna.one_hot(["GTA"])
    attr = _explain(model, x, "deeplift", baseline=ref[0])
    expected = np.zeros((1, 3, 4), np.float32)
    expected[0, 1] = [1 / 3, 0.0, 0.0, -4 / 3]
    np.testing.assert_allclose(attr.values, project(expected, x), atol=1e-6)
    assert attr.values[0, 1, 0] == pytest.approx(-1.0, abs=1e-6)
    np.testing.assert_allclose(attr.convergence_delta, [0.0], atol=1e-6)


@pytest.mark.parametrize("head_activation", [None, "sigmoid"])
def test_convergence_on_maxpool_globalmax_cnn(head_activation):
    model = make_cnn(length=L, head_activation=head_activation)
    x = dna.random_sequences(6, L, rng=3)
    zero = _explain(model, x, "deeplift")
    # Completeness against an independent forward pass: sum(values) = f(x) - f(0).
    gain = model.predict(x, verbose=0)[:, 0] - model.predict(np.zeros_like(x), verbose=0)[:, 0]
    np.testing.assert_allclose(zero.values.sum(axis=(1, 2)), gain, atol=1e-5)
    for method, kw in [("deeplift", {"baseline": "dinuc_shuffle"}),
                       ("deeplift", {"baseline": "uniform"}),
                       ("deeplift_shap", {"n_references": 8})]:
        attr = _explain(model, x, method, seed=0, **kw)
        assert np.abs(attr.convergence_delta).max() < 1e-4, (method, kw)
        # hypothetical * x has the same per-position sums as values
        np.testing.assert_allclose((attr.hypothetical * x).sum(-1), attr.values.sum(-1),
                                   atol=1e-5)


@pytest.mark.parametrize("first_conv", [{}, {"padding": "same"}, {"strides": 2},
                                        {"dilation_rate": 2, "padding": "same"}])
def test_xla_fused_rules_equal_the_plain_rules(first_conv, monkeypatch):
    """Large chunks take the XLA-fused rules and the native input gradient of the first
    (4-channel, stride-1) convolution, zero-padded to one chunk shape; force that on a
    small model (3 inputs in chunks of 2: the last one padded). Strided and dilated
    convolutions keep TensorFlow's gradient."""
    model = _seeded_weights(keras.Sequential([
        keras.Input((L, 4)), keras.layers.Conv1D(6, 7, activation="relu", **first_conv),
        keras.layers.MaxPooling1D(2), keras.layers.Conv1D(6, 3, activation="relu"),
        keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(1, activation="sigmoid"),
    ]), 5)
    x = dna.random_sequences(3, L, rng=12)
    plain = _explain(model, x, "deeplift_shap", n_references=3, seed=2, chunk_size=6)
    monkeypatch.setattr(_deeplift_rules, "FUSE_MIN_SIZE", 0)
    monkeypatch.setattr(_deeplift_engine, "FUSE_MIN_POSITIONS", 0)
    fused = _explain(model, x, "deeplift_shap", n_references=3, seed=2, chunk_size=6)
    assert np.abs(plain.values).max() > 1e-4
    np.testing.assert_allclose(fused.values, plain.values, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fused.hypothetical, plain.hypothetical, rtol=1e-5, atol=1e-7)
    assert np.abs(fused.convergence_delta).max() < 1e-5


@pytest.fixture
def scale_plugin():
    """An ``activation_scale`` fast-path plugin reading a test attribute of a layer."""
    from keras_iml.engine import fast_paths

    fast_paths.register("activation_scale", "test_scale")(
        lambda layer: getattr(layer, "_test_scale", None))
    yield
    fast_paths.unregister("activation_scale", "test_scale")


@pytest.mark.parametrize("scale,fused", [(None, False), (1e4, True)])
def test_layers_declaring_large_activations_get_the_fused_rules(scale, fused, scale_plugin):
    """A chunk of 9 pairs of 40 bp is small (plain rules) unless a plugin of the
    ``activation_scale`` hook says a layer has many activation positions per base (as
    DeepBind's window scan does): then only the fused variant is traced. Both agree."""
    model = make_cnn(length=L)
    if scale is not None:
        model.layers[0]._test_scale = scale
    x = dna.random_sequences(3, L, rng=3)
    refs = np.stack([dna.dinuc_shuffle(x, rng=r) for r in range(3)], axis=1)
    runner = _deeplift_engine.DeepLiftRunner(ModelFunction(model))
    values = runner(x, refs, chunk_size=9)[0]
    counts = {f: runner._compiled[f].experimental_get_tracing_count() for f in (False, True)}
    assert counts == {fused: 1, not fused: 0}
    np.testing.assert_allclose(values, _deeplift_engine.DeepLiftRunner(ModelFunction(
        make_cnn(length=L)))(x, refs, chunk_size=9)[0], rtol=1e-5, atol=1e-7)


def test_logit_of_sigmoid_head_equals_the_linear_head():
    x = dna.random_sequences(3, L, rng=4)
    logit = _explain(make_cnn(length=L, head_activation="sigmoid"), x, "deeplift", logit=True)
    plain = _explain(make_cnn(length=L), x, "deeplift")  # same seeded weights, no sigmoid
    np.testing.assert_allclose(logit.values, plain.values, atol=1e-6)


def _shap_runnable_cnn(head_activation):
    """Conv-ReLU-MaxPool-Conv-ReLU then MaxPooling1D(L') + Flatten: a global max shap runs."""
    model = keras.Sequential([
        keras.Input((L, 4)), keras.layers.Conv1D(6, 7, activation="relu"),
        keras.layers.MaxPooling1D(2), keras.layers.Conv1D(6, 3, activation="relu"),
        keras.layers.MaxPooling1D(15), keras.layers.Flatten(),
        keras.layers.Dense(1, activation=head_activation),
    ])
    return _seeded_weights(model, 1)


@pytest.mark.parametrize("head_activation", [None, "sigmoid"])
def test_deeplift_shap_matches_shap_deep_explainer(head_activation):
    model = _shap_runnable_cnn(head_activation)
    x = dna.random_sequences(4, L, rng=5)
    refs = dna.dinuc_shuffle(x[0], rng=6, n_shuffles=6)  # one explicit set for both
    ours = _explain(model, x, "deeplift_shap", references=refs, n_references=len(refs))
    theirs = adapters.shap_deep(model, x, refs)
    assert theirs.method == "shap.DeepExplainer"
    assert np.abs(theirs.values).max() > 1e-3
    np.testing.assert_allclose(ours.values, theirs.values, atol=1e-4)
    np.testing.assert_allclose(ours.convergence_delta, theirs.convergence_delta, atol=1e-4)


def test_deeplift_shap_is_the_mean_of_deeplift_over_references():
    model = make_cnn(length=L)
    x = dna.random_sequences(3, L, rng=8)
    refs = dna.random_sequences(3, L, rng=9)
    shap_like = _explain(model, x, "deeplift_shap", references=refs, n_references=3)
    singles = [_explain(model, x, "deeplift", baseline=r) for r in refs]
    np.testing.assert_allclose(shap_like.values, np.mean([a.values for a in singles], 0),
                               atol=1e-6)
    np.testing.assert_allclose(shap_like.hypothetical,
                               np.mean([a.hypothetical for a in singles], 0), atol=1e-6)


def test_linear_model_equals_input_x_gradient_and_weights():
    model = make_linear(length=L)
    x = dna.random_sequences(4, L, rng=2)
    w = model.get_weights()[0].reshape(L, 4)
    deeplift = _explain(model, x, "deeplift")
    np.testing.assert_allclose(deeplift.values, _explain(model, x, "input_x_gradient").values,
                               atol=1e-6)
    uniform = _explain(model, x, "deeplift", baseline="uniform")
    np.testing.assert_allclose(uniform.values, project((x - 0.25) * w, x), atol=1e-6)
    refs = dna.random_sequences(5, L, rng=4)
    mean_ref = _explain(model, x, "deeplift_shap", references=refs, n_references=5)
    np.testing.assert_allclose(mean_ref.values, project((x - refs.mean(0)) * w, x), atol=1e-5)


def _functional(build):
    inp = keras.Input((L, 4))
    model = keras.Model(inp, build(inp))
    _seeded_weights(model, 2)
    # Positive BatchNormalization variances (random weights could make them negative).
    model.set_weights([np.abs(w) if w.ndim == 1 else w for w in model.get_weights()])
    return model


def test_supported_layer_zoo_converges():
    """Every supported layer kind in one model, softmax head included: exact sums."""
    layers = keras.layers

    def build(h):
        h = layers.Conv1D(6, 5, padding="same", dilation_rate=2, activation="relu")(h)
        h = layers.BatchNormalization()(h)
        h = layers.Dropout(0.3)(h)
        h = layers.MaxPooling1D(3, strides=2, padding="same")(h)
        h = layers.AveragePooling1D(2)(h)
        h = layers.Conv1D(6, 3, strides=2, padding="causal", activation="elu")(h)
        for act in ("selu", "softplus", "tanh", "relu6", "sigmoid"):
            h = layers.Activation(act)(h)
        h = layers.LeakyReLU(0.2)(h)
        h = layers.Lambda(lambda t: t[:, 1:])(h)
        a = layers.GlobalMaxPooling1D()(h)
        b = layers.GlobalAveragePooling1D()(h)
        h = layers.Concatenate()([a, b])
        h = layers.Dense(4, activation="tanh")(h)
        return layers.Dense(3, activation="softmax")(layers.Dense(3)(h) * 4.0)

    model = _functional(build)
    x = dna.random_sequences(4, L, rng=11)
    for kw in [{"baseline": "zeros"}, {"baseline": "dinuc_shuffle"}]:
        attr = _explain(model, x, "deeplift", target=1, seed=0, **kw)
        assert np.abs(attr.values).max() > 1e-4
        assert np.abs(attr.convergence_delta).max() < 1e-5, kw


@pytest.mark.parametrize("case", ["multiply", "gelu"])
def test_unsupported_operation_raises_listing_it(case, onehot):
    layers = keras.layers

    def build(h):
        if case == "multiply":
            a = layers.Conv1D(3, 5, activation="relu", name="branch_a")(h)
            b = layers.Conv1D(3, 5, activation="sigmoid", name="branch_b")(h)
            h = layers.Multiply(name="gate")([a, b])
        else:
            h = layers.Conv1D(3, 5, activation="gelu", name="gelu_conv")(h)
        return layers.Dense(1)(layers.GlobalMaxPooling1D()(h))

    model = _functional(build)
    name = "gate" if case == "multiply" else "gelu_conv/Gelu"
    for method in ("deeplift", "deeplift_shap"):
        with pytest.raises(ValueError, match=r"Mul \(both operands depend on the input\)"
                           rf".*'{name}'"):
            keras_iml.explain(model, onehot[:2, :L], method, verbose=0, seed=0)


def test_nonlinear_layers_named_and_warning_names_them():
    model = make_cnn(length=L)
    x = dna.random_sequences(2, L, rng=1)
    runner = _deeplift_engine.DeepLiftRunner(ModelFunction(model))
    values, hyp, fx, fr, delta = runner(x, np.zeros_like(x)[:, None])
    kinds = {layer.name for layer in model.layers if not isinstance(layer, keras.layers.Dense)}
    assert set(runner.nonlinear_layers) == kinds  # both Conv1D (ReLU) and both poolings
    assert np.abs(values).max() > 0 and fx.shape == (2,) and fr.shape == delta.shape == (2, 1)
    with pytest.warns(UserWarning, match="global_max_pooling1d"):
        _deeplift_engine.warn_if_not_converged(np.array([0.0, 0.5]), fx, fr[:, 0], runner,
                                               "deeplift")


def test_gradient_correction_centres_multipliers():
    model = make_cnn(length=L)
    x = dna.random_sequences(3, L, rng=6)
    plain = _explain(model, x, "deeplift")
    corrected = _explain(model, x, "deeplift", gradient_correction=True)
    # Zero baseline: hypothetical = m, so the correction removes its per-position mean.
    centred = plain.hypothetical - plain.hypothetical.mean(-1, keepdims=True)
    np.testing.assert_allclose(corrected.hypothetical, centred, atol=1e-6)
    np.testing.assert_allclose(corrected.values, centred * x, atol=1e-6)
    # One-hot references: x - r sums to 0 and r to 1 at every position, so the
    # per-position sums of (x - r) * m (the projected values) and the hypothetical
    # contributions do not change, while the multipliers themselves do.
    a = _explain(model, x, "deeplift", baseline="dinuc_shuffle", seed=1)
    b = _explain(model, x, "deeplift", baseline="dinuc_shuffle", seed=1,
                 gradient_correction=True)
    np.testing.assert_allclose(a.values, b.values, atol=1e-6)
    np.testing.assert_allclose(a.hypothetical, b.hypothetical, atol=1e-6)
    np.testing.assert_allclose(b.convergence_delta, 0.0, atol=1e-5)


@pytest.mark.parametrize("method,option,value", [
    ("deeplift", "baseline", "noise"),
    ("deeplift", "chunk_size", 0),
    ("deeplift_shap", "n_references", 0),
    ("deeplift_shap", "references", np.zeros((3, 4))),
])
def test_bad_options_name_the_option(method, option, value, onehot):
    model = make_cnn(length=60)
    with pytest.raises(ValueError, match=option):
        keras_iml.explain(model, onehot[:2], method, verbose=0, **{option: value})
