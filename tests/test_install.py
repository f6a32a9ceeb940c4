"""A regular (non-editable) install ships what keras_iml reads at run time.

The suite otherwise runs against the editable install, which reads the templates and
the zoo catalogue from the source tree, so a file missing from the wheel would go
unnoticed until a user's ``pip install``. Here a wheel and an sdist are built from a
copy of the source tree without network (this environment's setuptools, no build
isolation), their contents checked, and the wheel installed into a fresh virtual
environment that sees this environment's dependencies but not the editable
keras_iml; a small validation, its HTML report (through the installed ``keras-iml``
command) and the zoo catalogue are then run there from another directory.

Also here: what ``help()`` shows of the public entry points.
"""

import importlib.util
import inspect
import json
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import zipfile

import pytest

import keras_iml
from conftest import REPO

TEMPLATES = ("page.html.j2", "report.css", "report.js")
CATALOGUE = "share/keras_iml/model_zoo/catalogue.tsv"
_JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.egg-info", "build", "dist")


def _env(**extra):
    """The environment of a build or install step: no TensorFlow override, no user paths."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("KERAS_IML_TENSORFLOW", "KERAS_IML_ZOO_CATALOGUE", "PYTHONPATH")}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.update(extra)
    return env


def _run(cmd, cwd, timeout=120, **env):
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=_env(**env), capture_output=True,
                          text=True, timeout=timeout)


def _package_files(root):
    """Files under ``root/keras_iml`` other than Python modules and caches, relative to root."""
    return sorted(p.relative_to(root).as_posix() for p in (root / "keras_iml").rglob("*")
                  if p.is_file() and p.suffix not in (".py", ".pyc", ".pyo")
                  and "__pycache__" not in p.parts)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A copy of what a build reads (not the working tree: builds write build/ and egg-info)."""
    for module in ("setuptools", "wheel"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"building a wheel offline needs {module} in this environment")
    root = tmp_path_factory.mktemp("source")
    for name in ("setup.py", "setup.cfg", "pyproject.toml", "README.md", "MANIFEST.in"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, root / name)
    for name in ("keras_iml", "model_zoo"):
        shutil.copytree(REPO / name, root / name, ignore=_JUNK)
    return root


def _build_wheel(source, out, **env):
    proc = _run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
                 "--no-index", "-v", "-w", out], cwd=source, **env)
    if proc.returncode != 0:
        pytest.skip(f"could not build a wheel offline (pip exited {proc.returncode}): "
                    f"{proc.stderr.strip()[-600:]}")
    (wheel,) = pathlib.Path(out).glob("keras_iml-*.whl")
    return wheel, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def wheel(source, tmp_path_factory):
    return _build_wheel(source, tmp_path_factory.mktemp("wheel"))


def _metadata(wheel_path):
    with zipfile.ZipFile(wheel_path) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        return z.read(name).decode("utf-8")


def _tf_requirements(metadata):
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines()
                if line.startswith("Requires-Dist:")]
    return [r for r in requires if r.startswith("tensorflow")]


def test_wheel_carries_templates_package_data_and_catalogue(source, wheel):
    path, log = wheel
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
    for name in TEMPLATES:
        assert f"keras_iml/templates/{name}" in names
    missing = [f for f in _package_files(source) if f not in names]
    assert not missing, f"package files absent from the wheel: {missing}"
    data = [n for n in names if n.endswith(".data/data/" + CATALOGUE)]
    assert data, f"the zoo catalogue is not in the wheel's data files: {sorted(names)[:20]}"
    with zipfile.ZipFile(path) as z:
        rows = z.read(data[0]).decode("utf-8").splitlines()
    assert rows == (source / "model_zoo" / "catalogue.tsv").read_text(encoding="utf-8").splitlines()
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    # setuptools warns about a data folder that is not in `packages` (issue #15)
    assert "is absent from the `packages` configuration" not in log


def test_wheel_declares_tensorflow_and_the_variable_renames_it(source, wheel, tmp_path):
    path, _ = wheel
    assert _tf_requirements(_metadata(path)) == ["tensorflow>=2.16"]
    cpu, _ = _build_wheel(source, tmp_path / "cpu", KERAS_IML_TENSORFLOW="tensorflow-cpu")
    assert _tf_requirements(_metadata(cpu)) == ["tensorflow-cpu>=2.16"]
    bad = _run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
                "--no-index", "-w", tmp_path / "bad"], cwd=source,
               KERAS_IML_TENSORFLOW="tensor flow")
    assert bad.returncode != 0 and "KERAS_IML_TENSORFLOW" in bad.stdout + bad.stderr


def test_sdist_carries_templates_and_catalogue(source, tmp_path):
    out = tmp_path / "sdist"
    proc = _run([sys.executable, "-c", "import sys; from setuptools import build_meta; "
                 "print(build_meta.build_sdist(sys.argv[1]))", out], cwd=source)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (sdist,) = out.glob("keras_iml-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    expected = {"setup.py", "setup.cfg", "pyproject.toml", "model_zoo/catalogue.tsv",
                *_package_files(source)}
    assert expected <= names, sorted(expected - names)


_SMOKE = textwrap.dedent("""
    import json, os, subprocess, sys
    import numpy as np
    import keras
    import keras_iml
    from keras_iml.zoo import catalogue

    rng = np.random.default_rng(0)
    x = keras_iml.dna.one_hot(["".join(rng.choice(list("ACGT"), 40)) for _ in range(8)])
    mask = np.zeros(x.shape[:2], int)
    mask[:, 10:16] = 1
    model = keras.Sequential([keras.Input((40, 4)), keras.layers.Conv1D(4, 5, activation="relu"),
                              keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(1)])
    protocol = {"base": "quick", "methods": ["saliency"], "controls": False, "n_bootstrap": 20,
                "metrics": ["completeness", "localisation_auroc"]}
    report = keras_iml.wrap(model).validate(x, ground_truth=mask, protocol=protocol, verbose=0)
    report.to_json("report.json")
    cli = os.path.join(os.path.dirname(sys.executable), "keras-iml")
    subprocess.run([cli, "report", "report.json", "--out", "report.html"], check=True)
    print("RESULT", json.dumps({
        "file": keras_iml.__file__, "catalogue": str(catalogue.catalogue_path()),
        "rows": len(catalogue.read_catalogue()), "help": keras_iml.IMLModel.validate.__doc__}))
""")


def test_installed_wheel_runs_from_another_directory(wheel, tmp_path):
    path, _ = wheel
    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = pathlib.Path(_run([python, "-c", purelib], cwd=tmp_path).stdout.strip())
    # This environment's packages serve as the new one's dependencies, read through a
    # plain path entry: the editable keras_iml's import hook (a .pth there) is not run.
    (site / "zz_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    installed = _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
                      "--no-index", "--ignore-installed", path], cwd=tmp_path)
    if installed.returncode != 0 and "--python" in installed.stderr:
        pytest.skip(f"this pip cannot install into another interpreter: {installed.stderr[-300:]}")
    assert installed.returncode == 0, installed.stderr[-2000:]
    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "smoke.py").write_text(_SMOKE)
    proc = _run([python, "smoke.py"], cwd=work, timeout=240,
                NUMBA_CACHE_DIR=str(tmp_path / "numba"), KERAS_IML_CACHE=str(tmp_path / "cache"))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    result = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert pathlib.Path(result["file"]).is_relative_to(site)  # not the editable source tree
    assert pathlib.Path(result["catalogue"]) == venv / CATALOGUE
    assert result["rows"] > 0
    html = (work / "report.html").read_text(encoding="utf-8")
    assert len(html) > 10_000 and "<html" in html.lower()
    assert "Args:" in result["help"] and "ground_truth:" in result["help"]


@pytest.mark.parametrize("name", ["explain", "validate"])
def test_help_shows_the_whole_docstring(name):
    """``help(keras_iml.validate)`` and ``help(iml.validate)`` list every argument."""
    function = getattr(keras_iml, name)
    method = getattr(keras_iml.IMLModel, name)
    for doc in (inspect.getdoc(function), inspect.getdoc(method)):
        for section in ("Args:", "Returns:", "Example:"):
            assert section in doc
    params = [p for p in inspect.signature(function).parameters.values()
              if p.name != "model" and p.kind is not p.VAR_KEYWORD]
    method_doc = inspect.getdoc(method)
    for param in params:
        assert f"    {param.name}: " in method_doc, param.name
    assert "    model: " not in method_doc
    assert f"iml.{name}(x" in method_doc and f"keras_iml.{name}(model" not in method_doc
