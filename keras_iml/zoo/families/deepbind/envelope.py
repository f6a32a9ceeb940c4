"""Path gradients through a max over groups of affine pre-activations, from a few lines.

Along a straight path ``z(alpha) = z_r + alpha (z_x - z_r)`` every pre-activation is
a line in ``alpha``, and the max over a group of ``T`` positions is the upper
envelope of ``T`` lines: convex and piecewise linear, with few pieces in practice
(about two on DeepBind's window scans). Integrated gradients only need, at every
step, the value of that max and which line attains it; evaluating all ``T`` lines at
all ``S`` steps (what differentiating the interpolated tensor does) touches
``S * T`` values per unit where a handful of lines ever matter.

Why written natively: no library exposes this, and it is what makes integrated
gradients of DeepBind models (72 windows x 52 positions per 101-bp sequence) cheap.

Which lines can matter, exactly. Let ``lo``/``hi`` be the smallest/largest step and
``j_lo``/``j_hi`` the lines that are maximal there. A convex function lies above
every line, so ``F >= max(l_jlo, l_jhi)`` on ``[lo, hi]``; a line ``j`` can attain
the max somewhere only if it is above both of those lines at one ``alpha`` (a test
on two linear differences, written below as the max over ``t`` of their minimum).
The rectifier after the max drops every line that is non-positive at both ends
(where such a line is maximal, ``F <= 0`` and the gradient is 0). Near-ties are kept
(a relative slack of 1e-5), so rounding cannot drop the maximal line. Units (one
group and channel of one path) with more than ``k`` candidates take every line.
The steps then evaluate the candidate lines with the same float operations as the
full tensor, so values, maxima and the split of the gradient between tied lines
(half to each, as TensorFlow's max gradient does) are those of the full computation.
"""

import tensorflow as tf

__all__ = ["max_path_gradients"]

_SLACK = 1e-5


def _candidates(a, b, lo, hi):
    """Boolean ``(U, T)``: lines that can be maximal with a positive value on [lo, hi]."""
    zlo, zhi = a + lo * b, a + hi * b
    mlo = tf.reduce_max(zlo, axis=-1, keepdims=True)
    mhi = tf.reduce_max(zhi, axis=-1, keepdims=True)
    # The lines maximal at lo / hi, evaluated at the other end (among tied ones the
    # highest there: any maximal line gives a valid bound, that one the tightest).
    jlo_hi = tf.reduce_max(tf.where(zlo >= mlo, zhi, zhi.dtype.min), axis=-1, keepdims=True)
    jhi_lo = tf.reduce_max(tf.where(zhi >= mhi, zlo, zlo.dtype.min), axis=-1, keepdims=True)
    # d1 = l_j - l_jlo and d2 = l_j - l_jhi at both ends (d1(lo) <= 0, d2(hi) <= 0)
    d1lo, d1hi = zlo - mlo, zhi - jlo_hi
    d2lo, d2hi = zlo - jhi_lo, zhi - mhi
    best = tf.maximum(tf.minimum(d1lo, d2lo), tf.minimum(d1hi, d2hi))
    slope = (d1hi - d1lo) - (d2hi - d2lo)
    t = tf.math.divide_no_nan(d2lo - d1lo, slope)
    inside = (t > 0.0) & (t < 1.0)
    best = tf.where(inside, tf.maximum(best, d1lo + t * (d1hi - d1lo)), best)
    slack = _SLACK * (1.0 + tf.abs(mlo) + tf.abs(mhi))
    return (best >= -slack) & (tf.maximum(zlo, zhi) > 0.0)


def _max_share(z, top):
    """TensorFlow's max gradient: ``1 / (number of tied maxima)`` at each maximum."""
    hit = tf.cast(tf.equal(z, top[..., None]), z.dtype)
    return tf.math.divide_no_nan(hit, tf.reduce_sum(hit, axis=-1, keepdims=True))


def max_path_gradients(zx, zr, alphas, weights, group, head, k=4, hard_share=16, mean_of=None):
    """``sum_s w_s d head(relu(groupmax z_s)) / d z_s`` for ``z_s = zr + a_s (zx - zr)``.

    Args:
        zx, zr: pre-activations of the inputs and of their baselines, ``(P, G * T,
            C)``: ``G`` groups of ``T`` consecutive positions, ``C`` channels (a
            static ``C``; the rest may be dynamic, and the function XLA-compiled).
        alphas, weights: ``(P, S)`` steps and their weights.
        group: ``T``.
        head: maps rectified group maxima ``(P * S, G, C)`` to one value per row
            ``(P * S,)``; with ``mean_of``, ``head(maxima, means)``.
        k: candidate lines per unit before it takes all ``T``.
        hard_share: at most ``1 / hard_share`` of the units take all ``T`` lines;
            beyond that every unit does (the plain computation).
        mean_of: with average pooling as well, the divisor of the group sums of
            rectified lines (``sum_j relu(z_j) / mean_of``). Every line counts in a
            mean, so it is evaluated at every step (XLA fuses that into one pass).

    Returns:
        ``(P, G * T, C)``: the weighted sum over steps of the gradients with respect
        to the pre-activations, as differentiating ``head(relu(max(z_s)))`` gives.
    """
    n_pairs, channels = tf.shape(zx)[0], zx.shape[-1]
    n_steps = tf.shape(alphas)[1]

    def units(z):  # (P, G*T, C) -> (P*G*C, T): one row per path, group and channel
        z = tf.reshape(z, [n_pairs, -1, group, channels])
        return tf.reshape(tf.transpose(z, [0, 1, 3, 2]), [-1, group])

    a, b = units(zr), units(zx - zr)
    n_units = tf.shape(a)[0]
    alpha = tf.repeat(alphas, n_units // n_pairs, axis=0)  # (U, S)
    cand = _candidates(a, b, tf.reduce_min(alpha, 1, keepdims=True),
                       tf.reduce_max(alpha, 1, keepdims=True))
    count = tf.reduce_sum(tf.cast(cand, tf.int32), axis=-1)
    k = min(int(k), int(group))
    n_hard = tf.maximum(1, n_units // int(hard_share))
    _, index = tf.math.top_k(tf.cast(cand, tf.float32), k)  # candidates first, others fill
    _, hard = tf.math.top_k(tf.cast(count, tf.float32), n_hard)  # most candidates first
    is_hard = tf.gather(count, hard) > k
    overflow = tf.reduce_sum(tf.cast(count > k, tf.int32)) > n_hard
    everything = tf.broadcast_to(tf.range(group), [n_units, group])
    return tf.cond(
        overflow,
        lambda: _gradients(a, b, alpha, weights, head, everything, tf.range(n_units)[:1],
                           tf.zeros([1], tf.bool), (n_pairs, n_steps, channels, group), mean_of),
        lambda: _gradients(a, b, alpha, weights, head, index, hard, is_hard,
                           (n_pairs, n_steps, channels, group), mean_of))


def _gradients(a, b, alpha, weights, head, index, hard, is_hard, dims, mean_of):
    """The step maxima over the lines ``index`` of each unit (over all lines for the
    units ``hard`` where ``is_hard``), the means over all lines when ``mean_of`` is
    set, and the weighted gradients per line."""
    n_pairs, n_steps, channels, group = dims
    n_units, n_hard = tf.shape(a)[0], tf.shape(hard)[0]

    def lines(index_rows, line_index):
        la = tf.gather(tf.gather(a, index_rows), line_index, batch_dims=1)
        lb = tf.gather(tf.gather(b, index_rows), line_index, batch_dims=1)
        return la[:, None, :] + tf.gather(alpha, index_rows)[:, :, None] * lb[:, None, :]

    zc = lines(tf.range(n_units), index)  # (U, S, k)
    zh = lines(hard, tf.broadcast_to(tf.range(group), [n_hard, group]))  # (H, S, T)
    top_c, top_h = tf.reduce_max(zc, axis=-1), tf.reduce_max(zh, axis=-1)
    top = tf.tensor_scatter_nd_update(
        top_c, hard[:, None], tf.where(is_hard[:, None], top_h, tf.gather(top_c, hard)))

    def rows(u):  # (U, S) -> (P * S, G, C)
        u = tf.reshape(u, [n_pairs, -1, channels, n_steps])
        return tf.reshape(tf.transpose(u, [0, 3, 1, 2]), [n_pairs * n_steps, -1, channels])

    def units(r):  # (P * S, G, C) -> (U, S)
        r = tf.reshape(r, [n_pairs, n_steps, -1, channels])
        return tf.reshape(tf.transpose(r, [0, 2, 3, 1]), [n_units, n_steps])

    feats = [rows(tf.nn.relu(top))]
    if mean_of is not None:
        every = a[:, None, :] + alpha[:, :, None] * b[:, None, :]  # (U, S, T)
        feats.append(rows(tf.reduce_sum(tf.nn.relu(every), axis=-1) / float(mean_of)))
    with tf.GradientTape() as tape:
        tape.watch(feats)
        value = tf.reshape(head(*feats), [n_pairs, n_steps])
        total = tf.reduce_sum(value * weights)
    grads = tape.gradient(total, feats)
    grad = units(grads[0]) * tf.cast(top > 0.0, top.dtype)  # the rectifier's gradient

    per_line = tf.reduce_sum(grad[:, :, None] * _max_share(zc, top), axis=1)  # (U, k)
    dz = tf.reduce_sum(tf.one_hot(index, group, dtype=per_line.dtype) * per_line[..., None], axis=1)
    hard_lines = tf.reduce_sum(tf.gather(grad, hard)[:, :, None] * _max_share(zh, tf.gather(top, hard)),
                               axis=1)  # (H, T)
    dz = tf.tensor_scatter_nd_update(
        dz, hard[:, None], tf.where(is_hard[:, None], hard_lines, tf.gather(dz, hard)))
    if mean_of is not None:  # d mean / d z_j = [z_j > 0] / mean_of at every step
        positive = tf.cast(every > 0.0, every.dtype)
        dz += tf.reduce_sum(units(grads[1])[:, :, None] * positive, axis=1) / float(mean_of)
    dz = tf.transpose(tf.reshape(dz, [n_pairs, -1, channels, group]), [0, 1, 3, 2])
    return tf.reshape(dz, [n_pairs, -1, channels])
