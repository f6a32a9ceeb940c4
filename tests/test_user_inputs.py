"""Inputs a new user passes as they come: strings in numpy arrays, pandas Series and
tf.data datasets, a corrupt model file, a misspelt protocol, labels that are not binary."""

import numpy as np
import pandas as pd
import pytest

from keras_iml import cli, dna, io
import keras_iml

from conftest import make_cnn

SEQS = ["ACGTTGCA" * 7 + "ACGT", "TTTTGGGGCCCCAAAA" * 3 + "ACGTACGTACGT"]


@pytest.mark.parametrize("form", ["list", "numpy", "numpy_bytes", "series", "dataset"])
def test_strings_in_any_container_explain_like_one_hot(form):
    import tensorflow as tf

    model = make_cnn()
    expected = keras_iml.explain(model, dna.one_hot(SEQS), "saliency", verbose=0).values
    x = {"list": SEQS, "numpy": np.array(SEQS), "numpy_bytes": np.array([s.encode() for s in SEQS]),
         "series": pd.Series(SEQS), "dataset": tf.data.Dataset.from_tensor_slices(SEQS)}[form]
    got = keras_iml.explain(model, x, "saliency", verbose=0).values
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_a_corrupt_model_file_is_not_reported_missing(tmp_path, capsys):
    bad = tmp_path / "model.keras"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="exists but could not be read") as err:
        io.load_model(bad)
    assert "MODEL=" in str(err.value)
    with pytest.raises(FileNotFoundError, match="No such model file"):
        io.load_model(tmp_path / "absent.keras")
    fasta = tmp_path / "x.fa"
    fasta.write_text(">a\n" + SEQS[0] + "\n")
    assert cli.main(["explain", str(bad), str(fasta)]) == 2
    assert "could not be read as a Keras 3 model" in capsys.readouterr().err


def test_a_misspelt_protocol_lists_the_names():
    with pytest.raises(FileNotFoundError, match="'default', 'quick'"):
        keras_iml.validate(make_cnn(), dna.one_hot(SEQS), protocol="quik", verbose=0)


def test_labels_that_are_not_binary_are_said_to_skip_the_auroc():
    report = keras_iml.validate(make_cnn(), dna.one_hot(SEQS), y=np.array([0.2, 3.0]), verbose=0,
                                protocol={"base": "quick", "metrics": ["deletion"], "controls": False})
    assert "auroc" not in report.model_info and "not one binary column" in report.model_info["y_note"]
