"""The common checks of a fast path (:mod:`keras_iml.engine.fast_paths`), on the
example model it declared when it was registered: the plugin is taken on the model
and on the same model saved to ``.keras`` and loaded back (structure is recognised
from the layers and their config, never from tensor identity), and what it computes
on the reloaded model equals the generic computation."""

import os
import tempfile

import numpy as np

import keras
from keras_iml.engine import fast_paths
from keras_iml.engine.function import ModelFunction
from keras_iml.methods import integrated_gradients

__all__ = ["fast_path_checks", "check_fast_path"]


def _plugin(hook, name):
    found = dict(fast_paths.plugins(hook))
    if name not in found:
        raise ValueError(f"No {hook!r} fast path named {name!r}; registered: {sorted(found)}. "
                         f"Received: name={name!r}")
    return found[name]


def _example(hook, name):
    make = fast_paths.example(hook, name)
    assert make is not None, "declares no `example` (fast_paths.register(..., example=...))"
    model, x = make(np.random.default_rng(0))
    assert isinstance(model, keras.Model), f"the example's model is a {type(model).__name__}"
    x = np.asarray(x, np.float32)
    assert x.ndim == 3 and x.shape[-1] == 4 and len(x) >= 2, f"the example's x has shape {x.shape}"
    return model, x


def _reloaded(model):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "example.keras")
        model.save(path)
        return keras.saving.load_model(path)


def _applies(hook, plugin, function, x):
    """What the plugin returns for ``function`` (None: it does not apply)."""
    if hook == "path_gradients":
        return plugin(function)
    if hook == "ism":
        return plugin(function, x.shape[1], x[:2])
    values = [plugin(layer) for layer in function.model.layers]
    found = [v for v in values if v is not None]
    return found[0] if found else None


def _check_declares_an_example(hook, name):
    _example(hook, name)


def _check_taken_after_reload(hook, name):
    model, x = _example(hook, name)
    plugin = _plugin(hook, name)
    for which, m in (("in memory", model), ("loaded back from .keras", _reloaded(model))):
        assert _applies(hook, plugin, ModelFunction(m), x) is not None, f"not taken on the model {which}"


def _all_mutants(x):
    n, length, _ = x.shape
    seq, pos, base = np.meshgrid(np.arange(n), np.arange(length), np.arange(4), indexing="ij")
    keep = base != x.argmax(-1)[..., None]
    return seq[keep], pos[keep], base[keep]


def _check_equals_generic(hook, name):
    model, x = _example(hook, name)
    loaded = _reloaded(model)
    function = ModelFunction(loaded)
    plugin = _plugin(hook, name)
    if hook == "path_gradients":
        rng = np.random.default_rng(1)
        refs = x[:, rng.permutation(x.shape[1])]
        alphas = np.tile(np.linspace(0.0, 1.0, 8, dtype=np.float32), (len(x), 1))
        weights = np.full_like(alphas, 1.0 / 8)
        fast = integrated_gradients.path_gradients(function, x, refs, alphas, weights, fast=name)
        plain = integrated_gradients.path_gradients(function, x, refs, alphas, weights, fast=False)
        np.testing.assert_allclose(fast, plain, rtol=1e-4, atol=1e-5, err_msg="differs from the plain path")
    elif hook == "ism":
        runner = _applies(hook, plugin, function, x)
        n, i, b = _all_mutants(x)
        fx, fm = runner(x, n, i, b, len(n))
        mutants = x[n].copy()
        mutants[np.arange(len(n)), i] = np.eye(4, dtype=np.float32)[b]
        np.testing.assert_allclose(np.asarray(fx), np.asarray(function(x)), rtol=1e-4, atol=1e-5,
                                   err_msg="f(x) differs from the model's")
        np.testing.assert_allclose(np.asarray(fm), np.asarray(function(mutants)), rtol=1e-4, atol=1e-5,
                                   err_msg="f(mutant) differs from the model's on the mutants")
    else:
        value = _applies(hook, plugin, function, x)
        assert np.isfinite(value) and value > 0, f"activation scale {value!r}"


def fast_path_checks(hook, name):
    """The checks of a registered fast path: ``[(check_name, function)]``."""
    _plugin(hook, name)  # a ValueError naming the registered plugins for an unknown name
    return [
        ("check_declares_an_example", lambda: _check_declares_an_example(hook, name)),
        ("check_taken_after_reload", lambda: _check_taken_after_reload(hook, name)),
        ("check_equals_generic", lambda: _check_equals_generic(hook, name)),
    ]


def check_fast_path(hook, name):
    """Runs every check of :func:`fast_path_checks`; AssertionError names the one that failed.

    Example:
        >>> keras_iml.testing.check_fast_path("ism", "receptive_field")
    """
    for check_name, check in fast_path_checks(hook, name):
        try:
            check()
        except AssertionError as err:
            raise AssertionError(f"{hook}/{name}: {check_name} failed: {err}") from err
