"""Kipoi specs, the weight store (md5, cache, offline) and `keras_iml.zoo.load` / `list`."""

import hashlib
import os

import numpy as np
import pytest

from keras_iml import dna
from keras_iml.zoo import ChecksumError, WeightStore, WeightsUnavailableError
import keras_iml.zoo as zoo
from keras_iml.zoo.sources.spec import parse_shape, read_spec

CTCF = "DeepBind/Homo_sapiens/TF/D00328.018_ChIP-seq_CTCF"


def _md5(data):
    return hashlib.md5(data).hexdigest()  # noqa: S324


def _fake_group(root, url, md5):
    group = root / "kipoi" / "Fam"
    group.mkdir(parents=True)
    (group / "model-template.yaml").write_text(
        "type: keras\nargs:\n  weights:\n    url: {{ w_url }}\n    md5: {{ w_md5 }}\n"
        "info:\n  license: MIT\n  cite_as: https://doi.org/x\n  tags: [DNA binding]\n"
        "schema:\n  inputs:\n    name: seq\n    shape: ({{ length }}, 4)\n"
        "  targets:\n    name: y\n    shape: (1, )\n"
        "{% if model == 'a/one' %}test:\n  expect:\n    url: http://e\n    md5: abc\n{% endif %}\n")
    (group / "models.tsv").write_text(f"model\tw_url\tw_md5\tlength\na/one\t{url}\t{md5}\t50\n"
                                      f"a/two\t{url}\t{md5}\t70\n")
    return root / "kipoi"


def test_template_spec_rendering(tmp_path):
    source = _fake_group(tmp_path, "http://x/w.h5?download=1", "0" * 32)
    spec = read_spec("Fam/a/one", source)
    assert spec.input_length == 50 and spec.inputs[0]["shape"] == (50, 4)
    assert spec.files["weights"].extension == ".h5" and spec.files["weights"].md5 == "0" * 32
    assert spec.license == "MIT" and spec.citation == "https://doi.org/x" and spec.n_outputs == 1
    assert spec.test_expect.md5 == "abc" and read_spec("Fam/a/two", source).test_expect is None
    assert parse_shape("(None, 4)") == (None, 4) and parse_shape("(145,4)") == (145, 4)
    with pytest.raises(ValueError, match="not found in source"):
        read_spec("Fam/a/three", source)


def test_download_verified_by_md5_and_nothing_half_written(tmp_path):
    payload = b"weights-bytes" * 100
    blob = tmp_path / "remote.bin"
    blob.write_bytes(payload)
    source = _fake_group(tmp_path, blob.as_uri(), _md5(payload))
    cache = tmp_path / "cache"
    spec = read_spec("Fam/a/one", source)
    path, md5 = WeightStore(source, cache_dir=cache).fetch(spec, "weights")
    assert path == cache / "files" / "Fam" / "a" / "one" / "weights.bin"  # extension kept
    assert path.read_bytes() == payload and md5 == _md5(payload)
    # a wrong md5: error naming both sums, and no file (not even a temporary one) left behind
    source2 = _fake_group(tmp_path / "second", blob.as_uri(), "f" * 32)
    cache2 = tmp_path / "cache2"
    with pytest.raises(ChecksumError, match=f"expected {'f' * 32}, received {_md5(payload)}"):
        WeightStore(source2, cache_dir=cache2).fetch(read_spec("Fam/a/one", source2), "weights")
    assert [p for p in cache2.rglob("*") if p.is_file()] == []


def test_offline_error_says_which_file_md5_and_where(tmp_path, monkeypatch):
    source = _fake_group(tmp_path, "http://unreachable.invalid/w.h5", "1" * 32)
    monkeypatch.setenv("KERAS_IML_OFFLINE", "1")
    store = WeightStore(source, cache_dir=tmp_path / "c")
    with pytest.raises(WeightsUnavailableError) as err:
        store.fetch(read_spec("Fam/a/one", source), "weights")
    message = str(err.value)
    assert "Offline mode" in message and "1" * 32 in message
    assert os.fspath(tmp_path / "c" / "files" / "Fam" / "a" / "one" / "weights.h5") in message
    with pytest.raises(WeightsUnavailableError, match=r"D99999\.001\.txt.*md5 abcd"):
        store.deepbind_params("D99999.001", md5="abcd")
    assert not (tmp_path / "c").exists() or [p for p in (tmp_path / "c").rglob("*") if p.is_file()] == []


def test_local_file_with_wrong_md5_is_refused(shared_dir, tmp_path):
    params = shared_dir / "zoo" / "deepbind" / "params" / "D00328.018.txt"
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "D00328.018.txt").write_bytes(params.read_bytes()[:-20])  # truncated copy
    store = WeightStore(None, cache_dir=tmp_path / "c", deepbind_params=tmp_path / "params")
    row = zoo.list_models(family="DeepBind", tf="CTCF")
    md5 = row.loc[row["model_id"] == "D00328.018", "weights_md5"].item()
    with pytest.raises(ChecksumError, match="md5 mismatch for D00328.018"):
        store.deepbind_params("D00328.018", md5=md5)


def test_load_deepbind_metadata_override_and_keras_cache(shared_dir, tmp_path):
    source = shared_dir / "zoo" / "kipoi-models"
    model = zoo.load(CTCF, source=source, cache_dir=tmp_path)
    meta = model.metadata
    assert meta["tf"] == ["CTCF"] and meta["jaspar_ids"][0] == "MA0139.2"
    assert meta["input_length"] == 101 and meta["alphabet"] == "ACGT"
    assert meta["license"] == "BSD 3-Clause" and meta["citation"] == "https://doi.org/10.1038/nbt.3300"
    row = zoo.list(family="DeepBind", tf="CTCF")
    assert meta["files"]["params"]["md5"] == row.loc[row["model_id"] == "D00328.018", "weights_md5"].item()
    saved = list((tmp_path / "models").rglob("*.keras"))
    assert len(saved) == 1
    again = zoo.load(CTCF, source=source, cache_dir=tmp_path)
    x = dna.random_sequences(3, 101, rng=0)
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(model(x)), atol=1e-6)
    assert again.metadata == meta
    longer = zoo.load(CTCF, source=source, cache_dir=tmp_path, input_length=250, window_size=40)
    assert longer.metadata["input_length"] == 250 and longer.metadata["window_size"] == 40
    assert len(list((tmp_path / "models").rglob("*.keras"))) == 2
    # the cached model explains like the built one
    attr = again.explain(x, "saliency", seed=0)
    assert attr.values.shape == (3, 101, 4)


def test_load_errors(shared_dir, tmp_path):
    source = shared_dir / "zoo" / "kipoi-models"
    with pytest.raises(ValueError, match="Unknown option"):
        zoo.load(CTCF, source=source, cache_dir=tmp_path, tracks={"dnase": 1.0})
    with pytest.raises(ValueError, match="exactly 1002 bp"):
        zoo.load("FactorNet/MAX/onePeak_Unique35_DGF", source=source, cache_dir=tmp_path, input_length=500)
    with pytest.raises(WeightsUnavailableError, match="7660e019ab5a46e407f2187cd39be921"):
        zoo.load("FactorNet/CEBPB/meta_Unique35_DGF", source=source, cache_dir=tmp_path, offline=True)
    with pytest.raises(ValueError, match="input_length"):
        zoo.load(CTCF, source=source, input_length=0)
    assert not list(tmp_path.rglob("*.keras"))  # nothing cached by failed loads


def test_jaspar_pwm_model(tmp_path):
    model = zoo.load("JASPAR/MA0139.2", input_length=60, cache_dir=tmp_path)
    assert model.metadata["tf"] == ["CTCF"] and model.metadata["jaspar_ids"] == ["MA0139.2"]
    x = dna.random_sequences(8, 60, rng=1)
    xi = x.copy()
    xi[:, 20:35] = dna.one_hot("GCCACCAGGGGGCGC")[0]  # the MA0139.2 consensus
    assert (np.asarray(model(xi)) > np.asarray(model(x))).all()


def test_catalogue_list():
    tf_models = zoo.list(family="DeepBind", type="TF")
    assert len(tf_models) == 683 and set(tf_models["type"]) == {"TF"}
    assert len(zoo.list(family="deepbind", type="rbp")) == 244
    ctcf = zoo.list(tf="ctcf", family="DeepBind")
    assert set(ctcf["model_id"]) >= {"D00328.018", "D00328.003"}
    assert ctcf["jaspar_ids"].str.startswith("MA0139.2").all()
    assert {"FactorNet/MAX/onePeak_Unique35_DGF", "MPRA-DragoNN/ConvModel"} <= set(
        zoo.list(supported_only=True)["name"])
    with pytest.raises(TypeError, match="family"):
        zoo.list(family=3)


def test_catalogue_ships_with_a_regular_install(tmp_path, monkeypatch):
    """A wheel carries model_zoo/catalogue.tsv, and an install prefix is searched for it."""
    import pathlib
    import subprocess
    import sys
    import zipfile

    from keras_iml.zoo import catalogue

    repo = pathlib.Path(catalogue.__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(tmp_path / "dist"), str(repo)],
        capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {result.stderr[-300:]}")
    (wheel,) = (tmp_path / "dist").glob("keras_iml-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = [n for n in archive.namelist() if n.endswith("data/share/keras_iml/model_zoo/catalogue.tsv")]
        assert len(shipped) == 1
        assert archive.read(shipped[0]) == (repo / "model_zoo" / "catalogue.tsv").read_bytes()
    # An installed package (no source tree beside it) reads <prefix>/share/keras_iml/...
    installed = tmp_path / "prefix" / "share" / "keras_iml" / "model_zoo" / "catalogue.tsv"
    installed.parent.mkdir(parents=True)
    installed.write_bytes((repo / "model_zoo" / "catalogue.tsv").read_bytes())
    monkeypatch.delenv("KERAS_IML_ZOO_CATALOGUE", raising=False)
    monkeypatch.setattr(catalogue, "__file__", str(tmp_path / "site" / "keras_iml" / "zoo" / "catalogue.py"))
    monkeypatch.setattr(catalogue.sysconfig, "get_path", lambda name: str(tmp_path / "prefix"))
    assert catalogue.catalogue_path() == installed
    assert len(catalogue.read_catalogue()) == len(catalogue.read_catalogue(repo / "model_zoo" / "catalogue.tsv"))
