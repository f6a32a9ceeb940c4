"""The common checks of an input kind (:mod:`keras_iml.engine.input_kinds`), on the
small model its ``example`` declares: the kind claims the model's input, its adapter
equals the model on every single-base mutant of the example DNA (in-silico
mutagenesis through the engine against mutants run through the model's own
encoding), explanations do not depend on the batch size, and the user's model is
left as it was."""

import numpy as np

import keras_iml
from keras_iml.engine import input_kinds

__all__ = ["input_kind_checks", "check_input_kind"]


def _example(name):
    kind = input_kinds.get(name)
    model, x, forward = kind.example(np.random.default_rng(0))
    return kind, model, np.asarray(x, np.float32), forward


def _check_declarations(name):
    kind = input_kinds.get(name)
    assert isinstance(kind.description, str) and kind.description, f"description={kind.description!r}"
    assert kind.description in input_kinds.describe_kinds(), "not listed where inputs are refused"


def _check_claims_its_example(name):
    kind, model, x, _ = _example(name)
    assert x.ndim == 3 and x.shape[-1] == 4, f"the example's DNA must be one-hot (N, L, 4): {x.shape}"
    claimed = input_kinds.kind_of(model.inputs[0])
    assert claimed is kind, f"the example model's input is claimed by {claimed!r}, not by {name!r}"


def _check_adapter_equals_model(name):
    kind, model, x, forward = _example(name)
    explained, adapter = input_kinds.adapt(model)
    if adapter is not None:
        for attribute in ("model", "forward", "length", "describe"):
            assert hasattr(adapter, attribute), f"the adapter lacks `{attribute}`"
    np.testing.assert_allclose(np.asarray(explained(x)), forward(model, x), rtol=1e-5, atol=1e-6,
                               err_msg="the one-hot model differs from the model on the example")
    ism = keras_iml.explain(model, x, "ism", verbose=0).values
    n, length, _ = x.shape
    base = forward(model, x).reshape(n, -1)[:, 0]
    expected = np.zeros_like(ism)
    for pos in range(length):
        for b in range(4):
            mutant = x.copy()
            mutant[:, pos] = np.eye(4, dtype=np.float32)[b]
            expected[:, pos, b] = forward(model, mutant).reshape(n, -1)[:, 0] - base
    np.testing.assert_allclose(ism, expected, rtol=1e-4, atol=1e-5,
                               err_msg="ISM through the engine differs from mutants run through the model")


def _check_batch_size_invariance(name):
    _, model, x, _ = _example(name)
    whole = keras_iml.explain(model, x, "saliency", batch_size=len(x), verbose=0).values
    parts = keras_iml.explain(model, x, "saliency", batch_size=2, verbose=0).values
    np.testing.assert_allclose(parts, whole, rtol=1e-5, atol=1e-7, err_msg="depends on the batch size")
    assert np.isfinite(whole).all() and np.abs(whole).sum() > 0, "saliency is empty or not finite"


def _check_model_untouched(name):
    _, model, x, forward = _example(name)
    weights = [w.copy() for w in model.get_weights()]
    before = forward(model, x)
    keras_iml.explain(model, x, "saliency", verbose=0)
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b, err_msg="explaining changed the model's weights")
    np.testing.assert_array_equal(forward(model, x), before, err_msg="explaining changed the model")


def input_kind_checks(name):
    """The checks of a registered input kind: ``[(check_name, function)]``."""
    input_kinds.get(name)  # a ValueError naming the registered kinds for an unknown name
    return [
        ("check_declarations", lambda: _check_declarations(name)),
        ("check_claims_its_example", lambda: _check_claims_its_example(name)),
        ("check_adapter_equals_model", lambda: _check_adapter_equals_model(name)),
        ("check_batch_size_invariance", lambda: _check_batch_size_invariance(name)),
        ("check_model_untouched", lambda: _check_model_untouched(name)),
    ]


def check_input_kind(name):
    """Runs every check of :func:`input_kind_checks`; AssertionError names the one that failed.

    Example:
        >>> keras_iml.testing.check_input_kind("tokens")
    """
    for check_name, check in input_kind_checks(name):
        try:
            check()
        except AssertionError as err:
            raise AssertionError(f"{name}: {check_name} failed: {err}") from err
