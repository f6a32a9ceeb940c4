"""Models as users bring them (issue #15): loaded from ``.keras``, two-headed, nested, token inputs.

Every answer is known by construction: Grad-CAM of a reloaded model against the
original, of a two-headed model's ``counts`` head against a hand computation on the
convolution that feeds it, of a nested model against the same layers in a flat one;
attributions of a token model against a one-hot model built with the embedding
matrix as its first layer's weights, and ISM against mutate-and-predict on the token
model itself.
"""

import numpy as np
import pytest

import keras
from keras_iml import dna
import keras_iml
from keras_iml.engine import graph as graph_lib
from keras_iml.methods import grad_cam

L = 40


def _seed(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.4, w.shape).astype("float32") for w in model.get_weights()])
    return model


def _explain(model, x, method, **kwargs):
    return keras_iml.explain(model, x, method, seed=0, verbose=0, **kwargs)


def _nodes(model):
    """How many times each layer has been called symbolically (must not grow)."""
    return {layer.name: len(layer._inbound_nodes) for layer in model.layers}


@pytest.fixture
def x():
    return dna.random_sequences(5, L, rng=3)


# -- Grad-CAM --------------------------------------------------------------------------------
def _cnn():
    return _seed(keras.Sequential([
        keras.Input((L, 4)),
        keras.layers.Conv1D(6, 5, activation="relu"),
        keras.layers.MaxPooling1D(2),
        keras.layers.Conv1D(6, 3, activation="relu"),
        keras.layers.GlobalMaxPooling1D(),
        keras.layers.Dense(1),
    ]))


def _two_heads():
    """counts <- GAP <- counts_conv <- trunk; profile <- profile_conv <- trunk (the last conv)."""
    inp = keras.Input((L, 4), name="seq")
    trunk = keras.layers.Conv1D(8, 5, padding="same", activation="relu", name="trunk")(inp)
    counts_conv = keras.layers.Conv1D(4, 3, padding="same", activation="relu", name="counts_conv")(trunk)
    counts = keras.layers.Dense(1, name="counts")(keras.layers.GlobalAveragePooling1D()(counts_conv))
    profile_conv = keras.layers.Conv1D(1, 7, padding="same", name="profile_conv")(trunk)
    profile = keras.layers.Reshape((L,), name="profile")(profile_conv)
    model = _seed(keras.Model(inp, {"profile": profile, "counts": counts}), seed=1)
    kernel, bias = model.get_layer("counts").get_weights()
    model.get_layer("counts").set_weights([np.abs(kernel), bias])  # a non-zero map (relu)
    return model


def _nested():
    body = keras.Sequential([keras.Input((L, 4)), keras.layers.Conv1D(5, 5, activation="relu", name="c1"),
                             keras.layers.MaxPooling1D(2, name="pool"),
                             keras.layers.Conv1D(5, 3, activation="relu", name="c2")], name="body")
    inp = keras.Input((L, 4))
    out = keras.layers.Dense(1, name="out")(keras.layers.GlobalMaxPooling1D(name="gmp")(body(inp)))
    return _seed(keras.Model(inp, out), seed=2)


@pytest.mark.parametrize("build, target", [(_cnn, None), (_two_heads, "counts"),
                                           (_two_heads, ("profile", 7)), (_nested, None)])
def test_grad_cam_of_a_reloaded_model_equals_the_original(build, target, x, tmp_path):
    model = build()
    before = _explain(model, x, "grad_cam", target=target)
    assert np.abs(before.values).sum() > 0
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    after = _explain(loaded, x, "grad_cam", target=target)
    np.testing.assert_allclose(after.values, before.values, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(after.hypothetical, before.hypothetical, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("build", [_cnn, _two_heads, _nested])
def test_grad_cam_leaves_the_model_as_it_was(build, x, tmp_path):
    model = build()
    nodes = _nodes(model)
    _explain(model, x, "grad_cam", target="counts" if build is _two_heads else None)
    if build is _two_heads:  # a skip-free path through a shared trunk, then the other head
        _explain(model, x, "grad_cam", target=("profile", 3))
    assert _nodes(model) == nodes
    model.save(tmp_path / "after.keras")  # the graph is intact


def test_grad_cam_on_two_heads_reads_the_conv_that_feeds_the_target(x):
    model = _two_heads()
    assert grad_cam.target_layer(model, "counts").name == "counts_conv"
    assert grad_cam.target_layer(model, ("profile", 2)).name == "profile_conv"
    assert grad_cam.target_layer(model, None).name == "profile_conv"  # last conv of the whole graph
    cam = _explain(model, x, "grad_cam", target="counts").hypothetical[:, :, 0]
    # By hand: counts = GAP(A) @ w + b, so d counts / dA[j, c] = w[c] / L at every j: the
    # channel weights are w / L and cam = relu(A @ w / L); 'same' padding: no shift.
    activations = keras.Model(model.inputs[0], model.get_layer("counts_conv").output)(x)
    w = model.get_layer("counts").get_weights()[0][:, 0]
    expected = np.maximum(np.asarray(activations) @ w / L, 0)
    assert (expected > 0).mean() > 0.5
    np.testing.assert_allclose(cam, expected, rtol=1e-5, atol=1e-7)
    named = _explain(model, x, "grad_cam", target="counts", layer="counts_conv")
    np.testing.assert_array_equal(named.values, _explain(model, x, "grad_cam", target="counts").values)


def test_grad_cam_refuses_a_layer_off_the_targets_path(x):
    model = _two_heads()
    with pytest.raises(ValueError, match="does not feed output 'counts'") as err:
        _explain(model, x, "grad_cam", target="counts", layer="profile_conv")
    assert "Received: layer='profile_conv'" in str(err.value) and len(str(err.value)) < 400
    flat = _seed(keras.Sequential([keras.Input((L, 4)), keras.layers.Flatten(), keras.layers.Dense(1)]))
    with pytest.raises(ValueError, match="no Conv1D layer on the path") as err:
        _explain(flat, x, "grad_cam")
    assert "Received: layer=None" in str(err.value) and len(str(err.value)) < 400


def test_grad_cam_inside_a_nested_model_equals_the_flat_model(x):
    nested = _nested()
    body = nested.get_layer("body")
    flat = keras.Sequential([keras.Input((L, 4)), *[type(layer).from_config(layer.get_config())
                                                     for layer in body.layers],
                             keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(1)])
    flat.set_weights(nested.get_weights())
    assert grad_cam.target_layer(nested).name == "c2"
    assert grad_cam.conv_layers(nested) == ["c1", "c2"]
    a = _explain(nested, x, "grad_cam")
    b = _explain(flat, x, "grad_cam")
    np.testing.assert_allclose(a.values, b.values, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grad_cam.position_centres(nested, "c2", L, 16), 4.5 + 2 * np.arange(16))
    inner = _explain(nested, x, "grad_cam", layer="c1")
    np.testing.assert_allclose(inner.values, _explain(flat, x, "grad_cam", layer=flat.layers[0].name).values,
                               rtol=1e-5, atol=1e-7)


def test_grad_cam_around_a_skip_connection_matches_the_tape(x):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the reference gradient is taken with a tf.GradientTape")
    import tensorflow as tf

    inp = keras.Input((L, 4))
    c1 = keras.layers.Conv1D(4, 5, padding="same", activation="relu", name="c1")(inp)
    c2 = keras.layers.Conv1D(4, 3, padding="same", activation="relu", name="c2")(c1)
    h = keras.layers.GlobalMaxPooling1D()(keras.layers.Add()([c1, c2]))
    model = _seed(keras.Model(inp, keras.layers.Dense(1)(h)), seed=6)
    probe = keras.Model(inp, [c1, model.outputs[0]])
    with tf.GradientTape() as tape:
        a, y = probe(x)
    g = tape.gradient(y, a)  # through the skip and through c2
    expected = np.maximum(np.sum(np.mean(g, axis=1, keepdims=True) * a, axis=-1), 0)
    assert np.abs(expected).sum() > 0
    cam = _explain(model, x, "grad_cam", layer="c1").hypothetical[:, :, 0]
    np.testing.assert_allclose(cam, expected, rtol=1e-5, atol=1e-7)


def test_grad_cam_on_a_subclassed_model_says_why(x):
    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv1D(3, 5, activation="relu")
            self.pool = keras.layers.GlobalMaxPooling1D()
            self.out = keras.layers.Dense(1)

        def call(self, inputs):
            return self.out(self.pool(self.conv(inputs)))

    model = Sub()
    model(x[:1])
    for layer in (None, model.conv.name):
        with pytest.raises(ValueError, match="subclassed models have no layer graph") as err:
            _explain(model, x, "grad_cam", layer=layer)
        assert len(str(err.value)) < 400


# -- token models ------------------------------------------------------------------------------
def _token_model(input_dim=4, head_activation=None, tokens_dtype="int32", mask_zero=False):
    model = keras.Sequential([
        keras.Input((L,), dtype=tokens_dtype, name="tokens"),
        keras.layers.Embedding(input_dim, 6, name="emb", mask_zero=mask_zero),
        keras.layers.Conv1D(5, 7, activation="relu", name="conv"),
        keras.layers.MaxPooling1D(2),
        keras.layers.Conv1D(4, 3, activation="relu", name="conv2"),
        keras.layers.GlobalMaxPooling1D(),
        keras.layers.Dense(1, activation=head_activation, name="head"),
    ], name="token_cnn")
    return _seed(model, seed=4)


def _onehot_twin(token_model, tokens=(0, 1, 2, 3)):
    """The same network on one-hot input: a bias-free Dense whose kernel is E[tokens]."""
    table = token_model.get_layer("emb").get_weights()[0][list(tokens)]
    layers = [keras.Input((L, 4)), keras.layers.Dense(table.shape[1], use_bias=False)]
    layers += [type(layer).from_config(layer.get_config()) for layer in token_model.layers[1:]]
    twin = keras.Sequential(layers)
    twin.set_weights([table] + token_model.get_weights()[1:])
    return twin


def _tokens(x, tokens=(0, 1, 2, 3)):
    return np.asarray(tokens)[np.argmax(x, axis=-1)].astype("int32")


def _brute_force_ism(model, x, tokens=(0, 1, 2, 3)):
    """``f(x with base b at i) - f(x)`` by predicting every mutant token sequence."""
    t = _tokens(x, tokens)
    n, length = t.shape
    mutants = np.repeat(t[:, None, None], length, axis=1).repeat(4, axis=2)  # (n, L, 4, L)
    for i in range(length):
        mutants[:, i, :, i] = tokens
    predicted = model.predict(mutants.reshape(-1, length), verbose=0)[:, 0].reshape(n, length, 4)
    return predicted - model.predict(t, verbose=0)[:, :1, None]


@pytest.mark.parametrize("method, options", [("saliency", {}), ("input_x_gradient", {}),
                                             ("integrated_gradients", {"steps": 16}), ("ism", {}),
                                             ("grad_cam", {}), ("deeplift", {})])
def test_token_model_equals_its_onehot_twin(method, options, x):
    model = _token_model()
    twin = _onehot_twin(model)
    t = _tokens(x)
    np.testing.assert_allclose(_explain(model, x, "saliency").inputs, x)
    np.testing.assert_allclose(twin.predict(x, verbose=0), model.predict(t, verbose=0), rtol=1e-5)
    a = _explain(model, x, method, **options)
    b = _explain(twin, x, method, **options)
    assert np.abs(a.values).sum() > 0
    np.testing.assert_allclose(a.values, b.values, rtol=1e-4, atol=1e-6)
    assert a.target["input_adapter"] == {"embedding": "emb", "tokens": [0, 1, 2, 3]}


def test_token_model_ism_is_mutate_and_predict(x):
    model = _token_model()
    ism = _explain(model, x[:2], "ism")
    np.testing.assert_allclose(ism.values, _brute_force_ism(model, x[:2]), rtol=1e-4, atol=1e-5)


def test_token_mapping_is_an_option_of_wrap(x, tmp_path):
    tokens = {"A": 1, "C": 2, "G": 3, "T": 4}  # token 0 is padding (masked)
    model = _token_model(input_dim=5, mask_zero=True)
    with pytest.raises(ValueError, match="mask_zero") as err:  # the default would map A to 0
        keras_iml.wrap(model)
    assert len(str(err.value)) < 400
    iml = keras_iml.wrap(model, tokens=tokens)
    ism = iml.explain(x[:2], "ism", verbose=0)
    assert ism.target["input_adapter"]["tokens"] == [1, 2, 3, 4]
    np.testing.assert_allclose(ism.values, _brute_force_ism(model, x[:2], (1, 2, 3, 4)),
                               rtol=1e-4, atol=1e-5)
    sal = iml.explain(x, "saliency", verbose=0)
    twin = _onehot_twin(model, (1, 2, 3, 4))
    np.testing.assert_allclose(sal.values, _explain(twin, x, "saliency").values, rtol=1e-4, atol=1e-6)
    # predictions and saving still use the tokens; the mapping survives a round trip
    np.testing.assert_allclose(iml.predict(_tokens(x, (1, 2, 3, 4)), verbose=0),
                               model.predict(_tokens(x, (1, 2, 3, 4)), verbose=0))
    iml.save(tmp_path / "iml.keras")
    again = keras.models.load_model(tmp_path / "iml.keras")
    assert again.tokens == [1, 2, 3, 4]
    np.testing.assert_allclose(again.explain(x[:2], "ism", verbose=0).values, ism.values,
                               rtol=1e-5, atol=1e-6)


def test_token_model_logit_and_grad_cam_match_the_twin(x):
    model = _token_model(head_activation="sigmoid")
    twin = _onehot_twin(model)
    for method in ("saliency", "grad_cam"):
        a = _explain(model, x, method, logit=True)
        b = _explain(twin, x, method, logit=True)
        np.testing.assert_allclose(a.values, b.values, rtol=1e-4, atol=1e-6)
        prob = _explain(twin, x, method)
        assert not np.allclose(prob.values, b.values)  # the logit is not the probability


def test_token_model_is_not_modified_and_still_saves(x, tmp_path):
    model = _token_model()
    nodes, weights = _nodes(model), [w.copy() for w in model.get_weights()]
    t = _tokens(x)
    expected = model.predict(t, verbose=0)
    for method in ("saliency", "ism", "grad_cam", "integrated_gradients"):
        _explain(model, x, method)
    assert _nodes(model) == nodes
    for w0, w1 in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(w0, w1)
    np.testing.assert_allclose(model.predict(t, verbose=0), expected)
    model.save(tmp_path / "tokens.keras")
    loaded = keras.models.load_model(tmp_path / "tokens.keras")
    np.testing.assert_allclose(_explain(loaded, x, "saliency").values, _explain(model, x, "saliency").values,
                               rtol=1e-5, atol=1e-7)


def test_token_model_with_an_auxiliary_input(x):
    tokens = keras.Input((L,), dtype="int32", name="tokens")
    track = keras.Input((L, 1), name="track")
    h = keras.layers.Embedding(4, 5, name="emb")(tokens)
    h = keras.layers.Concatenate()([h, track])
    h = keras.layers.Conv1D(3, 5, activation="relu")(h)
    out = keras.layers.Dense(1)(keras.layers.GlobalMaxPooling1D()(h))
    model = _seed(keras.Model([tokens, track], out), seed=5)
    aux = np.random.default_rng(0).normal(size=(len(x), L, 1)).astype("float32")
    sal = _explain(model, x, "ism", aux={"track": aux})
    t = _tokens(x)
    base = model.predict([t, aux], verbose=0)[:, 0]
    mutant = t.copy()
    mutant[:, 7] = 2  # G at position 7
    expected = model.predict([mutant, aux], verbose=0)[:, 0] - base
    np.testing.assert_allclose(sal.values[:, 7, 2], expected, rtol=1e-4, atol=1e-5)


def test_tokens_to_onehot():
    t = np.array([[0, 3, 2, 1, 4]])
    onehot = graph_lib.tokens_to_onehot(t, n_token=4)
    np.testing.assert_array_equal(onehot[0, :4], np.eye(4)[[0, 3, 2, 1]])
    np.testing.assert_array_equal(onehot[0, 4], [0.25] * 4)
    assert dna.decode(graph_lib.tokens_to_onehot([[1, 2, 3, 4]], token_ids=(1, 2, 3, 4)))[0] == "ACGT"
    with pytest.raises(ValueError, match=r"no base .*\[4\]"):
        graph_lib.tokens_to_onehot(t)


# -- refusals ------------------------------------------------------------------------------------
def _short_value_error(call, *words):
    with pytest.raises(ValueError) as err:
        call()
    message = str(err.value)
    assert len(message) < 400, message
    for word in words:
        assert word in message, message
    return message


def test_inputs_that_cannot_be_made_onehot_are_refused_plainly(x):
    flat = _seed(keras.Sequential([keras.Input((L,), name="flat"), keras.layers.Dense(1)]))
    for call in (lambda: keras_iml.wrap(flat), lambda: _explain(flat, x, "saliency")):
        _short_value_error(call, "'flat'", f"(None, {L})", "Embedding")
    small = _token_model(input_dim=3)
    for call in (lambda: keras_iml.wrap(small), lambda: _explain(small, x, "ism")):
        _short_value_error(call, "input_dim=3", "'tokens'", f"(None, {L})")
    model = _token_model()
    _short_value_error(lambda: keras_iml.wrap(model, tokens=(0, 1, 2, 9)), "input_dim=4")
    _short_value_error(lambda: keras_iml.wrap(_cnn(), tokens=(0, 1, 2, 3)), "tokens")
    _short_value_error(lambda: keras_iml.wrap(model, tokens=(0, 1, 1, 2)), "distinct")


def test_tokens_given_as_x_are_refused_with_the_conversion(x):
    model = _token_model()
    message = _short_value_error(lambda: _explain(model, _tokens(x), "saliency"),
                                 "tokens_to_onehot", f"x.shape=({len(x)}, {L})")
    assert "[[" not in message  # never the array


def test_wrong_length_for_a_token_model(x):
    model = _token_model()
    _short_value_error(lambda: _explain(model, dna.random_sequences(2, L + 3, rng=0), "saliency"),
                       f"length {L}", f"x.shape=(1, {L + 3}, 4)")
