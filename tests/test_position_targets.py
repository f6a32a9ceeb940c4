"""Per-position targets: ``(class, position)``, windows, BPNet's profile reduction, class
names from the model's metadata, and their refusals — on small models whose receptive
field is known by construction."""

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import keras

import keras_iml
from keras_iml import methods
from keras_iml.cli.explain import parse_target
from keras_iml.engine.targets import check_target, name_classes

CLASSES = ["none", "acceptor", "donor"]
#: Output position p reads input positions p .. p + 6 (valid convolutions of width 5 and 3).
FIELD = 7


def _splicer(seed=0, softmax=True):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((None, 4))
    h = keras.layers.Conv1D(8, 5, activation="tanh", name="c1")(inp)
    out = keras.layers.Conv1D(3, 3, activation="softmax" if softmax else None, name="sites")(h)
    return keras.Model(inp, out)


def _x(n=5, length=40, seed=0):
    return keras_iml.dna.random_sequences(n, length, rng=seed)


def _tape(model, x, reduce):
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        value = tf.reduce_sum(reduce(model(xt)))
    return tape.gradient(value, xt).numpy()


def test_a_class_at_a_position_is_its_gradient_and_reads_only_its_field():
    model, x = _splicer(), _x()
    iml = keras_iml.wrap(model, metadata={"classes": CLASSES})
    attr = iml.explain(x, "saliency", target=("donor", 12))
    np.testing.assert_allclose(attr.values, _tape(model, x, lambda y: y[:, 12, 2]), atol=1e-7)
    outside = np.delete(attr.values, np.arange(12, 12 + FIELD), axis=1)
    assert np.abs(outside).max() == 0 and np.abs(attr.values[:, 12:12 + FIELD]).max() > 0
    # by index, by name, negative from the end (34 output positions): the same
    same = keras_iml.explain(model, x, "saliency", target=(2, -22))
    np.testing.assert_allclose(same.values, attr.values, atol=0)


def test_a_window_is_the_sum_of_its_positions_and_ism_matches_every_mutant():
    model, x = _splicer(), _x(n=3, length=30)
    iml = keras_iml.wrap(model, metadata={"classes": CLASSES})
    window = iml.explain(x, "saliency", target=("acceptor", slice(5, 9)))
    parts = sum(iml.explain(x, "saliency", target=("acceptor", p)).values for p in range(5, 9))
    np.testing.assert_allclose(window.values, parts, atol=1e-6)
    ism = iml.explain(x, "ism", target=("acceptor", slice(5, 9)))
    base = model.predict(x, verbose=0)[:, 5:9, 1].sum(axis=1)
    for i, pos, base_index in [(0, 6, 0), (1, 10, 3), (2, 15, 2)]:
        mutant = x[i:i + 1].copy()
        mutant[0, pos] = np.eye(4)[base_index]
        expected = model.predict(mutant, verbose=0)[0, 5:9, 1].sum() - base[i]
        np.testing.assert_allclose(ism.values[i, pos, base_index], expected, atol=1e-5)
    assert np.abs(np.delete(ism.values, np.arange(5, 9 + FIELD - 1), axis=1)).max() == 0


def test_the_profile_reduction_holds_the_softmax_weights_fixed():
    model, x = _splicer(softmax=False), _x(n=4)
    explainer = keras_iml.Explainer(model, target=(1, "weighted"))
    z = model.predict(x, verbose=0)[:, :, 1].astype(np.float64)
    w = np.exp(z - z.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(explainer.predict(x), (w * z).sum(axis=1), rtol=1e-5)
    attr = explainer.run("saliency", x)
    fixed = tf.constant(w, tf.float32)
    np.testing.assert_allclose(attr.values, _tape(model, x, lambda y: fixed * y[:, :, 1]), atol=1e-6)


def test_batches_do_not_change_a_position_target():
    model, x = _splicer(), _x(n=7)
    one = keras_iml.explain(model, x, "integrated_gradients", target=(2, 9), batch_size=1)
    many = keras_iml.explain(model, x, "integrated_gradients", target=(2, 9), batch_size=7)
    np.testing.assert_allclose(one.values, many.values, atol=1e-6)


#: How far a method spreads a base's effect (occlusion: over its default 5-base window).
SPREAD = {"occlusion": 4}


@pytest.mark.parametrize("name", sorted(set(methods.names()) - {"grad_cam", "placebo"}))
def test_every_method_reads_only_the_field_of_the_position(name):
    """grad_cam upsamples a coarse map and placebo ignores the model by design."""
    model, x = _splicer(), _x(n=2, length=30)
    attr = keras_iml.explain(model, x, name, target=(2, 10), seed=0)
    assert np.isfinite(attr.values).all()
    spread = SPREAD.get(name, 0)
    outside = np.delete(attr.values, np.arange(10 - spread, 10 + FIELD + spread), axis=1)
    assert np.abs(outside).max() < 1e-6, name
    assert np.abs(attr.values[:, 10:10 + FIELD]).max() > 0, name


def test_a_multi_output_model_takes_output_class_position():
    keras.utils.set_random_seed(1)
    inp = keras.Input((None, 4))
    h = keras.layers.Conv1D(6, 5, activation="relu", name="c")(inp)
    profile = keras.layers.Conv1D(2, 1, name="profile")(h)
    counts = keras.layers.Dense(1, name="counts")(keras.layers.GlobalAveragePooling1D()(h))
    model = keras.Model(inp, {"profile": profile, "counts": counts})
    x = _x(n=3)
    attr = keras_iml.explain(model, x, "saliency", target=("profile", 1, 7))
    np.testing.assert_allclose(attr.values, _tape(model, x, lambda y: y["profile"][:, 7, 1]), atol=1e-7)
    counts_attr = keras_iml.explain(model, x, "saliency", target=("counts", 0))  # unchanged meaning
    np.testing.assert_allclose(counts_attr.values, _tape(model, x, lambda y: y["counts"][:, 0]), atol=1e-7)
    with pytest.raises(ValueError, match=r"value per position.*never summed"):
        keras_iml.explain(model, x, "saliency", target="profile")


def test_class_names_survive_a_reload(tmp_path):
    iml = keras_iml.wrap(_splicer(), metadata={"classes": CLASSES})
    iml.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    assert again.classes == tuple(CLASSES)
    x = _x(n=2)
    np.testing.assert_allclose(again.explain(x, target=("donor", 3)).values,
                               iml.explain(x, target=(2, 3)).values, atol=1e-7)


@pytest.mark.parametrize("target, error, match", [
    (None, ValueError, r"shape \(N, 34, 3\).*target=\(class, position\).*Received: target=None"),
    (2, ValueError, r"never summed over every position. Received: target=2"),
    ([0, 1], ValueError, r"never summed"),
    (("splice", 3), ValueError, r"'splice' is not a class of the model \(its classes: \['none'"),
    ((2, 34), ValueError, r"selects no position: the output has 34 positions"),
    ((3, 1), ValueError, r"does not exist: the output has 3 classes"),
    ((2, slice(40, 50)), ValueError, r"selects no position"),
    ((2, slice(1, 5, 0)), ValueError, r"slice step cannot be 0"),
    ((2, 1.5), TypeError, r"`target` must be"),
    ((2, "mean"), TypeError, r"`target` must be"),
    (("donor", np.array([3])), TypeError, r"`target` must be"),
])
def test_bad_position_targets_are_refused(target, error, match):
    iml = keras_iml.wrap(_splicer(), metadata={"classes": CLASSES})
    with pytest.raises(error, match=match):
        iml.explain(_x(), "saliency", target=target)


def test_a_class_name_needs_classes_and_a_position_needs_a_per_position_output():
    x = _x(n=2)
    with pytest.raises(ValueError, match=r"'donor' is not an output of the model, and the model names no "
                                         r"classes.*metadata=\{'classes'"):
        keras_iml.explain(_splicer(), x, "saliency", target=("donor", 3))
    inp = keras.Input((40, 4))
    flat = keras.Model(inp, keras.layers.Dense(3)(keras.layers.Flatten()(inp)))
    with pytest.raises(ValueError, match=r"names a class and a position, but the output has shape \(N, 3\)"):
        keras_iml.explain(flat, x, "saliency", target=(2, slice(0, 3)))
    # on an (N, K) output a pair of ints still sums two columns
    pair = keras_iml.explain(flat, x, "saliency", target=(0, 2))
    both = keras_iml.explain(flat, x, "saliency", target=[0, 2])
    np.testing.assert_allclose(pair.values, both.values, atol=0)


def test_name_classes_and_check_target():
    assert name_classes(("donor", 5), CLASSES) == (2, 5)
    assert name_classes(("sites", "acceptor", slice(1, 3)), CLASSES) == ("sites", 1, slice(1, 3))
    assert name_classes(("profile", 3), CLASSES, output_names=["profile"]) == ("profile", 3)
    assert name_classes(("donor", 5), None) == ("donor", 5)
    for ok in [("donor", 5), (2, slice(1, 4)), (0, "weighted"), ("profile", 0, "weighted")]:
        check_target(ok)


@pytest.mark.parametrize("text, expected", [
    ("donor@5000", ("donor", 5000)),
    ("2@5000:5010", (2, slice(5000, 5010))),
    ("donor@-1", ("donor", -1)),
    ("0@weighted", (0, "weighted")),
    ("profile:1@7", ("profile", 1, 7)),
    ("a:b:donor@3", ("a:b", "donor", 3)),
])
def test_parse_position_targets(text, expected):
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", ["donor@", "donor@x", "@5", ":donor@5", "donor@1:2:3"])
def test_parse_position_targets_refuses(text):
    import argparse

    with pytest.raises(argparse.ArgumentTypeError):
        parse_target(text)


def test_the_cli_explains_a_named_class_at_a_position(tmp_path):
    iml = keras_iml.wrap(_splicer(), metadata={"classes": CLASSES})
    iml.save(tmp_path / "m.keras")
    x = _x(n=2)
    fasta = tmp_path / "x.fa"
    fasta.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(keras_iml.dna.decode(x))))
    out = tmp_path / "a.npz"
    run = subprocess.run([sys.executable, "-m", "keras_iml", "explain", str(tmp_path / "m.keras"),
                          str(fasta), "--target", "donor@10:12", "--out", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    values = np.load(out)["values"]
    expected = iml.explain(x, "saliency", target=(2, slice(10, 12))).values
    np.testing.assert_allclose(values, expected, atol=1e-6)


def test_deeplift_refuses_the_profile_reduction_by_name():
    with pytest.raises(ValueError, match=r"StopGradient.*Use a gradient method"):
        keras_iml.explain(_splicer(softmax=False), _x(n=2), "deeplift", target=(1, "weighted"))
