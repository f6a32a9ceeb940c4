"""The zoo family registry: discovery, lookup by a name's first component, registration."""

import numpy as np
import pytest

import keras
from keras_iml import dna
from keras_iml.zoo import families
import keras_iml.zoo as zoo

from conftest import REPO


class Toy(families.Family):
    """A family without files: a one-filter scanner of any length (default 20)."""

    name = "Toy"
    needs_spec = False
    options = ("width",)

    def build(self, request, files):
        inp = keras.Input((request.input_length or 20, 4))
        conv = keras.layers.Conv1D(1, request.options.get("width", 3), kernel_initializer="ones")(inp)
        out = keras.layers.GlobalMaxPooling1D()(conv)
        return keras.Model(inp, out, name="toy"), {"tf": ["TOY"], "output": "a toy score"}


def test_every_family_module_is_registered():
    assert {"DeepBind", "FactorNet", "JASPAR", "MPRA-DragoNN", "keras"} <= set(families.names())
    assert families.get("DeepBind").options == ("window_size", "average")
    assert not families.get("JASPAR").needs_spec


def test_lookup_by_first_component_and_fallback():
    assert families.family_of("DeepBind/Homo_sapiens/TF/D00328.018_ChIP-seq_CTCF").name == "DeepBind"
    assert families.family_of("/FactorNet/MAX/onePeak_Unique35_DGF").name == "FactorNet"
    assert families.family_of("kipoi-example/tal1").name == "keras"  # other Kipoi groups
    with pytest.raises(ValueError, match=r"Unknown zoo family 'Nope'.*DeepBind.*FactorNet"):
        families.family_of("Nope/x", fallback=False)
    with pytest.raises(ValueError, match=r"Unknown zoo family 'Nope'.*JASPAR"):
        families.get("Nope")
    with pytest.raises(ValueError, match=r"Known families: \[.*'MPRA-DragoNN'"):
        zoo.load("Nope/x")  # no source: no Kipoi description to fall back on


def test_a_registered_family_is_loaded_by_name_and_unregistered(tmp_path):
    with families.registered(Toy) as toy:
        assert families.family_of("Toy/x") is toy and "Toy" in families.names()
        model = zoo.load("Toy/x", input_length=12, width=4, cache_dir=tmp_path)
        assert model.metadata["family"] == "Toy" and model.metadata["tf"] == ["TOY"]
        assert model.metadata["input_length"] == 12 and model.metadata["output"] == "a toy score"
        x = dna.one_hot(["ACGTACGTACGT"])
        np.testing.assert_allclose(np.asarray(model(x)), [[4.0]])  # four ones in any 4-bp window
        with pytest.raises(ValueError, match=r"Unknown option\(s\) \['window_size'\].*Toy"):
            zoo.load("Toy/x", window_size=3, cache_dir=tmp_path)
        with pytest.raises(ValueError, match="already registered"):
            families.register(type("Other", (families.Family,), {"name": "Toy"}))
    assert "Toy" not in families.names()
    with pytest.raises(ValueError, match="Unknown zoo family 'Toy'"):
        zoo.load("Toy/x", cache_dir=tmp_path)


def test_register_and_unregister_as_a_decorator():
    try:
        registered = families.register(Toy)
        assert registered is Toy and families.get("Toy").name == "Toy"
        families.register(Toy)  # the same class again (a reloaded module): kept
    finally:
        removed = families.unregister("Toy")
    assert isinstance(removed, Toy) and "Toy" not in families.names()
    with pytest.raises(ValueError, match="Unknown zoo family"):
        families.unregister("Toy")
    with pytest.raises(TypeError, match="Family"):
        families.register(object())
    with pytest.raises(ValueError, match="name"):
        families.register(type("Slash", (families.Family,), {"name": "a/b"}))
    with pytest.raises(ValueError, match="fallback"):
        families.register(type("Other", (families.Family,), {"name": "Other"}), fallback=True)
    assert "Other" not in families.names()


def test_deepbind_fast_paths_are_registered_with_the_family():
    from keras_iml.engine import fast_paths

    assert "deepbind_windows" in dict(fast_paths.plugins("ism"))
    assert {"deepbind_window_envelope", "deepbind_affine_split"} <= set(
        dict(fast_paths.plugins("path_gradients")))


def test_the_catalogue_is_built_from_the_registered_families(shared_dir):
    """Each family lists its own models; a new family's rows join with nothing edited."""
    import importlib.util

    from pyjaspar import jaspardb

    from keras_iml.zoo import catalogue

    spec = importlib.util.spec_from_file_location("build_catalogue", REPO / "model_zoo" / "build_catalogue.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)

    class Listed(Toy):
        def catalogue_rows(self, shared, jaspar_db):
            return [{"name": "Toy/x", "family": "Toy", "tf": "CTCF", "supported": "yes"}]

    with families.registered(Listed) as toy:
        assert toy in dict(families.REGISTRY.ordered()).values()
        rows = build.catalogue_rows(shared_dir, jaspardb(), [families.get("MPRA-DragoNN"), toy])
    committed = catalogue.catalogue_row("MPRA-DragoNN/ConvModel")
    mpra = rows[0]
    for column in ("name", "family", "type", "input_length", "weights_md5", "license", "notes"):
        assert str(mpra[column]) == str(committed[column]), column
    assert rows[1]["name"] == "Toy/x" and len(rows) == 2


def _family_checks():
    from conftest import shared_path

    from keras_iml import testing

    shared = shared_path()
    source = None if shared is None else shared / "zoo" / "kipoi-models"
    return [(name, check_name, check) for name in families.names()
            for check_name, check in testing.family_checks(name, source=source)]


FAMILY_CHECKS = _family_checks()


@pytest.mark.parametrize("name, check_name, check", FAMILY_CHECKS,
                         ids=[f"{n}-{c}" for n, c, _ in FAMILY_CHECKS])
def test_family(name, check_name, check):
    """Every registered family, through keras_iml.testing.family_checks (its example is
    loaded where ../shared is present, or where it needs no files)."""
    check()


def test_a_family_written_outside_passes_the_kit_and_a_broken_one_fails_by_name(tmp_path):
    from keras_iml import testing

    class Checked(Toy):
        needs_files, needs_spec, example = False, False, "Toy/x"

    class Misnamed(Checked):
        example = "JASPAR/MA0139.2"  # not one of its own names

    with families.registered(Checked):
        testing.check_family("Toy", cache_dir=tmp_path)
    with families.registered(Misnamed):
        with pytest.raises(AssertionError, match="Toy: check_declarations"):
            testing.check_family("Toy", cache_dir=tmp_path)
