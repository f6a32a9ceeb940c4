"""The max-envelope path gradients equal differentiating every interpolated step."""

import numpy as np
import pytest
import tensorflow as tf

from keras_iml.zoo.families.deepbind.envelope import _candidates, max_path_gradients

GROUP, GROUPS, CHANNELS = 7, 5, 3


def _head(weights):
    """A nonlinear head: per-group affine score, rectified, max over groups."""
    w = tf.constant(weights, tf.float32)

    def head(feats, means=None):  # (R, G, C) each
        score = tf.einsum("rgc,c->rg", feats, w) - 0.1
        if means is not None:
            score += tf.einsum("rgc,c->rg", means, tf.abs(w[::-1]) + 0.5)
        return tf.reduce_max(tf.nn.relu(score), axis=1)

    return head


def _brute(zx, zr, alphas, weights, head, mean_of=None):
    z = zr[:, None] + alphas[:, :, None, None] * (zx - zr)[:, None]
    flat = tf.reshape(z, (-1,) + tuple(zx.shape[1:]))
    with tf.GradientTape() as tape:
        tape.watch(flat)
        act = tf.nn.relu(tf.reshape(flat, (flat.shape[0], GROUPS, GROUP, CHANNELS)))
        if mean_of is None:
            value = head(tf.reduce_max(act, axis=2))
        else:
            value = head(tf.reduce_max(act, axis=2), tf.reduce_sum(act, axis=2) / mean_of)
    dz = tf.reshape(tape.gradient(value, flat), z.shape)
    return tf.reduce_sum(dz * weights[:, :, None, None], axis=1).numpy()


def _lines(rng, n_pairs, kind):
    shape = (n_pairs, GROUPS * GROUP, CHANNELS)
    zx = rng.normal(0, 1, shape).astype("float32")
    zr = rng.normal(0, 1, shape).astype("float32")
    if kind == "ties":  # equal lines (tied all along the path) and a dead channel
        zx[:, 1::GROUP] = zx[:, 0::GROUP][:, : zx[:, 1::GROUP].shape[1]]
        zr[:, 1::GROUP] = zr[:, 0::GROUP][:, : zr[:, 1::GROUP].shape[1]]
        zx[..., 2] = zr[..., 2] = -1.0 - np.abs(zx[..., 2])
    if kind == "hard":  # one dominant line per unit, but for the fan below
        zx[:, 0::GROUP] += 5.0
        zr[:, 0::GROUP] += 5.0
    if kind in ("hard", "overflow"):  # tangents of a parabola: every line wins somewhere
        p = np.linspace(0.0, 1.0, GROUP, dtype="float32")
        fan_r, fan_x = 1.0 - p**2, 1.0 + 2 * p - p**2
        units = [(0, 1, 0)] if kind == "hard" else [
            (i, g, c) for i in range(n_pairs) for g in range(GROUPS) for c in range(CHANNELS)]
        for i, g, c in units:
            zr[i, g * GROUP:(g + 1) * GROUP, c], zx[i, g * GROUP:(g + 1) * GROUP, c] = fan_r, fan_x
    return tf.constant(zx), tf.constant(zr)


@pytest.mark.parametrize("mean_of", [None, 6.0])
@pytest.mark.parametrize("kind", ["random", "ties", "hard", "overflow"])
@pytest.mark.parametrize("jit", [False, True])
def test_envelope_equals_the_gradient_of_every_step(kind, jit, mean_of):
    rng = np.random.default_rng(["random", "ties", "hard", "overflow"].index(kind))
    zx, zr = _lines(rng, 3, kind)
    steps = 16
    alphas = tf.constant(np.tile((np.arange(steps) + 0.5) / steps, (3, 1)), tf.float32)
    weights = tf.constant(rng.random((3, steps)), tf.float32)
    head = _head(rng.normal(0, 1, CHANNELS))
    reference = _brute(zx, zr, alphas, weights, head, mean_of)
    # the regime each case exercises: units within k=4 candidates and at most U / 16
    # over (those take all their lines), or more over (every unit takes all)
    units = lambda z: tf.reshape(tf.transpose(tf.reshape(z, (3, GROUPS, GROUP, CHANNELS)),
                                              (0, 1, 3, 2)), (-1, GROUP))
    a, b = units(zr), units(zx - zr)
    over = int(tf.reduce_sum(tf.cast(
        tf.reduce_sum(tf.cast(_candidates(a, b, alphas[0, 0], alphas[0, -1]), tf.int32), -1) > 4,
        tf.int32)))
    n_hard = 45 // 16  # units that may take all their lines before every unit does
    assert {"random": over <= n_hard, "ties": over <= n_hard, "hard": 1 <= over <= n_hard,
            "overflow": over > n_hard}[kind], over
    fn = tf.function(lambda *a: max_path_gradients(*a, GROUP, head, k=4, mean_of=mean_of),
                     jit_compile=jit)
    got = fn(zx, zr, alphas, weights).numpy()
    assert np.abs(reference).max() > 0.1
    np.testing.assert_allclose(got, reference, rtol=1e-5, atol=1e-6)


def test_envelope_keeps_the_lines_that_win_between_the_ends():
    """Three lines of one unit: the middle one is maximal only inside the path (below
    the others at both ends), so a test on the end points alone would miss it."""
    zr = np.zeros((1, GROUPS * GROUP, CHANNELS), "float32") - 5.0
    zx = zr.copy()
    zr[0, 0, 0], zx[0, 0, 0] = 2.0, 0.0  # falls
    zr[0, 1, 0], zx[0, 1, 0] = 0.0, 2.0  # rises
    zr[0, 2, 0], zx[0, 2, 0] = 1.6, 1.6  # flat, maximal for alpha in (0.2, 0.8)
    alphas = tf.constant([np.linspace(0.05, 0.95, 10)], tf.float32)
    weights = tf.ones((1, 10)) / 10
    head = _head(np.ones(CHANNELS))
    got = max_path_gradients(tf.constant(zx), tf.constant(zr), alphas, weights, GROUP, head, k=3)
    reference = _brute(tf.constant(zx), tf.constant(zr), alphas, weights, head)
    np.testing.assert_allclose(got.numpy(), reference, atol=1e-6)
    # the flat line gets the gradient of the steps in (0.2, 0.8): 6 of the 10
    assert got.numpy()[0, 2, 0] == pytest.approx(0.6, abs=1e-6)
