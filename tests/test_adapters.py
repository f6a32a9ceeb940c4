"""Cross-check adapters (shap, tf-explain): the native methods agree with the libraries
where both run, and the adapters refuse, naming the library, where the library cannot."""

import numpy as np
import pytest
import tensorflow as tf

import keras
from keras_iml import adapters, dna
import keras_iml
from keras_iml.adapters import shap_adapter
from keras_iml.engine import ModelFunction
from keras_iml.methods.integrated_gradients import path_gradients

from conftest import _seeded_weights, make_cnn, make_linear, project

L = 40


def _explain(model, x, method, **kw):
    return keras_iml.explain(model, x, method, verbose=0, **kw)


def _pooled_cnn(outputs=1):
    """Conv-ReLU-MaxPool-Conv-ReLU, MaxPooling1D(15) + Flatten (shap runs it), Dense."""
    model = keras.Sequential([
        keras.Input((L, 4)), keras.layers.Conv1D(5, 7, activation="relu"),
        keras.layers.MaxPooling1D(2), keras.layers.Conv1D(5, 3, activation="relu"),
        keras.layers.MaxPooling1D(15), keras.layers.Flatten(), keras.layers.Dense(outputs),
    ])
    return _seeded_weights(model, 4)


@pytest.fixture
def x():
    return dna.random_sequences(3, L, rng=21)


def test_shap_deep_matches_deeplift_shap_on_a_selected_output(x):
    model = _pooled_cnn(outputs=3)
    refs = dna.random_sequences(5, L, rng=22)
    theirs = adapters.shap_deep(model, x, refs, target=2)
    ours = _explain(model, x, "deeplift_shap", references=refs, n_references=5, target=2)
    assert theirs.method == "shap.DeepExplainer" and theirs.params["n_references"] == 5
    assert np.abs(theirs.values).max() > 1e-3
    np.testing.assert_allclose(ours.values, theirs.values, atol=1e-4)
    np.testing.assert_allclose(theirs.convergence_delta, 0.0, atol=1e-4)
    with pytest.raises(ValueError, match="target"):
        adapters.shap_deep(model, x, refs)  # three outputs: a target is needed


def test_shap_deep_refuses_global_max_pooling_naming_the_layer(x):
    model = make_cnn(length=L)
    with pytest.raises(ValueError, match=r"shap's DeepExplainer.*\['global_max_pooling1d"):
        adapters.shap_deep(model, x, dna.random_sequences(2, L, rng=1))


def test_shap_deep_really_fails_there_and_the_repair_restores_gradients(x):
    """shap itself raises on the GlobalMaxPooling head and leaves TensorFlow's
    gradient-recording hook installed; the adapter's repair undoes it."""
    import shap

    model = make_cnn(length=L)
    with pytest.raises(Exception):  # noqa: B017 - whatever shap raises
        shap.DeepExplainer(model, dna.random_sequences(2, L, rng=1)).shap_values(x)
    shap_adapter._restore_gradient_recording()
    grad = ModelFunction(model).gradient(x)
    with tf.GradientTape() as tape:
        xt = tf.constant(x)
        tape.watch(xt)
        y = model(xt)[:, 0]
    np.testing.assert_allclose(grad, tape.gradient(y, xt).numpy(), atol=1e-6)


def test_shap_gradient_exact_on_linear_model_and_restores_numpy_state(x):
    model = make_linear(length=L)
    w = model.get_weights()[0].reshape(L, 4)
    ref = dna.random_sequences(1, L, rng=3)
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    theirs = adapters.shap_gradient(model, x, ref, n_samples=16, seed=5)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    assert theirs.method == "shap.GradientExplainer"
    # The gradient is w everywhere: expected gradients = (x - r) * w whatever is sampled.
    np.testing.assert_allclose(theirs.values, project((x - ref) * w, x), atol=1e-5)
    ours = _explain(model, x, "expected_gradients", references=ref, n_references=4, seed=0)
    np.testing.assert_allclose(ours.values, theirs.values, atol=1e-5)


def test_shap_gradient_agrees_statistically_with_expected_gradients(x):
    """Both estimate E_a[grad f(r + a (x - r))] * (x - r) for one reference r; both are
    compared with a 64-step integrated-gradients integral of the same path."""
    model = make_cnn(length=L)
    ref = dna.random_sequences(1, L, rng=8)
    theirs = adapters.shap_gradient(model, x, ref, n_samples=300, seed=1)
    ours = _explain(model, x, "expected_gradients", references=ref, n_references=300, seed=1)
    exact = _explain(model, x, "integrated_gradients", baseline=ref[0], steps=64)
    scale = np.abs(exact.values).max()
    for est in (theirs, ours):
        assert np.corrcoef(est.values.ravel(), exact.values.ravel())[0, 1] > 0.95
        np.testing.assert_allclose(est.values.sum(axis=(1, 2)), exact.values.sum(axis=(1, 2)),
                                   atol=0.1 * scale * L)


def test_tf_explain_gradient_helpers_equal_native_methods(x):
    model = make_cnn(length=L)
    sal = adapters.tf_explain_saliency(model, x)
    assert sal.method == "tf_explain.VanillaGradients"
    np.testing.assert_allclose(sal.values, _explain(model, x, "saliency").values, atol=1e-6)
    gxi = adapters.tf_explain_gradients_inputs(model, x)
    np.testing.assert_allclose(gxi.values, _explain(model, x, "input_x_gradient").values,
                               atol=1e-6)


def test_tf_explain_integrated_gradients_equals_native_path_integral(x):
    """tf-explain averages gradients at k / (n - 1), k = 0..n-1, from the zero
    baseline; the native path integral with the same points and weights agrees."""
    model = make_cnn(length=L)
    steps = 7
    theirs = adapters.tf_explain_integrated_gradients(model, x, steps=steps, batch_size=2)
    alphas = np.arange(steps, dtype=np.float32) / (steps - 1)
    weights = np.full(steps, 1.0 / steps, np.float32)
    grads = path_gradients(ModelFunction(model), x, np.zeros_like(x), alphas, weights)
    np.testing.assert_allclose(theirs.values, x * grads, atol=1e-6)
    linear = make_linear(length=L)  # exact on a linear model: x * w
    w = linear.get_weights()[0].reshape(L, 4)
    lin = adapters.tf_explain_integrated_gradients(linear, x, steps=3)
    np.testing.assert_allclose(lin.values, x * w, atol=1e-6)
    np.testing.assert_allclose(lin.convergence_delta, 0.0, atol=1e-5)


def test_tf_explain_high_level_explainers_are_refused_and_really_fail(x):
    from tf_explain.core.vanilla_gradients import VanillaGradients

    model = make_cnn(length=L)
    with pytest.raises(Exception, match="three-dimensional"):  # the library's own failure
        VanillaGradients().explain((x, None), model, 0)
    with pytest.raises(RuntimeError, match=r"tf-explain's VanillaGradients.*\(N, H, W, C\)"):
        adapters.tf_explain_explain(model, x, "VanillaGradients")
    with pytest.raises(RuntimeError, match="GradCAM.*averages over filters"):
        adapters.tf_explain_explain(model, x, "GradCAM", layer_name="conv1d")
    with pytest.raises(ValueError, match="explainer='Lime'"):
        adapters.tf_explain_explain(model, x, "Lime")


def test_tf_explain_needs_a_two_dimensional_output(x):
    model = keras.Sequential([keras.Input((L, 4)), keras.layers.Flatten(),
                              keras.layers.Dense(1), keras.layers.Reshape(())])
    with pytest.raises(ValueError, match=r"scores\[:, class_index\]"):
        adapters.tf_explain_saliency(model, x)
    with pytest.raises(ValueError, match="x.shape"):
        adapters.tf_explain_saliency(make_cnn(length=L), np.zeros((2, 4, L)))
