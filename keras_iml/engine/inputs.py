"""What the engine is given to explain: DNA in its accepted forms, in batches, and auxiliary inputs."""

import numpy as np

from keras_iml import _checks

__all__ = ["as_array", "batches", "check_aux", "check_not_tokens", "is_dataset", "check_batch_size", "check_seed", "check_verbose"]


def check_batch_size(batch_size, name="batch_size"):
    """Raises ValueError unless ``batch_size`` is a positive int."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={batch_size!r}")


def check_seed(seed):
    """The run's base seed: ``seed`` itself, or a fresh one drawn from the OS when None."""
    if seed is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative int or None. Received: seed={seed!r}")
    return int(seed)


def check_verbose(verbose, n_batches):
    """Progress-bar verbosity: ``"auto"`` shows a bar when there is more than one batch."""
    if isinstance(verbose, str) and verbose == "auto":
        return 1 if n_batches is None or n_batches > 1 else 0
    if verbose not in (0, 1, 2, True, False):
        raise ValueError(f"`verbose` must be 'auto', 0, 1 or 2. Received: verbose={verbose!r}")
    return int(verbose)


def is_dataset(x):
    try:
        import tensorflow as tf
    except ImportError:  # pragma: no cover - TensorFlow is a dependency
        return False
    return isinstance(x, tf.data.Dataset)


def _dataset_batches(dataset, batch_size, alphabet, n_policy):
    """Validated one-hot numpy batches of ``batch_size`` from a tf.data.Dataset."""
    buffer, count = [], 0
    for element in dataset:
        if isinstance(element, (tuple, list)):
            element = element[0]
        if isinstance(element, dict):
            raise ValueError(
                "Dict elements are not supported in `x`; map the dataset to one-hot tensors. "
                f"Received: an element with keys {sorted(element)}"
            )
        arr = np.asarray(element)
        if arr.ndim == 0 and arr.dtype.kind in "SUO":  # one DNA string per element
            arr = arr.reshape(1)
        if arr.ndim == 2:
            arr = arr[None]
        arr = _checks.as_onehot(arr, alphabet, n_policy)
        buffer.append(arr)
        count += len(arr)
        while count >= batch_size:
            joined = np.concatenate(buffer)
            yield joined[:batch_size]
            rest = joined[batch_size:]
            buffer, count = ([rest] if len(rest) else []), len(rest)
    if count:
        yield np.concatenate(buffer)


def check_not_tokens(x, name="x"):
    """Raises ValueError for integer tokens ``(N, L)`` given where DNA is expected.

    A model taking tokens is explained through its one-hot equivalent
    (:mod:`keras_iml.engine.graph`), so ``x`` is DNA strings or one-hot; the message
    says how to convert tokens (and never prints the array).
    """
    dtype, shape = getattr(x, "dtype", None), getattr(x, "shape", None)
    if shape is None or len(shape) != 2 or dtype is None:
        return
    try:
        dtype = np.dtype(getattr(dtype, "as_numpy_dtype", dtype))
    except TypeError:  # a framework dtype numpy does not read
        return
    if dtype.kind in "iu":
        raise ValueError(
            f"`{name}` looks like integer tokens (N, L); pass DNA strings or one-hot (N, L, 4) "
            "(a token model is explained through its one-hot equivalent). Convert with "
            f"keras_iml.engine.graph.tokens_to_onehot({name}). Received: {name}.shape="
            f"{tuple(shape)} of dtype {dtype}"
        )


def batches(x, batch_size, alphabet="ACGT", n_policy="uniform"):
    """``(n_total, iterator of one-hot batches)`` for any accepted form of ``x``.

    ``n_total`` is None for a ``tf.data.Dataset`` (its length is not known up front).
    """
    if is_dataset(x):
        return None, _dataset_batches(x, batch_size, alphabet, n_policy)
    check_not_tokens(x)
    arr = _checks.as_onehot(x, alphabet, n_policy)
    return len(arr), (arr[i : i + batch_size] for i in range(0, len(arr), batch_size))


def as_array(x, batch_size=128, alphabet="ACGT", n_policy="uniform"):
    """``x`` as one validated float32 ``(N, L, 4)`` array (a dataset is read to the end)."""
    n_total, parts = batches(x, batch_size, alphabet, n_policy)
    if n_total is not None:
        return next(parts) if n_total <= batch_size else np.concatenate(list(parts))
    parts = list(parts)
    if not parts:
        raise ValueError("`x` is empty: it yielded no sequences.")
    return np.concatenate(parts)


def _fits(shape, declared):
    """Whether ``shape`` matches ``declared`` (None: any size)."""
    return len(shape) == len(declared) and all(d is None or d == a for d, a in zip(declared, shape))


def check_aux(aux, names, shapes, n):
    """Auxiliary inputs as a list of float32 arrays in ``names`` order, each ``(n, ...)``.

    Args:
        aux: None, a dict name -> array, a list of arrays in ``names`` order, or one
            array when there is one auxiliary input. An array may also hold a single
            row (shared by every sequence). For an input declared ``(L, 1)`` (a per-base
            track), ``(N, L)`` is read as ``(N, L, 1)``.
        names: the model's auxiliary input names.
        shapes: their declared per-sequence shapes (None where free).
        n: number of sequences (None for a stream).

    Returns:
        None when the model has no auxiliary inputs.

    Raises:
        ValueError: missing, unknown or mis-shaped auxiliary inputs.
    """
    if not names:
        if aux is not None and not (isinstance(aux, dict) and not aux):
            raise ValueError(
                "The model takes only the DNA; `aux` must be None. "
                f"Received: aux of type {type(aux).__name__}"
            )
        return None
    if aux is None:
        raise ValueError(
            f"The model takes inputs {list(names)} besides the DNA; pass their values with "
            "`aux=` (a dict name -> array with one row per sequence). Received: aux=None"
        )
    if isinstance(aux, dict):
        unknown = sorted(set(aux) - set(names))
        missing = [k for k in names if k not in aux]
        if unknown or missing:
            raise ValueError(
                f"`aux` must name the model's auxiliary inputs {list(names)}. "
                f"Received: aux keys {sorted(aux)}"
            )
        arrays = [aux[k] for k in names]
    elif isinstance(aux, (list, tuple)):
        if len(aux) != len(names):
            raise ValueError(
                f"`aux` must hold {len(names)} arrays ({list(names)}). Received: {len(aux)} arrays"
            )
        arrays = list(aux)
    elif len(names) == 1:
        arrays = [aux]
    else:
        raise TypeError(
            f"`aux` must be a dict name -> array for the inputs {list(names)}. "
            f"Received: aux of type {type(aux).__name__}"
        )
    out = []
    for name, shape, value in zip(names, shapes, arrays):
        try:
            arr = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"`aux[{name!r}]` must be numeric. Received: {type(value).__name__}"
            ) from err
        declared = tuple(shape)
        if arr.ndim == len(declared) and _fits(arr.shape, declared):
            arr = arr[None]  # one row without its batch axis
        elif arr.ndim == len(declared) and declared[-1] == 1 and _fits(arr.shape[1:], declared[:-1]):
            arr = arr[..., None]  # (N, L) for an input declared (L, 1): a per-base track
        if arr.ndim != len(declared) + 1 or any(
                d is not None and d != a for d, a in zip(declared, arr.shape[1:])):
            raise ValueError(
                f"`aux[{name!r}]` must have shape (N, {', '.join(str(d) for d in declared)}) "
                f"for the model's input {name!r}. Received: aux[{name!r}].shape={arr.shape}"
            )
        if n is not None and arr.shape[0] not in (1, n):
            raise ValueError(
                f"`aux[{name!r}]` must have one row per sequence (N={n}) or a single row. "
                f"Received: aux[{name!r}].shape={arr.shape}"
            )
        if not np.isfinite(arr).all():
            raise ValueError(f"`aux[{name!r}]` contains NaN or inf values.")
        out.append(arr)
    return out
