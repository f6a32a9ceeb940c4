"""The engine: Explainer, TraceCache, auxiliary inputs, per-sequence rows, fast-path plugins,
and the one registry shared by methods and metrics."""

import numpy as np
import pytest

import keras
import keras_iml
from conftest import make_cnn, make_linear
from keras_iml import dna, metrics, methods
from keras_iml.engine import fast_paths
from keras_iml.methods import integrated_gradients


def test_explainer_run_equals_explain_and_traces_once(onehot):
    model = make_cnn()
    explainer = keras_iml.Explainer(model)
    for name in ("saliency", "integrated_gradients", "deeplift_shap"):
        a = explainer.run(name, onehot, seed=1, verbose=0)
        b = keras_iml.explain(model, onehot, name, seed=1, verbose=0)
        np.testing.assert_array_equal(a.values, b.values)
    function = explainer.function()
    compiled = function._value_and_grad
    explainer.run("saliency", onehot[:3], verbose=0)
    assert explainer.function() is function and function._value_and_grad is compiled
    streamed = list(explainer.stream("saliency", onehot, batch_size=5, verbose=0))
    assert [len(p) for p in streamed] == [5, 5, 2]
    np.testing.assert_allclose(np.concatenate([p.values for p in streamed]),
                               explainer.run("saliency", onehot, verbose=0).values, atol=1e-6)
    np.testing.assert_allclose(explainer.predict(onehot), model.predict(onehot, verbose=0)[:, 0],
                               rtol=1e-5, atol=1e-6)


def test_trace_cache_keeps_one_explainer_per_model_and_target(onehot):
    cache = keras_iml.TraceCache()
    model = make_cnn()
    a = cache.explainer(model)
    assert cache.explainer(model) is a
    assert cache.explainer(model, target=0) is not a
    assert cache.explainer(make_cnn()) is not a
    assert cache.model("k", lambda: "built") == "built" and cache.model("k", lambda: 1) == "built"
    assert len(cache) == 4
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(TypeError, match="keras.Model"):
        cache.explainer("not a model")


def test_saliency_input_x_gradient_and_ism_are_exact_on_a_linear_model():
    model = make_linear(length=20)
    w = model.get_weights()[0].reshape(20, 4)
    x = dna.random_sequences(3, 20, rng=0)
    explainer = keras_iml.Explainer(model)
    np.testing.assert_allclose(explainer.run("saliency", x, verbose=0).values, np.broadcast_to(w, x.shape),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(explainer.run("input_x_gradient", x, verbose=0).values, w * x,
                               rtol=1e-5, atol=1e-6)
    ism = explainer.run("ism", x, verbose=0).values
    expected = w[None] - (w[None] * x).sum(-1, keepdims=True)
    np.testing.assert_allclose(ism, expected, rtol=1e-4, atol=1e-5)


def _dna_and_track_model(length=20):
    """f(x, t) = t[0] * sum(W * x): the DNA's effect scales with a per-sequence track."""
    seq = keras.Input((length, 4), name="seq")
    track = keras.Input((1,), name="dnase")
    score = keras.layers.Dense(1, use_bias=False)(keras.layers.Flatten()(seq))
    model = keras.Model([seq, track], keras.layers.Multiply()([score, track]))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 1, (length * 4, 1)).astype("float32")])
    return model, model.get_weights()[0].reshape(length, 4)


def test_auxiliary_inputs_are_held_fixed_per_sequence():
    model, w = _dna_and_track_model()
    x = dna.random_sequences(5, 20, rng=1)
    t = np.array([[0.5], [1.0], [2.0], [-1.0], [0.0]], np.float32)
    explainer = keras_iml.Explainer(model)
    assert explainer.aux_names == ["dnase"]
    sal = explainer.run("saliency", x, aux={"dnase": t}, verbose=0, batch_size=2)
    np.testing.assert_allclose(sal.values, t[:, :, None] * w[None], rtol=1e-5, atol=1e-6)
    # IG, ISM and SmoothGrad evaluate many rows per sequence: each sees its own track
    ig = explainer.run("integrated_gradients", x, aux={"dnase": t}, steps=4, verbose=0)
    np.testing.assert_allclose(ig.values, t[:, :, None] * w[None] * x, rtol=1e-5, atol=1e-6)
    ism = explainer.run("ism", x, aux={"dnase": t}, verbose=0).values
    expected = t[:, :, None] * (w[None] - (w[None] * x).sum(-1, keepdims=True))
    np.testing.assert_allclose(ism, expected, rtol=1e-4, atol=1e-5)
    # one shared row broadcasts to every sequence
    shared = explainer.run("saliency", x, aux={"dnase": [2.0]}, verbose=0)
    np.testing.assert_allclose(shared.values, 2.0 * np.broadcast_to(w, x.shape), rtol=1e-5)
    np.testing.assert_allclose(explainer.predict(x, aux={"dnase": t}),
                               t[:, 0] * (w[None] * x).sum((1, 2)), rtol=1e-5, atol=1e-5)


def test_auxiliary_input_errors_name_the_argument():
    model, _ = _dna_and_track_model()
    x = dna.random_sequences(3, 20, rng=1)
    explainer = keras_iml.Explainer(model)
    with pytest.raises(ValueError, match=r"takes inputs \['dnase'\] besides the DNA"):
        explainer.run("saliency", x, verbose=0)
    with pytest.raises(ValueError, match=r"aux keys \['track'\]"):
        explainer.run("saliency", x, aux={"track": np.ones((3, 1))}, verbose=0)
    with pytest.raises(ValueError, match=r"aux\['dnase'\].shape=\(2, 1\)"):
        explainer.run("saliency", x, aux={"dnase": np.ones((2, 1))}, verbose=0)
    with pytest.raises(ValueError, match="rc_average"):
        explainer.run("saliency", x, aux={"dnase": np.ones((3, 1))}, rc_average=True, verbose=0)
    with pytest.raises(ValueError, match="aux"):
        keras_iml.Explainer(make_cnn()).run("saliency", dna.random_sequences(2, 60), aux=[1.0])
    with pytest.raises(ValueError, match="dna_input"):
        keras_iml.Explainer(model, dna_input="nope")


def test_validate_holds_auxiliary_inputs_fixed_too():
    model, _ = _dna_and_track_model()
    x = dna.random_sequences(8, 20, rng=2)
    t = np.linspace(0.5, 2.0, 8, dtype=np.float32)[:, None]
    report = keras_iml.validate(model, x, aux={"dnase": t}, protocol="quick", seed=0, verbose=0,
                                methods=["saliency", "input_x_gradient"])
    assert report.summary["value"].notna().any()
    not_run = set(report.not_run["metric"])
    assert {"rc_equivariance", "shift_equivariance"} <= not_run  # tracks cannot be flipped


def test_per_sequence_baselines_follow_their_sequences_on_subsamples(onehot):
    """One IG baseline per sequence: re-explaining a subsample with ``rows`` uses each
    sequence's own baseline (metrics re-run subsamples this way)."""
    model = make_cnn()
    baselines = dna.dinuc_shuffle(onehot, rng=0)
    full = keras_iml.explain(model, onehot, "integrated_gradients", baseline=baselines, steps=8,
                             batch_size=5, verbose=0)
    index = np.array([10, 3, 7])
    explainer = keras_iml.Explainer(model)
    sub = explainer.run("integrated_gradients", onehot[index], rows=index, baseline=baselines,
                        steps=8, verbose=0)
    np.testing.assert_allclose(sub.values, full.values[index], rtol=1e-5, atol=1e-6)
    report = keras_iml.validate(model, onehot, methods={"integrated_gradients": {
        "baseline": baselines, "steps": 8}}, protocol="quick", seed=0, verbose=0)
    assert "integrated_gradients" in set(report.summary["method"])
    with pytest.raises(ValueError, match="one index per sequence"):
        explainer.run("saliency", onehot, rows=[0, 1], verbose=0)


def test_fast_path_plugins_are_tried_by_priority_and_can_be_forced(onehot):
    model = make_cnn()
    calls = []

    def declines(function):
        calls.append("declines")
        return None

    def plain_twice(function):
        calls.append("plain_twice")
        return integrated_gradients.plain_path_function(function)

    fast_paths.register("path_gradients", "test_declines", priority=100)(declines)
    fast_paths.register("path_gradients", "test_plain", priority=50)(plain_twice)
    try:
        names = [n for n, _ in fast_paths.plugins("path_gradients")]
        assert names.index("test_declines") < names.index("test_plain") < names.index(
            "affine_first_layer")
        function = keras_iml.Explainer(model).function(example=onehot)
        assert integrated_gradients.build_path_function(function)[0] == "test_plain"
        assert calls == ["declines", "plain_twice"]
        assert integrated_gradients.build_path_function(function, "affine_first_layer")[0] == \
            "affine_first_layer"
        with pytest.raises(ValueError, match="does not apply"):
            integrated_gradients.build_path_function(function, "test_declines")
        a = keras_iml.explain(model, onehot, "integrated_gradients", steps=8, verbose=0)
        b = keras_iml.explain(model, onehot, "integrated_gradients", steps=8, verbose=0,
                              fast="affine_first_layer")
        c = keras_iml.explain(model, onehot, "integrated_gradients", steps=8, verbose=0, fast=False)
        np.testing.assert_allclose(a.values, c.values, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b.values, c.values, rtol=1e-4, atol=1e-6)
    finally:
        fast_paths.unregister("path_gradients", "test_declines")
        fast_paths.unregister("path_gradients", "test_plain")
    with pytest.raises(ValueError, match="`fast` must be"):
        keras_iml.explain(model, onehot, "integrated_gradients", fast="nope", verbose=0)
    with pytest.raises(ValueError, match="hook"):
        fast_paths.register("no_such_hook", "x")


@pytest.mark.parametrize("family,name,options", [
    (methods, "integrated_gradients", {"steps": 7}),
    (metrics, "deletion", {"fractions": [0.0, 0.5]}),
])
def test_one_registry_with_the_same_identifier_forms(family, name, options):
    by_name = family.get(name, **options)
    config = family.serialize(by_name)
    assert config["class_name"] == name
    for identifier in (config, {"name": name, **options}, by_name):
        got = family.get(identifier)
        assert type(got) is type(by_name) and got.get_config() == by_name.get_config()
    assert type(family.get(type(by_name))) is type(by_name)
    assert name in family.names() and family.REGISTRY.get_class(name) is type(by_name)
    with pytest.raises(ValueError, match=f"Unknown {family.REGISTRY.kind}"):
        family.get("no_such_thing")
    with pytest.raises(ValueError, match="Unknown option"):
        family.get(name, no_such_option=1)
    with pytest.raises(TypeError, match=f"`{family.REGISTRY.kind}` must be"):
        family.get(3.5)
    with pytest.raises(ValueError, match="needs a 'class_name'"):
        family.get({"config": {}})
    with pytest.raises(ValueError, match="Options cannot be given"):
        family.get(by_name, **options)


def test_registering_checks_what_the_family_declares():
    with pytest.raises(ValueError, match="tier"):
        @metrics.register("test_no_tier")
        class NoTier(metrics.Metric):
            pass
    with pytest.raises(TypeError, match="subclasses of AttributionMethod"):
        methods.register("test_not_a_method")(object)
    with pytest.raises(ValueError, match="already registered"):
        @methods.register("saliency")
        class Other(methods.AttributionMethod):
            pass


def test_every_method_declares_its_hooks():
    for name in methods.names():
        method = methods.get(name)
        assert isinstance(method.stochastic, bool) and isinstance(method.multiplies_input, bool)
        assert method.backends is None or set(method.backends) <= {"tensorflow", "jax", "torch"}
        for alt in method.alternatives():
            assert set(alt) <= set(method.option_names()), (name, alt)
