"""Shared fixtures: small Keras models with known structure (most from
:mod:`keras_iml.testing`, the public test kit), and the ../shared data dir."""

import os
import pathlib

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from keras_iml import dna  # noqa: E402
from keras_iml.testing import (  # noqa: E402,F401 - the kit's models and data, by the suite's names
    ORACLE_DECOY,
    ORACLE_SITE,
    seeded_weights as _seeded_weights,
    oracle_pfm,
    planted_sites,
)
from keras_iml.testing import toy_cnn as make_cnn  # noqa: E402
from keras_iml.testing import toy_multi_output as make_multi_output  # noqa: E402

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


def make_linear(length=20, seed=0):
    """f(x) = sum(x * W) + b: a Flatten + Dense(1) model with known weights."""
    model = keras.Sequential(
        [keras.Input((length, 4)), keras.layers.Flatten(), keras.layers.Dense(1)]
    )
    return _seeded_weights(model, seed)


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
