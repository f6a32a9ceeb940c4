"""A fast, seeded trainer with early stopping, and seeded ensembles.

Batches are shuffled with a ``numpy.random.Generator`` and fed with
``train_on_batch`` (a few times faster than one ``fit`` call per epoch on small
data), so training is reproducible without setting Keras' global seed.
"""

import time

import numpy as np
import pandas as pd

import keras
from keras_iml import _checks
from keras_iml.models.evaluation import auroc

__all__ = ["train", "train_ensemble"]


def _split(x, y, validation_data, validation_fraction, rng):
    if validation_data is not None:
        xv, yv = validation_data
        return x, y, _checks.check_onehot(xv, "validation_data[0]"), np.asarray(yv, np.float32)
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(
            "`validation_fraction` must be in (0, 1) when no validation_data is given. "
            f"Received: validation_fraction={validation_fraction!r}"
        )
    n_val = max(1, int(round(len(x) * validation_fraction)))
    labels = y.reshape(len(y), -1)
    if labels.shape[1] == 1 and np.isin(labels, (0, 1)).all():
        # stratified: the same fraction of each class is held out
        val = np.concatenate([
            rng.permutation(np.flatnonzero(labels[:, 0] == c))[
                : int(round(n_val * np.mean(labels[:, 0] == c)))]
            for c in (0, 1)
        ])
    else:
        val = rng.permutation(len(x))[:n_val]
    tr = np.setdiff1d(np.arange(len(x)), val)
    return x[tr], y[tr], x[val], y[val]


def _safe_auroc(y, score):
    y = np.asarray(y).reshape(-1)
    if y.ndim != 1 or not np.isin(y, (0, 1)).all() or y.min() == y.max():
        return np.nan
    return auroc(y, np.asarray(score).reshape(len(y), -1)[:, 0])


def _loss_function(model):
    """The compiled loss as a function ``(y_true, y_pred)``, or None if it is not one loss."""
    loss = getattr(model, "loss", None)
    if isinstance(loss, (dict, list, tuple)) or loss is None:
        return None
    try:
        return keras.losses.get(loss)
    except (ValueError, TypeError):
        return None


def train(model, x, y, *, validation_data=None, validation_fraction=0.1, epochs=30,
          batch_size=64, learning_rate=1e-3, patience=3, min_delta=1e-4, rc_augment=False,
          seed=0, verbose=1):
    """Fits a model with Adam and early stopping on the validation loss.

    The model is compiled here (binary cross-entropy, or MSE for a linear
    multi-unit output) unless it already is; the weights of the best epoch are
    restored at the end.

    Args:
        model: a Keras model with one output (trained in place).
        x: one-hot ``(N, L, 4)``.
        y: labels ``(N,)`` or ``(N, n_outputs)``.
        validation_data: ``(x_val, y_val)``; without it ``validation_fraction`` of
            ``x`` is held out (seeded).
        validation_fraction: fraction held out when ``validation_data`` is None.
        epochs: maximum number of epochs.
        batch_size: batch size.
        learning_rate: Adam learning rate.
        patience: epochs without improvement before stopping.
        min_delta: the smallest decrease of the validation loss that counts.
        rc_augment: reverse-complement each training sequence with probability 1/2
            in every batch (for tasks that do not depend on the strand).
        seed: seed of the batch order and the validation split.
        verbose: 0 (silent) or 1 (one line per epoch).

    Returns:
        DataFrame ``epoch, loss, val_loss, val_auroc, seconds`` (one row per epoch).

    Example:
        >>> history = train(basset_like(200), data.x, data.y, seed=0)
        >>> history.val_auroc.max()
    """
    x = _checks.check_onehot(x)
    y = np.asarray(y, dtype=np.float32)
    if len(y) != len(x):
        raise ValueError(
            f"`y` must have one label per sequence. Received: len(x)={len(x)}, y.shape={y.shape}"
        )
    for name, value, low in [("epochs", epochs, 1), ("batch_size", batch_size, 1), ("patience", patience, 0)]:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"`{name}` must be an int >= {low}. Received: {name}={value!r}")
    # a stream of its own, so that it never replays the generator that made the data
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(0x7261696E,)))
    x_tr, y_tr, x_val, y_val = _split(x, y, validation_data, validation_fraction, rng)
    if not model.compiled:
        binary = model.output_shape[-1] == 1
        model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                      loss="binary_crossentropy" if binary else "mse")
    loss_fn = _loss_function(model)
    best, best_weights, wait, rows = np.inf, None, 0, []
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        order = rng.permutation(len(x_tr))
        losses = []
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            xb = x_tr[idx]
            if rc_augment:
                flip = rng.random(len(idx)) < 0.5
                xb = np.where(flip[:, None, None], xb[:, ::-1, ::-1], xb)
            logs = model.train_on_batch(xb, y_tr[idx], return_dict=True)
            losses.append(float(logs["loss"]) * len(idx))
        val_pred = np.asarray(model.predict(x_val, batch_size=256, verbose=0))
        y_v = y_val.reshape(val_pred.shape)
        if loss_fn is None:
            val_loss = float(model.evaluate(x_val, y_v, batch_size=256, verbose=0,
                                            return_dict=True)["loss"])
        else:
            val_loss = float(np.mean(keras.ops.convert_to_numpy(loss_fn(y_v, val_pred))))
        row = {"epoch": epoch, "loss": sum(losses) / len(order), "val_loss": val_loss,
               "val_auroc": _safe_auroc(y_val, val_pred), "seconds": time.perf_counter() - t0}
        rows.append(row)
        if verbose:
            print(f"  epoch {epoch:>3}: loss {row['loss']:.4f}  val_loss {val_loss:.4f}  "
                  f"val_auroc {row['val_auroc']:.4f}  ({row['seconds']:.1f}s)", flush=True)
        if val_loss < best - min_delta:
            best, best_weights, wait = val_loss, model.get_weights(), 0
        else:
            wait += 1
            if wait > patience:
                break
    if best_weights is not None:
        model.set_weights(best_weights)
    return pd.DataFrame(rows)


def train_ensemble(builder, x, y, k=5, seed=0, verbose=1, **train_kwargs):
    """Trains ``k`` independently seeded models (initialisation and batch order).

    Args:
        builder: a callable ``builder(seed=int) -> keras.Model`` (e.g.
            ``functools.partial(basset_like, 200)``).
        x: one-hot ``(N, L, 4)``.
        y: labels.
        k: number of models.
        seed: seed from which the members' seeds are derived.
        verbose: 0 or 1.
        **train_kwargs: passed to :func:`train`.

    Returns:
        ``(models, histories)``: lists of ``k`` trained models and their histories
        (each history has a ``seed`` column).

    Example:
        >>> models, histories = train_ensemble(partial(basset_like, 200), x, y, k=3)
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"`k` must be a positive int. Received: k={k!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative int. Received: seed={seed!r}")
    member_seeds = [int(s) % (2**31) for s in np.random.SeedSequence(int(seed)).generate_state(k)]
    models, histories = [], []
    for i, s in enumerate(member_seeds):
        if verbose:
            print(f"model {i + 1}/{k} (seed {s})", flush=True)
        model = builder(seed=s)
        history = train(model, x, y, seed=s, verbose=verbose, **train_kwargs)
        history.insert(0, "seed", s)
        models.append(model)
        histories.append(history)
    return models, histories
