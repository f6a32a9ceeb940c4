"""The example notebooks run end to end with small settings (KERAS_IML_CI=1)."""

import pathlib
import shutil

import pytest

from conftest import REPO

EXAMPLES = REPO / "examples"


def _execute(name, tmp_path, monkeypatch, timeout=300):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    monkeypatch.setenv("KERAS_IML_CI", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.setenv("KERAS_IML_CACHE", str(tmp_path / "cache"))  # not the user's cache
    work = tmp_path / "examples"
    work.mkdir()
    shutil.copy(EXAMPLES / name, work / name)
    book = nbformat.read(work / name, as_version=4)
    NotebookClient(book, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(work)}}).execute()
    return book, work


def _outputs(book):
    return "\n".join(
        out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
        for cell in book.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
    )


def test_01_your_keras_model(tmp_path, monkeypatch):
    book, work = _execute("01_your_keras_model.ipynb", tmp_path, monkeypatch)
    html = (work / "report_01.html").read_text(encoding="utf-8")
    assert 'id="dashboard"' in html and 'id="adverse-events"' in html
    assert (work / "report_01.json").stat().st_size > 0
    assert "adverse events" in _outputs(book)


def test_02_kipoi_zoo_batch(tmp_path, monkeypatch, shared_dir):
    monkeypatch.setenv("KERAS_IML_SHARED", str(shared_dir))
    book, work = _execute("02_kipoi_zoo_batch.ipynb", tmp_path, monkeypatch)
    text = _outputs(book)
    assert "(found)" in text
    assert text.count("DeepBind/Homo_sapiens/TF/") >= 2  # N_MODELS = 2 in CI, both validated
    assert "loc_auroc:saliency" in text
    assert len(list(work.glob("zoo_report_*.html"))) == 1


def test_03_colab_quickstart(tmp_path, monkeypatch):
    book, work = _execute("03_colab_quickstart.ipynb", tmp_path, monkeypatch)
    assert "skipping pip install" in _outputs(book)  # keras_iml is importable here
    assert (work / "quickstart_report.html").stat().st_size > 10_000


def test_notebooks_are_stored_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    for path in sorted(pathlib.Path(EXAMPLES).glob("*.ipynb")):
        book = nbformat.read(path, as_version=4)
        nbformat.validate(book)
        assert all(not c.get("outputs") for c in book.cells if c.cell_type == "code"), path
