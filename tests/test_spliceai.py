"""SpliceAI as a zoo family, on a handful of short windows (its heavy runs are benchmarks).

Needs the ``spliceai`` package (the ``splicing`` and ``test`` extras install it); skipped
with the reason when it is absent.
"""

import importlib.metadata

import numpy as np
import pytest

import keras

import keras_iml
import keras_iml.zoo as zoo
from keras_iml.zoo.families import spliceai as family
from keras_iml.zoo.sources.errors import WeightsUnavailableError

try:
    DIST = importlib.metadata.distribution("spliceai")
except importlib.metadata.PackageNotFoundError:
    DIST = None
needs_spliceai = pytest.mark.skipif(DIST is None, reason="the spliceai package is not installed "
                                                         "(pip install 'keras-iml[splicing]')")

#: The shortest window SpliceAI takes, plus a few output positions.
LENGTH = family.CONTEXT + 24


def _keras_own(member):
    """The member as Keras itself reads the package's file (the independent reference)."""
    return keras.models.load_model(str(DIST.locate_file(f"spliceai/models/{member}.h5")), compile=False)


@needs_spliceai
def test_one_member_loads_as_keras_reads_it_and_names_its_classes(tmp_path):
    model = zoo.load("SpliceAI/spliceai2", cache_dir=tmp_path, offline=True)
    assert model.classes == ("none", "acceptor", "donor") and model.metadata["members"] == ["spliceai2"]
    assert model.metadata["input_length"] is None and model.metadata["family"] == "SpliceAI"
    x = keras_iml.dna.random_sequences(2, LENGTH, rng=0)
    ours = np.asarray(model(x))
    assert ours.shape == (2, 24, 3)
    np.testing.assert_allclose(ours, np.asarray(_keras_own("spliceai2")([x])), atol=1e-6)
    np.testing.assert_allclose(ours.sum(axis=-1), 1.0, atol=1e-5)  # a softmax over the classes
    assert not list(tmp_path.rglob("*.keras"))  # rebuilt from the package, never cached


@needs_spliceai
def test_the_ensemble_is_the_mean_of_the_five(tmp_path):
    model = zoo.load("SpliceAI", cache_dir=tmp_path, offline=True)
    assert model.metadata["members"] == list(family.MEMBERS)
    x = keras_iml.dna.random_sequences(1, LENGTH, rng=1)
    expected = np.mean([np.asarray(_keras_own(m)([x])) for m in family.MEMBERS], axis=0)
    np.testing.assert_allclose(np.asarray(model(x)), expected, atol=1e-6)


@needs_spliceai
def test_the_donor_at_a_position_reads_its_ten_thousand_bases_of_context(tmp_path):
    model = zoo.load("SpliceAI/spliceai1", cache_dir=tmp_path, offline=True)
    x = keras_iml.dna.random_sequences(2, LENGTH, rng=2)
    attr = model.explain(x, "saliency", target=("donor", 10))
    # output position 10 is input position 5010; its field is input 10 .. 10010
    field = np.arange(10, 10 + family.CONTEXT + 1)
    assert np.abs(np.delete(attr.values, field, axis=1)).max() == 0
    centre = np.abs(attr.values[:, 5000:5021]).sum()
    assert centre > 0 and attr.target["target"] == "(2, 10)"


def test_a_missing_package_is_named(monkeypatch, tmp_path):
    def absent(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(family.importlib.metadata, "distribution", absent)
    with pytest.raises(WeightsUnavailableError, match=r"`spliceai` package.*keras-iml\[splicing\]"):
        zoo.load("SpliceAI", cache_dir=tmp_path, offline=True)


@pytest.mark.parametrize("name, kwargs, match", [
    ("SpliceAI/spliceai6", {}, r"'SpliceAI' \(the five averaged\) or one of"),
    ("SpliceAI/x/y", {}, r"Received: name='SpliceAI/x/y'"),
])
def test_bad_spliceai_names_are_refused(name, kwargs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        zoo.load(name, cache_dir=tmp_path, offline=True, **kwargs)


@needs_spliceai
def test_a_too_short_input_length_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"more than 10000 bases.*input_length=5000"):
        zoo.load("SpliceAI/spliceai1", input_length=5000, cache_dir=tmp_path, offline=True)
