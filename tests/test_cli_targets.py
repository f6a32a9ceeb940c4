"""``--target`` in the CLI, and targets of outputs whose width is known only at run time."""

import subprocess
import sys

import numpy as np
import pytest

import keras

import keras_iml
from keras_iml.cli.explain import parse_target


def _two_headed(path):
    inp = keras.Input((None, 4))
    h = keras.layers.Conv1D(4, 5, padding="same", activation="relu", name="c")(inp)
    prof = keras.layers.Flatten(name="profile")(keras.layers.Conv1D(1, 1, name="head")(h))
    counts = keras.layers.Dense(1, name="counts")(keras.layers.GlobalAveragePooling1D()(h))
    model = keras.Model(inp, {"profile": prof, "counts": counts})
    model.save(path)
    return model


@pytest.mark.parametrize("text, expected", [
    ("3", 3), ("counts", "counts"), ("profile:3", ("profile", 3)), ("a:b:2", ("a:b", 2)),
])
def test_parse_target(text, expected):
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", ["", "profile:x", ":3"])
def test_parse_target_refuses(text):
    import argparse

    with pytest.raises(argparse.ArgumentTypeError):
        parse_target(text)


def test_a_column_of_a_flattened_profile_is_explained(tmp_path):
    model = _two_headed(tmp_path / "m.keras")
    x = keras_iml.dna.one_hot(["ACGTTGCAAGGCTTACGATC", "GGGCCCAAATTTACGTACGT"])
    attr = keras_iml.explain(model, x, "saliency", target=("profile", 3))
    # Position 3 of the profile reads bases 1..5 (kernel 5, 'same' padding): the
    # gradient is zero outside that receptive field.
    outside = np.delete(attr.values, np.arange(1, 6), axis=1)
    assert np.abs(outside).max() == 0
    assert np.abs(attr.values[:, 1:6]).max() > 0
    # The value equals a finite difference on the model's own output column.
    eps = 1e-3
    bumped = x.copy()
    bumped[0, 2, 1] += eps
    out = model.predict(np.concatenate([x[:1], bumped[:1]]), verbose=0)["profile"][:, 3]
    np.testing.assert_allclose((out[1] - out[0]) / eps, attr.values[0, 2, 1], rtol=2e-2, atol=1e-4)
    # Negative columns count from the end (20 positions: -17 is 3); lists sum columns.
    last = keras_iml.explain(model, x, "saliency", target=("profile", -17))
    np.testing.assert_allclose(last.values, attr.values, atol=1e-7)
    pair = keras_iml.explain(model, x, "saliency", target=("profile", [3, 10]))
    ten = keras_iml.explain(model, x, "saliency", target=("profile", 10))
    np.testing.assert_allclose(pair.values, attr.values + ten.values, atol=1e-6)


def test_cli_target_name_and_column(tmp_path):
    model_path = tmp_path / "m.keras"
    model = _two_headed(model_path)
    fasta = tmp_path / "s.fa"
    fasta.write_text(">a\nACGTTGCAAGGCTTACGATC\n>b\nGGGCCCAAATTTACGTACGT\n")
    for text, target in [("profile:3", ("profile", 3)), ("counts", "counts")]:
        out = tmp_path / f"{text.replace(':', '_')}.npz"
        subprocess.run([sys.executable, "-m", "keras_iml", "explain", str(model_path), str(fasta),
                        "--target", text, "--out", str(out)], check=True, capture_output=True)
        expected = keras_iml.explain(model, keras_iml.dna.one_hot(
            ["ACGTTGCAAGGCTTACGATC", "GGGCCCAAATTTACGTACGT"]), "saliency", target=target)
        np.testing.assert_allclose(np.load(out)["values"], expected.values, atol=1e-6)


def test_the_name_of_a_single_output_is_a_target():
    inp = keras.Input((20, 4))
    out = keras.layers.Dense(1, name="counts")(keras.layers.GlobalAveragePooling1D()(inp))
    model = keras.Model(inp, out)
    x = keras_iml.dna.one_hot(["ACGTTGCAAGGCTTACGATC"])
    named = keras_iml.explain(model, x, "saliency", target="counts")
    plain = keras_iml.explain(model, x, "saliency")
    np.testing.assert_allclose(named.values, plain.values)
    with pytest.raises(ValueError, match="not an output"):
        keras_iml.explain(model, x, "saliency", target="profile")
