"""The public test kit (keras_iml.testing) on plugins written outside the package,
as a user's own method or metric would be: a correct one passes, a broken one fails
on the check that names its fault."""

import numpy as np
import pandas as pd
import pytest

import keras_iml

import keras
from keras_iml import methods, metrics, testing
from keras_iml.engine import input_kinds
from keras_iml.validation import controls


@pytest.fixture
def registered():
    """Registers test-local plugins, and removes them afterwards."""
    added = []

    def add(registry, name, cls):
        registry.register(name)(cls)
        added.append((registry, name))
        return name

    yield add
    for registry, name in added:
        registry.unregister(name)


class GradientTimesInput(methods.AttributionMethod):
    def attribute(self, function, x, rngs):
        return {"values": function.gradient(x) * x}


class UnkeyedNoise(methods.AttributionMethod):
    """Draws from a global generator while declaring itself deterministic."""

    def attribute(self, function, x, rngs):
        noise = np.random.default_rng().normal(size=x.shape).astype("float32")
        return {"values": function.gradient(x) + noise}


class NoisyGradient(methods.AttributionMethod):
    """Declared stochastic, and draws only from the per-sequence generators."""

    stochastic = True

    def __init__(self, scale=0.1):
        self.scale = scale

    def attribute(self, function, x, rngs):
        noise = np.stack([rng.normal(0, self.scale, x.shape[1:]) for rng in rngs]).astype("float32")
        return {"values": function.gradient(x + noise) * x}


class MassOnSite(metrics.Metric):
    """Share of position importance on the true-motif bases."""

    tier = 3
    higher_is_better = True
    requires = frozenset({"attributions", "ground_truth"})

    def compute(self, ctx, method):
        imp = ctx.importance(method)
        return (imp * (ctx.ground_truth == 1)).sum(1) / np.maximum(imp.sum(1), 1e-12)


class MassAnywhere(MassOnSite):
    """Broken: scores every map 1, so nothing beats its placebo."""

    def compute(self, ctx, method):
        return np.ones(len(ctx.importance(method)))


class ShuffledPositions(controls.Control):
    """Each method's own map with its positions shuffled per sequence: the method's
    values, none of its placement (a negative control)."""

    def make(self, run):
        for label in run.real:
            seed = run.seed + 1
            rng = np.random.default_rng(seed)
            values = run.ctx.attributions[label].values.copy()
            for row in values:
                row[:] = row[rng.permutation(len(row))]
            run.add(controls.ControlArm(f"shuffled_positions:{label}", "shuffled_positions", label,
                                        seed, f"{label}'s map, positions shuffled"),
                    attributions=keras_iml.Attributions(values, method=label))


class _ChannelsFirstAdapter:
    """The one-hot equivalent of a model taking channels-first one-hot DNA (N, 4, L)."""

    def __init__(self, model, swap=keras.layers.Permute((2, 1))):
        self.length = int(model.inputs[0].shape[-1])
        inputs = keras.Input((self.length, 4))
        self.model = keras.Model(inputs, model(swap(inputs)))

    def forward(self, logit=False):
        if logit:
            raise NotImplementedError("logit of a channels-first model")
        return self.model

    def describe(self):
        return {"layout": "channels_first"}


class ChannelsFirst(input_kinds.InputKind):
    """One-hot DNA with the bases on the first axis, (N, 4, L)."""

    description = "channels-first one-hot DNA (N, 4, L)"
    adapter = _ChannelsFirstAdapter

    def claims(self, tensor):
        return 3 if len(tensor.shape) == 3 and tensor.shape[1] == 4 and tensor.shape[-1] != 4 else 0

    def adapt(self, model, index, tokens=None):
        return self.adapter(model)

    def example(self, rng):
        inputs = keras.Input((4, 10))
        hidden = keras.layers.Conv1D(3, 3, activation="relu")(keras.layers.Permute((2, 1))(inputs))
        model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(hidden)))
        testing.seeded_weights(model, 1)
        x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (5, 10))]
        return model, x, lambda m, onehot: np.asarray(m(np.swapaxes(onehot, 1, 2)))


class ChannelsFirstReshaped(ChannelsFirst):
    """Broken: reshapes (N, L, 4) into (N, 4, L) instead of transposing."""

    description = "channels-first one-hot DNA, reshaped (N, 4, L)"

    def adapter(self, model):
        return _ChannelsFirstAdapter(model, keras.layers.Reshape((4, int(model.inputs[0].shape[-1]))))


class ClaimsPositive(ShuffledPositions):
    """Broken: declares itself right by construction, but knows nothing."""

    expect = "positive"


def test_a_correct_method_passes_and_gets_the_checks_its_hooks_call_for(registered):
    name = registered(methods.REGISTRY, "toy_gradient_x_input", GradientTimesInput)
    testing.check_method(name)
    assert "check_draws_nothing" in dict(testing.method_checks(name))
    name = registered(methods.REGISTRY, "toy_noisy_gradient", NoisyGradient)
    testing.check_method(name)
    assert "check_draws_keyed_by_sequence" in dict(testing.method_checks(name))


def test_a_method_drawing_unkeyed_randomness_fails_by_name(registered):
    name = registered(methods.REGISTRY, "toy_unkeyed_noise", UnkeyedNoise)
    with pytest.raises(AssertionError, match="toy_unkeyed_noise: check_shape_and_batch_size"):
        testing.check_method(name)


def test_a_correct_metric_passes_and_a_metric_that_cannot_fail_does_not(registered):
    testing.check_metric(registered(metrics.REGISTRY, "toy_mass_on_site", MassOnSite))
    name = registered(metrics.REGISTRY, "toy_mass_anywhere", MassAnywhere)
    with pytest.raises(AssertionError, match="toy_mass_anywhere: check_oracle_against_placebo"):
        testing.check_metric(name)


def test_the_kit_refuses_what_is_not_a_registered_name():
    with pytest.raises(TypeError, match="method="):
        testing.method_checks(GradientTimesInput)
    with pytest.raises(ValueError, match="no_such_method"):
        testing.method_checks("no_such_method")
    with pytest.raises(TypeError, match="metric="):
        testing.metric_checks(MassOnSite())


def test_a_control_arm_from_a_test_file_is_one_class_and_one_registration(registered, tmp_path):
    """It runs by default, and appears in the summary, the report and the zoo's table."""
    from keras_iml.zoo.batch import BatchSettings, validate_model
    from keras_iml.zoo.batch.summary import verdict_counts

    name = registered(controls.REGISTRY, "shuffled_positions", ShuffledPositions)
    testing.check_control(name)
    x, mask = testing.planted_sites(24, 80, 1)
    model = keras_iml.models.pwm.pwm_model(testing.oracle_pfm(), 80)
    report = keras_iml.validate(model, x, ground_truth=mask, methods=["saliency"],
                                protocol="quick", verbose=0)
    label = "shuffled_positions:saliency"
    arm = report.controls.set_index("arm").loc[label]
    assert arm["kind"] == "shuffled_positions" and arm["expect"] == "negative"
    rows = report.summary[report.summary["method"] == label]
    assert len(rows) and (rows["arm"] == "shuffled_positions").all()
    # compared with saliency's own placebo, like every arm
    evidence = report.tables["placebo_comparison"]
    assert set(evidence.loc[evidence["method"] == label, "placebo"]) == {"placebo:saliency"}
    report.to_html(tmp_path / "report.html")
    assert label in (tmp_path / "report.html").read_text(encoding="utf-8")

    settings = BatchSettings(n_sequences=8, cache_dir=str(tmp_path / "cache"), offline=True,
                             protocol={"base": "quick", "methods": {"saliency": {}},
                                       "metrics": ["localisation_auroc"], "n_bootstrap": 20})
    row, _ = validate_model("JASPAR/MA0139.2", settings)
    assert row["status"] == "ok", row.get("traceback")
    verdicts = pd.DataFrame([{"name": row["name"], **v} for v in row["verdicts"]])
    mine = verdicts[(verdicts["label"] == label) & (verdicts["tier"] == "tier3")]
    assert mine[["kind", "expect"]].values.tolist() == [["shuffled_positions", "negative"]]
    counts = verdict_counts(verdicts.assign(verdict=np.where(verdicts["label"] == label, "pass",
                                                             verdicts["verdict"])), arms=True)
    mine = counts[(counts["method"] == label) & (counts["tier"] == "tier3")]
    assert list(mine["unexpected models"]) == ["JASPAR/MA0139.2"]  # a negative arm that passed


def test_an_input_kind_from_a_test_file_is_one_class_and_one_registration(registered):
    """A model taking channels-first DNA is explained through it, as the built-in kinds are."""
    kind = ChannelsFirst()
    registered(input_kinds.REGISTRY, "channels_first", kind)
    testing.check_input_kind("channels_first")
    model, x, forward = kind.example(np.random.default_rng(2))
    ism = keras_iml.explain(model, x, "ism", verbose=0).values
    mutant = x.copy()
    mutant[:, 3] = [0, 0, 1, 0]
    np.testing.assert_allclose(ism[:, 3, 2], (forward(model, mutant) - forward(model, x))[:, 0], atol=1e-5)
    assert "channels-first one-hot DNA (N, 4, L)" in input_kinds.describe_kinds()


def test_an_input_kind_whose_adapter_is_wrong_fails_by_name(registered):
    registered(input_kinds.REGISTRY, "channels_first_reshaped", ChannelsFirstReshaped())
    with pytest.raises(AssertionError, match="channels_first_reshaped: check_adapter_equals_model"):
        testing.check_input_kind("channels_first_reshaped")


class _OffByOneISM:
    """Broken: the right mutants, each scored 0.5 too high."""

    feature_size = 1

    def __init__(self, function):
        self.function = function

    def __call__(self, x, n, i, b, chunk):
        mutants = x[n].copy()
        mutants[np.arange(len(n)), i] = np.eye(4, dtype=np.float32)[b]
        return self.function(x), self.function(mutants) + 0.5


def _off_by_one(function, length, example=None):
    return _OffByOneISM(function)


def _by_tensor_identity(function, length, example=None):
    """Broken: recognises a chain by tensor identity, which a reloaded model does not keep."""
    layers = function.model.layers
    chain = all(b.input is a.output for a, b in zip(layers, layers[1:]))
    return _OffByOneISM(function) if chain and isinstance(function.model, keras.Sequential) else None


@pytest.mark.parametrize("plugin,check", [(_off_by_one, "check_equals_generic"),
                                          (_by_tensor_identity, "check_taken_after_reload")])
def test_a_broken_fast_path_fails_by_name(plugin, check):
    from keras_iml.engine import fast_paths

    fast_paths.register("ism", "broken_toy", priority=-10, example=fast_paths.chain_example)(plugin)
    try:
        with pytest.raises(AssertionError, match=f"ism/broken_toy: {check} failed"):
            testing.check_fast_path("ism", "broken_toy")
    finally:
        fast_paths.unregister("ism", "broken_toy")


def test_a_control_arm_that_cannot_meet_its_expectation_fails_by_name(registered):
    name = registered(controls.REGISTRY, "claims_positive", ClaimsPositive)
    with pytest.raises(AssertionError, match="claims_positive: check_(made_and_labelled|expectation)"):
        testing.check_control(name)


def test_the_default_protocols_come_from_the_plugins_hooks(registered):
    """A new metric runs by default, after the built-ins of its tier, with no list edited;
    a method joins the defaults by declaring its options there."""
    from keras_iml.validation import Protocol

    before = list(Protocol.default().metrics)
    registered(metrics.REGISTRY, "toy_mass_on_site", MassOnSite)
    after = list(Protocol.default().metrics)
    assert after == before + ["toy_mass_on_site"]  # tier 3, after the built-in tier-3 metrics
    assert "toy_mass_on_site" in Protocol.quick().metrics

    class Shy(GradientTimesInput):
        default_options = None

    class Keen(GradientTimesInput):
        default_options, quick_options, order = {}, None, -1

    registered(methods.REGISTRY, "toy_shy", Shy)
    registered(methods.REGISTRY, "toy_keen", Keen)
    default = list(Protocol.default().methods)
    assert default[0] == "toy_keen" and "toy_shy" not in default
    assert "toy_keen" not in Protocol.quick().methods
