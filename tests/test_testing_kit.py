"""The public test kit (keras_iml.testing) on plugins written outside the package,
as a user's own method or metric would be: a correct one passes, a broken one fails
on the check that names its fault."""

import numpy as np
import pytest

from keras_iml import methods, metrics, testing


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
