"""Baselines and references shared by the path and reference-based methods.

Integrated gradients, expected gradients, DeepLIFT and DeepLIFT-SHAP compare the input
with one or more *references*. This module builds them for a batch, every sequence
drawing only from its own random generator (so results do not depend on the batch
size and are reproducible under a seed); dinucleotide shuffles of the whole batch
are walked together (:func:`keras_iml.dna.dinuc_shuffle`).

Reference kinds:

* ``"zeros"``: the all-zero array (off the one-hot simplex; the classic IG baseline).
* ``"uniform"``: ``0.25`` at every base (the expectation of a random base).
* ``"random"``: i.i.d. random bases (uniform over A, C, G, T; sequence-valid).
* ``"shuffle"``: the sequence's positions permuted (keeps its base composition).
* ``"dinuc_shuffle"``: a dinucleotide-preserving shuffle of the sequence.
* an array: ``(L, 4)`` (one reference for every sequence), ``(B, L, 4)`` (one per
  sequence of the batch) or, when several references are asked for, ``(k, L, 4)``
  (a reference set shared by all sequences; all ``k`` are used in order when
  ``k == n``, otherwise ``n`` are drawn with replacement per sequence) or
  ``(B, k, L, 4)`` (a set per sequence). Per-sequence arrays hold one entry per
  sequence explained (``B = N``); the engine cuts them to each batch's rows (see
  :func:`per_sequence`).
"""

import numpy as np

from keras_iml import dna

__all__ = ["KINDS", "RANDOM_KINDS", "check_reference", "is_random", "make_references",
           "per_sequence"]

KINDS = ("zeros", "uniform", "random", "shuffle", "dinuc_shuffle")
RANDOM_KINDS = ("random", "shuffle", "dinuc_shuffle")


def is_random(kind, n=None):
    """Whether references of this kind are drawn at random.

    Args:
        kind: a reference kind or array.
        n: references per sequence (None: one).

    Returns:
        True for the random kinds, and for an array set of ``k`` references from
        which ``n != k`` are drawn per sequence.
    """
    if isinstance(kind, str):
        return kind in RANDOM_KINDS
    if n is None:
        return False
    ndim = np.ndim(kind)
    pool = np.shape(kind)[0] if ndim == 3 else np.shape(kind)[1] if ndim == 4 else n
    return pool != n


def per_sequence(kind, n=None):
    """Whether ``kind`` is an array with one entry per sequence.

    Args:
        kind: a reference kind or array.
        n: references per sequence (None: one), as given to :func:`make_references`.

    Returns:
        True for a ``(B, L, 4)`` array when ``n`` is None and a ``(B, k, L, 4)`` one
        otherwise (a 3-D array is then a set shared by all sequences).
    """
    return not isinstance(kind, str) and np.ndim(kind) == (3 if n is None else 4)


def check_reference(kind, option="baseline", length=None):
    """Validates a reference kind or array without building it.

    Args:
        kind: a name in :data:`KINDS` or an array (see the module docstring).
        option: the option name used in error messages (``"baseline"``,
            ``"references"``...).
        length: the sequence length when it is known (checks the array's ``L``).

    Raises:
        ValueError: unknown name, or an array that is not ``(..., L, 4)``, not finite.
    """
    if isinstance(kind, str):
        if kind not in KINDS:
            raise ValueError(
                f"`{option}` must be one of {KINDS} or an array. Received: {option}={kind!r}"
            )
        return
    try:
        arr = np.asarray(kind, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"`{option}` must be one of {KINDS} or a numeric array. "
            f"Received: {option} of type {type(kind).__name__}"
        ) from err
    if arr.ndim not in (2, 3, 4) or arr.shape[-1] != 4:
        raise ValueError(
            f"`{option}` as an array must have shape (L, 4), (B, L, 4), (k, L, 4) or "
            f"(B, k, L, 4). Received: {option}.shape={arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"`{option}` contains NaN or inf values.")
    if length is not None and arr.shape[-2] != length:
        raise ValueError(
            f"`{option}` has length {arr.shape[-2]} but the sequences have length {length}. "
            f"Received: {option}.shape={arr.shape}"
        )


def _from_array(arr, x, n, option, rngs):
    b, length = x.shape[0], x.shape[1]
    check_reference(arr, option, length)
    arr = np.asarray(arr, dtype=np.float32)
    if n is None:
        if arr.ndim == 2:
            return np.broadcast_to(arr, x.shape).copy()
        if arr.ndim == 3 and arr.shape[0] in (1, b):
            return np.broadcast_to(arr, x.shape).copy()
        raise ValueError(
            f"`{option}` must have shape (L, 4), or (N, L, 4) with one baseline for each "
            f"of the N sequences explained (here the batch holds {b}). "
            f"Received: {option}.shape={arr.shape}"
        )
    if arr.ndim == 2:
        return np.broadcast_to(arr, (b, n) + arr.shape).copy()
    if arr.ndim == 3:
        pool = np.broadcast_to(arr, (b,) + arr.shape)
    elif arr.shape[0] in (1, b):
        pool = np.broadcast_to(arr, (b,) + arr.shape[1:])
    else:
        raise ValueError(
            f"`{option}` as a 4-D array must have shape (N, k, L, 4), a set of references "
            f"for each of the N sequences explained (here the batch holds {b}). "
            f"Received: {option}.shape={arr.shape}"
        )
    k = pool.shape[1]
    if k == n:
        return np.array(pool, dtype=np.float32)
    out = np.empty((b, n) + x.shape[1:], dtype=np.float32)
    for i in range(b):
        out[i] = pool[i][rngs[i].integers(0, k, size=n)]
    return out


def make_references(kind, x, rngs, n=None, option="baseline"):
    """References for a batch of one-hot sequences.

    Args:
        kind: ``"zeros"``, ``"uniform"``, ``"random"``, ``"shuffle"``,
            ``"dinuc_shuffle"`` or an array (see the module docstring).
        x: float32 one-hot batch ``(B, L, 4)``.
        rngs: one ``numpy.random.Generator`` per sequence; sequence ``i`` only
            draws from ``rngs[i]``.
        n: number of references per sequence, or None for one.
        option: option name used in error messages.

    Returns:
        float32 array ``(B, L, 4)`` when ``n`` is None, else ``(B, n, L, 4)``.

    Raises:
        ValueError: an unknown kind, or an array of the wrong shape (the message
            names ``option``).

    Example:
        >>> rngs = [np.random.default_rng(i) for i in range(len(x))]
        >>> refs = make_references("dinuc_shuffle", x, rngs, n=20)  # (B, 20, L, 4)
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 3 or x.shape[-1] != 4:
        raise ValueError(f"`x` must have shape (B, L, 4). Received: x.shape={x.shape}")
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
        raise ValueError(f"`n` must be a positive int or None. Received: n={n!r}")
    if len(rngs) != len(x):
        raise ValueError(
            f"`rngs` must hold one generator per sequence. Received: {len(rngs)} generators "
            f"for {len(x)} sequences"
        )
    check_reference(kind, option, x.shape[1])
    if not isinstance(kind, str):
        return _from_array(kind, x, n, option, rngs)
    reps = 1 if n is None else int(n)
    shape = (x.shape[0], reps) + x.shape[1:]
    if kind == "zeros" or x.shape[0] == 0:
        out = np.zeros(shape, dtype=np.float32)
    elif kind == "uniform":
        out = np.full(shape, 0.25, dtype=np.float32)
    else:
        out = _DRAWS[kind](x, rngs, reps)
    return out[:, 0] if n is None else out


def _draw_random(x, rngs, reps):
    codes = np.stack([rng.integers(0, 4, size=(reps, x.shape[1])) for rng in rngs])
    return np.eye(4, dtype=np.float32)[codes]


def _draw_shuffle(x, rngs, reps):
    return np.stack([np.stack([dna.shuffle(seq, rng) for _ in range(reps)])
                     for seq, rng in zip(x, rngs)])


def _draw_dinuc(x, rngs, reps):  # all sequences' walks at once, each from its own rng
    return dna.dinuc_shuffle(x, list(rngs), n_shuffles=reps)


_DRAWS = {"random": _draw_random, "shuffle": _draw_shuffle, "dinuc_shuffle": _draw_dinuc}
