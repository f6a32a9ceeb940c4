"""Small Keras models for DNA: DeepBind-like and Basset-like builders.

Every weight initialiser and dropout layer takes its own seed derived from
``seed``, so a model is reproducible without touching Keras' global random state.
"""

import numpy as np

import keras

__all__ = ["deepbind_like", "basset_like"]


def _seeds(seed, n):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative int. Received: seed={seed!r}")
    return [int(s) for s in np.random.SeedSequence(int(seed)).generate_state(n)]


def _check_length(length):
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"`length` must be a positive int. Received: length={length!r}")
    return int(length)


def _head(h, hidden, dropout, n_outputs, activation, seeds, name):
    if hidden:
        h = keras.layers.Dense(hidden, activation="relu", name="hidden",
                               kernel_initializer=keras.initializers.GlorotUniform(seeds.pop()))(h)
    if dropout:
        h = keras.layers.Dropout(dropout, seed=seeds.pop(), name="dropout")(h)
    return keras.layers.Dense(n_outputs, activation=activation, name=name,
                              kernel_initializer=keras.initializers.GlorotUniform(seeds.pop()))(h)


def deepbind_like(length, *, filters=32, kernel_size=24, hidden=32, dropout=0.1,
                  n_outputs=1, activation="sigmoid", seed=0):
    """A DeepBind-style model: one convolution of motif detectors, max and mean pooling.

    Input ``(length, 4)`` -> Conv1D(filters, kernel_size, ReLU) -> [global max, global
    mean] -> Dense(hidden, ReLU) -> Dropout -> Dense(n_outputs, activation). The mean
    pool lets the model count sites; the single convolution cannot see spacing.

    Args:
        length: input length in bp.
        filters: number of motif detectors.
        kernel_size: detector width in bp (<= length).
        hidden: hidden units (0 for none).
        dropout: dropout rate before the output layer.
        n_outputs: output units.
        activation: output activation (``"sigmoid"`` for binary labels).
        seed: seed of the initialisers and dropout.

    Returns:
        An uncompiled ``keras.Model``.

    Example:
        >>> model = deepbind_like(200, seed=1)
        >>> model.output_shape
        (None, 1)
    """
    length = _check_length(length)
    if kernel_size > length:
        raise ValueError(
            f"`kernel_size` must be <= length={length}. Received: kernel_size={kernel_size}"
        )
    seeds = _seeds(seed, 4)
    inp = keras.Input((length, 4), name="sequence")
    h = keras.layers.Conv1D(filters, kernel_size, activation="relu", name="motif_conv",
                            kernel_initializer=keras.initializers.GlorotUniform(seeds.pop()))(inp)
    h = keras.layers.Concatenate(name="pool")([
        keras.layers.GlobalMaxPooling1D(name="max_pool")(h),
        keras.layers.GlobalAveragePooling1D(name="mean_pool")(h),
    ])
    out = _head(h, hidden, dropout, n_outputs, activation, seeds, "output")
    return keras.Model(inp, out, name="deepbind_like")


def basset_like(length, *, filters=(64, 64, 64), kernel_sizes=(19, 7, 5), pool_sizes=(3, 3, 3),
                hidden=64, dropout=0.2, head="global", n_outputs=1, activation="sigmoid", seed=0):
    """A Basset-style model: stacked convolutions and max pooling, then dense layers.

    Input ``(length, 4)`` -> [Conv1D(ReLU, "same") -> MaxPool] x len(filters) ->
    head -> Dense(hidden, ReLU) -> Dropout -> Dense(n_outputs, activation). The
    stacked convolutions see motif spacing and orientation. The default ``"global"``
    head (global max and mean pooling) is translation invariant and lets the model
    count sites, which trains far better on small data than Basset's ``"flatten"``
    head (position-specific dense weights), also available.

    Args:
        length: input length in bp.
        filters: filters of each convolution.
        kernel_sizes: kernel width of each convolution.
        pool_sizes: max-pool size after each convolution.
        hidden: hidden units (0 for none).
        dropout: dropout rate before the output layer.
        head: ``"global"`` (max + mean pooling) or ``"flatten"``.
        n_outputs: output units.
        activation: output activation.
        seed: seed of the initialisers and dropout.

    Returns:
        An uncompiled ``keras.Model``.

    Example:
        >>> model = basset_like(200, seed=1)
        >>> model.count_params() > 0
        True
    """
    length = _check_length(length)
    if head not in ("global", "flatten"):
        raise ValueError(f"`head` must be 'global' or 'flatten'. Received: head={head!r}")
    if not len(filters) == len(kernel_sizes) == len(pool_sizes) or not filters:
        raise ValueError(
            "`filters`, `kernel_sizes` and `pool_sizes` must have the same non-zero length. "
            f"Received: {len(filters)}, {len(kernel_sizes)}, {len(pool_sizes)}"
        )
    if length < int(np.prod(pool_sizes)):
        raise ValueError(
            f"`length` must be at least the product of `pool_sizes` ({int(np.prod(pool_sizes))}). "
            f"Received: length={length}"
        )
    seeds = _seeds(seed, len(filters) + 3)
    inp = keras.Input((length, 4), name="sequence")
    h = inp
    for i, (f, k, p) in enumerate(zip(filters, kernel_sizes, pool_sizes)):
        h = keras.layers.Conv1D(f, k, padding="same", activation="relu", name=f"conv{i + 1}",
                                kernel_initializer=keras.initializers.GlorotUniform(seeds.pop()))(h)
        h = keras.layers.MaxPooling1D(p, name=f"pool{i + 1}")(h)
    if head == "flatten":
        h = keras.layers.Flatten(name="flatten")(h)
    else:
        h = keras.layers.Concatenate(name="pool")([
            keras.layers.GlobalMaxPooling1D(name="max_pool")(h),
            keras.layers.GlobalAveragePooling1D(name="mean_pool")(h),
        ])
    out = _head(h, hidden, dropout, n_outputs, activation, seeds, "output")
    return keras.Model(inp, out, name="basset_like")
