"""The common checks of an attribution method, chosen by its declared hooks."""

import numpy as np

import keras
from keras_iml import methods as methods_lib
from keras_iml.explanations import explain
from keras_iml.testing.toys import toy_cnn, toy_multi_output, toy_sequences

__all__ = ["method_checks", "check_method"]

_TOL = {"rtol": 1e-4, "atol": 1e-5}


def _method_name(method):
    if isinstance(method, str):
        methods_lib.REGISTRY.get_class(method)  # a clear error for an unregistered name
        return method
    raise TypeError(f"`method` must be a registered method's name. Received: method={method!r}")


def _check_shape_and_batch_size(name):
    model, x = toy_cnn(), toy_sequences()
    a = explain(model, x, name, batch_size=5, seed=3, verbose=0)
    b = explain(model, x, name, batch_size=12, seed=3, verbose=0)
    assert a.values.shape == x.shape and a.values.dtype == np.float32, (a.values.shape, a.values.dtype)
    assert np.isfinite(a.values).all(), "non-finite attributions"
    assert np.abs(a.values).sum() > 0, "all-zero attributions"
    np.testing.assert_allclose(a.values, b.values, err_msg="depends on batch_size", **_TOL)
    if a.hypothetical is not None:
        np.testing.assert_allclose(a.hypothetical, b.hypothetical, **_TOL)
    assert a.method == name and a.params["seed"] == 3, (a.method, a.params)


def _check_seed(name):
    model, x = toy_cnn(), toy_sequences(4)
    a = explain(model, x, name, seed=11, verbose=0)
    b = explain(model, x, name, seed=11, verbose=0)
    np.testing.assert_array_equal(a.values, b.values, err_msg="not reproducible under a seed")
    c = explain(model, x, name, seed=None, verbose=0)
    d = explain(model, x, name, seed=c.params["seed"], verbose=0)
    np.testing.assert_allclose(c.values, d.values, rtol=1e-5, atol=1e-6,
                               err_msg="seed=None does not record the seed it drew")


def _snapshot(model):
    return ([w.copy() for w in model.get_weights()], [layer.trainable for layer in model.layers],
            model.compiled)


def _check_model_not_modified(name):
    model = toy_cnn()
    model.compile(optimizer="adam", loss="mse")
    model.layers[0].trainable = False
    before = _snapshot(model)
    explain(model, toy_sequences(3), name, seed=0, verbose=0)
    after = _snapshot(model)
    for w0, w1 in zip(before[0], after[0]):
        np.testing.assert_array_equal(w0, w1, err_msg="the model's weights changed")
    assert before[1:] == after[1:], "the model's trainable flags or compiled state changed"


def _check_target(name):
    multi, x = toy_multi_output(), toy_sequences(3)
    single = keras.Model(multi.inputs, keras.layers.Lambda(lambda t: t[:, 1:2])(multi.outputs[0]))
    a = explain(multi, x, name, target=1, seed=0, verbose=0)
    b = explain(single, x, name, seed=0, verbose=0)
    np.testing.assert_allclose(a.values, b.values, err_msg="target=1 is not output 1", **_TOL)
    for target in (7, None):
        try:
            explain(multi, x, name, target=target, verbose=0)
        except ValueError as err:
            assert "target" in str(err), err
        else:
            raise AssertionError(f"target={target!r} on a 3-output model did not raise ValueError")


def _check_config(name):
    method = methods_lib.get(name)
    again = methods_lib.get({"class_name": name, "config": method.get_config()})
    assert type(again) is type(method)
    assert again.get_config().keys() == method.get_config().keys()


def _check_draws_keyed_by_sequence(name):
    """Declared ``stochastic``: a sequence gets the same draws alone, in any batch,
    order or subsample; the seed changes them; identical copies get draws of their own."""
    model, x = toy_cnn(), toy_sequences()
    full = explain(model, x, name, seed=5, batch_size=5, verbose=0)
    close = {"rtol": 1e-5, "atol": 1e-6}
    np.testing.assert_allclose(explain(model, x[5:6], name, seed=5, verbose=0).values[0],
                               full.values[5], err_msg="alone != in the batch", **close)
    reverse = explain(model, x[::-1], name, seed=5, batch_size=7, verbose=0)
    np.testing.assert_allclose(reverse.values[::-1], full.values, err_msg="order matters", **close)
    index = [9, 2, 7]
    np.testing.assert_allclose(explain(model, x[index], name, seed=5, verbose=0).values,
                               full.values[index], err_msg="subsample differs", **close)
    other = explain(model, x[:3], name, seed=6, verbose=0)
    assert not np.allclose(other.values, full.values[:3]), "the seed changes nothing: not stochastic?"
    twice = explain(model, x[[4, 4]], name, seed=5, verbose=0)
    np.testing.assert_allclose(twice.values[0], full.values[4], **close)
    assert not np.allclose(twice.values[1], twice.values[0]), "identical copies share their draws"


def _check_draws_nothing(name):
    """Not declared ``stochastic``: the seed must not change the attributions."""
    model, x = toy_cnn(), toy_sequences(3)
    a, b = (explain(model, x, name, seed=s, verbose=0).values for s in (1, 2))
    np.testing.assert_array_equal(a, b, err_msg="the seed changes a method not declared stochastic")


def method_checks(method):
    """The checks that apply to a registered method, chosen by its declared hooks.

    Args:
        method: a registered method's name.

    Returns:
        list of ``(check_name, function)``; each function takes no argument and
        raises ``AssertionError`` on a failure.
    """
    name = _method_name(method)
    checks = [_check_shape_and_batch_size, _check_seed, _check_model_not_modified,
              _check_target, _check_config]
    stochastic = bool(methods_lib.get(name).stochastic)  # may depend on the defaults (a property)
    checks.append(_check_draws_keyed_by_sequence if stochastic else _check_draws_nothing)
    return [(check.__name__.lstrip("_"), lambda check=check: check(name)) for check in checks]


def check_method(method):
    """Runs every check of :func:`method_checks` on a registered method.

    Raises:
        AssertionError: naming the check that failed.
    """
    for check_name, check in method_checks(method):
        try:
            check()
        except AssertionError as err:
            raise AssertionError(f"{method}: {check_name} failed: {err}") from err
