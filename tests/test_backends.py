"""The same API on the JAX and PyTorch backends, with the TensorFlow backend's values.

Each backend runs ``tests/backend_run.py`` in its own process (Keras chooses its
backend once per process); the TensorFlow results are computed here. The models have
the same seeded weights on every backend.
"""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import backend_run
import keras_iml

HERE = pathlib.Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def tensorflow_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("tensorflow")
    backend_run.run(out)
    return out


def _run_backend(backend, out):
    module = {"jax": "jax", "torch": "torch"}[backend]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (make test installs the CPU build)")
    env = dict(os.environ, KERAS_BACKEND=backend, CUDA_VISIBLE_DEVICES="",
               JAX_PLATFORMS="cpu", PYTHONPATH=os.pathsep.join(
                   [str(HERE.parent), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, str(HERE / "backend_run.py"), str(out)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


@pytest.fixture(scope="module", params=["jax", "torch"])
def backend_results(request, tmp_path_factory):
    return request.param, _run_backend(request.param, tmp_path_factory.mktemp(request.param))


def test_attributions_and_validation_equal_the_tensorflow_backend(backend_results,
                                                                  tensorflow_results):
    backend, out = backend_results
    assert json.loads((out / "errors.json").read_text())["backend"] == backend
    with np.load(tensorflow_results / "attributions.npz") as tf_arrays, \
            np.load(out / "attributions.npz") as other:
        assert sorted(other.files) == sorted(tf_arrays.files)
        for name in tf_arrays.files:
            assert np.abs(tf_arrays[name]).max() > 0, name
            np.testing.assert_allclose(other[name], tf_arrays[name], rtol=1e-5, atol=1e-5,
                                       err_msg=f"{name} on {backend}")
    ours = keras_iml.validation.ValidationReport.from_json(out / "report.json")
    ref = keras_iml.validation.ValidationReport.from_json(tensorflow_results / "report.json")
    merged = ref.summary.merge(ours.summary, on=["metric", "method", "partner"], suffixes=("_tf", ""))
    assert len(merged) == len(ref.summary) == len(ours.summary)
    np.testing.assert_allclose(merged["value"].astype(float), merged["value_tf"].astype(float),
                               rtol=1e-4, atol=1e-4, equal_nan=True)
    pd.testing.assert_frame_equal(ours.verdict, ref.verdict)
    assert (out / "report.html").stat().st_size > 10_000


def test_deeplift_refuses_other_backends_with_a_clear_error(backend_results):
    backend, out = backend_results
    errors = json.loads((out / "errors.json").read_text())
    for name in backend_run.REFUSED:
        assert "needs the tensorflow backend" in errors[name]
        assert f"KERAS_BACKEND='{backend}'" in errors[name]
