"""Saturation mutagenesis of a DeepBind scan, re-scoring only what a mutation changes.

A DeepBind score is the max (or mean) over every window of the sequence of a window
score. A substitution at position ``i`` changes only the windows that contain
``i``; the others keep the scores of the unmutated sequence, and enter through
running maxima (or the total) of the unmutated window scores. Inside a window that
contains ``i`` (at offset ``p``), only the ``m`` convolution positions whose
detector covers ``p`` change, and each by a difference of two detector columns:
``kernel[t, new base] - kernel[t, old base]``. So each re-scored window costs those
``m`` positions (plus the running maxima, or sums, of its other positions) instead
of a convolution of the whole window: about ``n_windows * width * 3 * m`` positions
per sequence instead of ``n_windows * width * 3 * (width + m - 1) * m`` multiply-adds.

Why native: the generic fast-ISM path of :mod:`keras_iml.methods.ism` recomputes a
receptive field through a chain of standard local layers; the DeepBind scan is one
custom layer (windows each padded with ``N``), so it provides this hook instead.
"""

import numpy as np
import tensorflow as tf

__all__ = ["substitution_outputs"]


def _cummax_exclusive(scores, reverse=False):
    """``out[:, j] = max(scores[:, :j])`` (or of ``scores[:, j:]`` when reversed), -inf if empty.

    ``scores``: ``(B, W, ...)``; the result has ``W + 1`` entries along axis 1.
    """
    h = tf.reverse(scores, [1]) if reverse else scores
    length, shift = h.shape[1], 1
    while shift < length:  # inclusive running max by doubling
        pad = [[0, 0], [shift, 0]] + [[0, 0]] * (h.shape.rank - 2)
        h = tf.maximum(h, tf.pad(h[:, :-shift], pad, constant_values=-np.inf))
        shift *= 2
    edge = tf.fill(tf.concat([tf.shape(h)[:1], [1], tf.shape(h)[2:]], 0), tf.constant(-np.inf, h.dtype))
    if reverse:  # out[j] = max(scores[j:]) for j = 0..W, out[W] = -inf
        return tf.concat([tf.reverse(h, [1]), edge], axis=1)
    return tf.concat([edge, h], axis=1)  # out[j] = max(scores[:j])


def _triples(length, window_size):
    """Static indices of every (window s, offset p) pair: window start, offset, position."""
    width = min(window_size, length)
    n_windows = length - width + 1
    s, p = np.meshgrid(np.arange(n_windows), np.arange(width), indexing="ij")
    s, p = s.reshape(-1).astype(np.int32), p.reshape(-1).astype(np.int32)
    return s, p, s + p, n_windows, width


def _rescored_windows(layer, x, windows, s_idx, p_idx, i_idx):
    """Scores of every window, and of window ``s_idx[t]`` with offset ``p_idx[t]`` given
    each of the 3 other bases (one-hot ``x``): ``(B * W, strands, k)`` and
    ``(B, T, 3, strands, k)``.

    The window's pre-activations at positions ``p .. p + m - 1`` (those whose
    detector covers offset ``p``, at tap ``m - 1 - u`` for position ``p + u``) move by
    the difference of two detector columns; the other positions enter through
    exclusive running maxima (and, with average pooling, the window's total).
    """
    m = layer.detector_len
    n_windows, width = windows.shape[1], windows.shape[2]
    pre, n_positions = layer._window_pre(tf.reshape(windows, (-1, width, 4)), 1)
    channels = pre.shape[-1]
    pre = tf.reshape(pre, (-1, n_windows, n_positions, channels))  # (B, W, P, C)
    act = tf.nn.relu(pre)
    # positions p .. p + m - 1 of window s, flat in (W * P)
    cover = (s_idx[:, None] * n_positions + p_idx[:, None] + np.arange(m)[None]).astype(np.int32)
    flat_pre = tf.reshape(pre, (-1, n_windows * n_positions, channels))
    segment = tf.gather(flat_pre, cover, axis=1)  # (B, T, m, C)
    kernel, _ = layer.strand_kernel()
    by_base = tf.transpose(tf.reverse(kernel, [0]), (1, 0, 2))  # (4, m, C): tap m - 1 - u
    original = tf.argmax(x, axis=-1, output_type=tf.int32)  # (B, L)
    old = tf.gather(original, i_idx, axis=1)  # (B, T)
    alt = (old[..., None] + np.arange(1, 4, dtype=np.int32)) % 4  # (B, T, 3)
    delta = tf.gather(by_base, alt) - tf.gather(by_base, old)[:, :, None]  # (B, T, 3, m, C)
    new_act = tf.nn.relu(segment[:, :, None] + delta)
    # the window's other positions: max over those before p and from p + m on
    before = _cummax_exclusive(tf.transpose(act, (0, 2, 1, 3)))  # (B, P + 1, W, C)
    after = _cummax_exclusive(tf.transpose(act, (0, 2, 1, 3)), reverse=True)
    before = tf.reshape(tf.transpose(before, (0, 2, 1, 3)), (-1, n_windows * (n_positions + 1), channels))
    after = tf.reshape(tf.transpose(after, (0, 2, 1, 3)), (-1, n_windows * (n_positions + 1), channels))
    at = (s_idx * (n_positions + 1)).astype(np.int32)
    outside = tf.maximum(tf.gather(before, at + p_idx, axis=1),
                         tf.gather(after, at + np.minimum(p_idx + m, n_positions), axis=1))
    feats = tf.maximum(outside[:, :, None], tf.reduce_max(new_act, axis=3))  # (B, T, 3, C)
    mean = None
    if layer.has_avg_pooling:
        total = tf.gather(tf.reduce_sum(act, axis=2), s_idx, axis=1)  # (B, T, C)
        kept = total - tf.reduce_sum(tf.nn.relu(segment), axis=2)
        mean = (kept[:, :, None] + tf.reduce_sum(new_act, axis=3)) / float(n_positions)
        mean = tf.reshape(mean, (-1, channels))
    scores = layer._feature_scores(tf.reshape(feats, (-1, channels)), mean)  # (B * T * 3, S, k)
    base = layer._pooled_scores(tf.reshape(act, (-1, n_positions, channels)), n_positions)
    return base, tf.reshape(scores, (-1, len(s_idx), 3) + tuple(scores.shape[1:]))


def substitution_outputs(layer, x):
    """Outputs of a DeepBind layer for every substitution.

    (The layer is a :class:`~keras_iml.zoo.families.deepbind.scan.DeepBindScan`.)

    Args:
        layer: the built DeepBind layer.
        x: one-hot ``(B, L, 4)`` tensor (``L`` the layer's input length).

    Returns:
        ``(B * L * 3, num_models)`` tensor: rows in (sequence, position, r) order;
        substitution ``r`` puts base ``(original + r + 1) % 4`` (the original base is
        the column's argmax).
    """
    length = layer.input_length
    s_idx, p_idx, i_idx, n_windows, width = _triples(length, layer.window_size)
    x = tf.ensure_shape(tf.convert_to_tensor(x, tf.float32), [None, length, 4])
    index = (np.arange(n_windows)[:, None] + np.arange(width)[None]).reshape(-1).astype(np.int32)
    windows = tf.reshape(tf.gather(x, index, axis=1), (-1, n_windows, width, 4))
    # Every window, and every window again with each of its positions given each of
    # the 3 other bases: only the m positions whose detector covers that position change.
    base, new = _rescored_windows(layer, x, windows, s_idx, p_idx, i_idx)
    strands, k = base.shape[1], base.shape[2]
    base = tf.reshape(base, (-1, n_windows, strands, k))  # (B, W, S, k)
    new = tf.transpose(new, (1, 0, 2, 3, 4))  # (T, B, 3, S, k)

    if layer.average:  # mean over windows: total - old windows with i + the new ones
        old_in = tf.math.unsorted_segment_sum(tf.transpose(tf.gather(base, s_idx, axis=1), (1, 0, 2, 3)),
                                              i_idx, length)  # (L, B, S, k)
        new_in = tf.math.unsorted_segment_sum(new, i_idx, length)  # (L, B, 3, S, k)
        total = tf.reduce_sum(base, axis=1)  # (B, S, k)
        out = (total[None, :, None] - old_in[:, :, None] + new_in) / float(n_windows)
    else:  # max over the windows without i, and over the re-scored windows with i
        first = np.clip(np.arange(length) - width + 1, 0, n_windows).astype(np.int32)
        last = np.minimum(np.arange(length), n_windows - 1).astype(np.int32)
        outside = tf.maximum(tf.gather(_cummax_exclusive(base), first, axis=1),
                             tf.gather(_cummax_exclusive(base, reverse=True), last + 1, axis=1))
        inside = tf.math.unsorted_segment_max(new, i_idx, length)  # (L, B, 3, S, k)
        out = tf.maximum(tf.transpose(outside, (1, 0, 2, 3))[:, :, None], inside)
    out = tf.reduce_max(out, axis=3)  # both strands: the max, as in the layer -> (L, B, 3, k)
    return tf.reshape(tf.transpose(out, (1, 0, 2, 3)), (-1, k))
