"""Models and data known by construction, for the common checks and for tests."""

import numpy as np

import keras
from keras_iml import dna

__all__ = ["toy_cnn", "toy_multi_output", "toy_sequences", "oracle_pfm", "planted_sites",
           "seeded_weights",
           "ORACLE_SITE", "ORACLE_DECOY"]

ORACLE_SITE = "CACGTGAC"
ORACLE_DECOY = "GGATAAGT"


def seeded_weights(model, seed):
    """Sets every weight of ``model`` from N(0, 0.3) drawn with ``seed``; returns it."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in model.get_weights()])
    return model


def toy_cnn(length=60, seed=0, filters=6, head_activation=None):
    """Conv1D+ReLU+MaxPool+Conv1D+ReLU+GlobalMaxPool+Dense(1), with seeded weights."""
    model = keras.Sequential([
        keras.Input((length, 4)),
        keras.layers.Conv1D(filters, 7, activation="relu"),
        keras.layers.MaxPooling1D(2),
        keras.layers.Conv1D(filters, 3, activation="relu"),
        keras.layers.GlobalMaxPooling1D(),
        keras.layers.Dense(1, activation=head_activation),
    ])
    return seeded_weights(model, seed)


def toy_multi_output(length=60, seed=0):
    """A functional model with a 3-column head, with seeded weights."""
    inp = keras.Input((length, 4))
    h = keras.layers.Conv1D(5, 7, activation="relu")(inp)
    h = keras.layers.GlobalMaxPooling1D()(h)
    return seeded_weights(keras.Model(inp, keras.layers.Dense(3)(h)), seed)


def toy_sequences(n=12, length=60, seed=1):
    """``n`` random one-hot sequences."""
    return dna.random_sequences(n, length, rng=seed)


def oracle_pfm(site=ORACLE_SITE):
    """A sharp PFM (0.94 on each consensus base) for PWM oracle models."""
    pfm = np.full((len(site), 4), 0.02)
    for i, base in enumerate(site):
        pfm[i, "ACGT".index(base)] = 0.94
    return pfm


def planted_sites(n=48, length=80, seed=0, decoy=False):
    """Random sequences with one planted ``ORACLE_SITE`` each (mask 1) and, with
    ``decoy``, one ``ORACLE_DECOY`` in the other half (mask 2).

    Returns:
        ``(x, mask)``: one-hot ``(n, length, 4)`` and int8 ``(n, length)``.
    """
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
