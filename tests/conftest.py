"""Shared fixtures: small Keras models with known structure, and the ../shared data dir."""

import os
import pathlib

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from keras_iml import dna  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]


def shared_path():
    """The shared data directory (KERAS_IML_SHARED or ../shared), or None."""
    path = pathlib.Path(os.environ.get("KERAS_IML_SHARED", REPO.parent / "shared"))
    return path if path.is_dir() else None


@pytest.fixture
def shared_dir():
    path = shared_path()
    if path is None:
        pytest.skip("../shared is absent (set KERAS_IML_SHARED to the shared data directory)")
    return path


def _seeded_weights(model, seed):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in model.get_weights()])
    return model


def make_cnn(length=60, seed=0, filters=6, head_activation=None):
    """Conv1D+ReLU+MaxPool+Conv1D+ReLU+GlobalMaxPool+Dense, deterministic weights."""
    model = keras.Sequential(
        [
            keras.Input((length, 4)),
            keras.layers.Conv1D(filters, 7, activation="relu"),
            keras.layers.MaxPooling1D(2),
            keras.layers.Conv1D(filters, 3, activation="relu"),
            keras.layers.GlobalMaxPooling1D(),
            keras.layers.Dense(1, activation=head_activation),
        ]
    )
    return _seeded_weights(model, seed)


def make_linear(length=20, seed=0):
    """f(x) = sum(x * W) + b: a Flatten + Dense(1) model with known weights."""
    model = keras.Sequential(
        [keras.Input((length, 4)), keras.layers.Flatten(), keras.layers.Dense(1)]
    )
    return _seeded_weights(model, seed)


def make_multi_output(length=60, seed=0):
    """Functional model with a 3-column output head."""
    inp = keras.Input((length, 4))
    h = keras.layers.Conv1D(5, 7, activation="relu")(inp)
    h = keras.layers.GlobalMaxPooling1D()(h)
    out = keras.layers.Dense(3)(h)
    return _seeded_weights(keras.Model(inp, out), seed)


@pytest.fixture
def cnn():
    return make_cnn()


@pytest.fixture
def linear():
    return make_linear()


@pytest.fixture
def multi_output():
    return make_multi_output()


@pytest.fixture
def onehot():
    """12 random one-hot sequences of length 60."""
    return dna.random_sequences(12, 60, rng=1)


def project(raw, x):
    """Per-position sums of raw ``(x - r) * m`` put on the observed bases (keras_iml's convention)."""
    raw = np.asarray(raw)
    return raw.sum(-1, keepdims=True) * np.asarray(x)


ORACLE_SITE = "CACGTGAC"
ORACLE_DECOY = "GGATAAGT"


def oracle_pfm(site=ORACLE_SITE):
    """A sharp PFM (0.94 on each consensus base) for PWM oracle models."""
    pfm = np.full((len(site), 4), 0.02)
    for i, base in enumerate(site):
        pfm[i, "ACGT".index(base)] = 0.94
    return pfm


def planted_sites(n=48, length=80, seed=0, decoy=False):
    """Random sequences with one planted ORACLE_SITE each (mask 1) and, with ``decoy``,
    one ORACLE_DECOY in the other half (mask 2)."""
    rng = np.random.default_rng(seed)
    x = dna.random_sequences(n, length, rng=rng)
    mask = np.zeros((n, length), np.int8)
    site, other = dna.one_hot([ORACLE_SITE, ORACLE_DECOY])
    width, half = len(ORACLE_SITE), length // 2
    for i in range(n):
        if not decoy:
            s = rng.integers(0, length - width)
            x[i, s:s + width], mask[i, s:s + width] = site, 1
            continue
        s, d = rng.integers(0, half - width), half + rng.integers(0, half - width)
        if rng.random() < 0.5:
            s, d = d, s
        x[i, s:s + width], x[i, d:d + width] = site, other
        mask[i, s:s + width], mask[i, d:d + width] = 1, 2
    return x, mask
