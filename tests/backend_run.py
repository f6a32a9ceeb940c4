"""Runs keras_iml on one Keras backend and saves the results (used by test_backends.py).

Usage: ``KERAS_BACKEND=jax python tests/backend_run.py OUT_DIR``. The models are built
with the same seeded weights on every backend (:mod:`conftest`), so the attributions
must agree with the TensorFlow backend's. Writes ``OUT_DIR/attributions.npz``,
``OUT_DIR/report.json`` / ``report.html`` (a quick validation) and
``OUT_DIR/errors.json`` (the message of each method that refused the backend).
"""

import json
import os
import pathlib
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

import keras  # noqa: E402

import keras_iml  # noqa: E402
from conftest import make_cnn, make_multi_output  # noqa: E402
from keras_iml import dna  # noqa: E402

#: method -> options: everything the multi-backend promise covers
METHODS = {
    "saliency": {},
    "input_x_gradient": {},
    "integrated_gradients": {"steps": 8},
    "smoothgrad": {"n_samples": 4},
    "expected_gradients": {"n_references": 4},
    "ism": {},
    "occlusion": {"window": 7, "n_shuffles": 2},
    "grad_cam": {},
}
REFUSED = ("deeplift", "deeplift_shap")


def run(out):
    out = pathlib.Path(out)
    x = dna.random_sequences(6, 60, rng=1)
    cnn, multi = make_cnn(), make_multi_output()
    arrays = {}
    for name, options in METHODS.items():
        arrays[name] = keras_iml.explain(cnn, x, name, seed=3, verbose=0, **options).values
        arrays[f"{name}@target1"] = keras_iml.explain(multi, x, name, target=1, seed=3,
                                                      verbose=0, **options).values
    arrays["ism_general"] = keras_iml.explain(cnn, x, "ism", fast=False, verbose=0).values
    errors = {}
    for name in REFUSED:
        try:
            keras_iml.explain(cnn, x, name, verbose=0)
        except ValueError as err:
            errors[name] = str(err)
    report = keras_iml.validate(cnn, dna.random_sequences(16, 60, rng=2), protocol="quick",
                                seed=0, verbose=0)
    report.to_json(out / "report.json")
    report.to_html(out / "report.html")
    np.savez(out / "attributions.npz", **arrays)
    (out / "errors.json").write_text(json.dumps({"backend": keras.backend.backend(), **errors}))


if __name__ == "__main__":
    run(sys.argv[1])
