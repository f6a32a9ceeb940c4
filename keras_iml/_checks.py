"""Input validation shared by explain, validate and the CLI.

Every user error raises ``ValueError`` (or ``TypeError``) naming the argument and what
was received, in the Keras style. Nothing here uses ``assert``.
"""

import numpy as np

from keras_iml import dna

__all__ = ["as_onehot", "check_onehot", "check_against_model", "model_input_shape", "check_names",
           "sequence_names"]

_ONEHOT_TOL = 1e-4


def _exactly_onehot(xf):
    """Fast path: every value is 0 or 1 and every column sums to 1 or 0 (no N, no soft values).

    Elementwise comparisons and three additions of the base columns, which numpy
    runs much faster than reductions over a last axis of length 4.
    """
    if not ((xf == 0) | (xf == 1)).all():
        return False
    total = xf[..., 0] + xf[..., 1] + xf[..., 2] + xf[..., 3]
    return bool((total <= 1).all())


def check_onehot(x, name="x", names=None):
    """Checks a float array ``(N, L, 4)`` holds valid DNA columns.

    A valid column is one-hot, all zeros (padding, or ``N`` under the "zeros"
    policy) or uniform 0.25 (``N`` under the default policy). NaN/inf, negative
    values, soft probabilities and channels-first layouts are refused. With
    ``names`` (one per sequence), errors name the offending sequence's record.
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(
            f"`{name}` must be a one-hot array of shape (N, L, 4). "
            f"Received: {name}.shape={x.shape}"
        )
    if x.shape[-1] != 4:
        hint = ""
        if x.shape[1] == 4:
            hint = " It looks channels-first (N, 4, L); transpose it to (N, L, 4)."
        raise ValueError(
            f"`{name}` must be channels-last with 4 bases on the last axis.{hint} "
            f"Received: {name}.shape={x.shape}"
        )
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"`{name}` is empty. Received: {name}.shape={x.shape}")
    if (not np.issubdtype(x.dtype, np.number) and x.dtype != np.bool_) or x.dtype.kind == "c":
        raise TypeError(f"`{name}` must be real numbers. Received: {name}.dtype={x.dtype}")
    xf = x.astype(np.float32, copy=False)
    if _exactly_onehot(xf):
        return xf
    # Three reductions over the base axis decide every column (NaN/inf propagate).
    total, top, low = xf.sum(-1), xf.max(-1), xf.min(-1)
    tol = _ONEHOT_TOL
    onehot = (np.abs(total - 1) < tol) & (np.abs(top - 1) < tol) & (np.abs(low) < tol)
    zeros = (np.abs(top) < tol) & (np.abs(low) < tol)
    uniform = (np.abs(top - 0.25) < tol) & (np.abs(low - 0.25) < tol)
    ok = onehot | zeros | uniform
    if not ok.all():
        if not np.isfinite(total).all():
            n = int(np.argwhere(~np.isfinite(total))[0][0])
            raise ValueError(
                f"`{name}` contains NaN or inf (first in {dna.sequence_label(n, names)}). "
                f"Received: {name}.shape={x.shape}"
            )
        n, i = np.argwhere(~ok)[0]
        where = "" if names is None else f" ({dna.sequence_label(n, names)}, position {i})"
        raise ValueError(
            f"`{name}` must be one-hot encoded DNA (each position one-hot, all-zero or "
            f"uniform 0.25 for N). Received: {name}[{n}, {i}]={xf[n, i].tolist()}{where}"
        )
    return xf


def model_input_shape(model):
    """Returns the model's declared per-sequence input shape ``(L, C)`` or None."""
    try:
        shape = model.input_shape
    except (AttributeError, ValueError):
        return None
    if isinstance(shape, list):
        if len(shape) != 1:
            return None
        shape = shape[0]
    if shape is None or len(shape) != 3:
        return None
    return tuple(shape[1:])


def check_against_model(x, model, name="x"):
    """Checks the layout and length of ``x`` against a model's declared input."""
    shape = model_input_shape(model)
    if shape is None:
        return
    length, channels = shape
    if channels is not None and channels != 4 and length == 4:
        raise ValueError(
            f"The model expects channels-first input (N, 4, L); keras_iml explains "
            f"channels-last models (N, L, 4). Received model input shape {shape}."
        )
    if length is not None and x.shape[1] != length:
        raise ValueError(
            f"The model takes sequences of length {length}. "
            f"Received: {name}.shape={tuple(x.shape)}"
        )


def _as_strings(x):
    """A list of str from a 1-D array or Series of str / bytes, else None."""
    values = x.to_numpy(dtype=object) if type(x).__name__ == "Series" else x
    if not isinstance(values, np.ndarray) or values.ndim != 1 or not values.size:
        return None
    if values.dtype.kind in "US" or (values.dtype == object and all(
            isinstance(v, (str, bytes)) for v in values)):
        out = []
        for i, v in enumerate(values):
            if isinstance(v, bytes):
                try:
                    v = v.decode("ascii")
                except UnicodeDecodeError:
                    raise ValueError(
                        f"`x` holds bytes that are not ASCII DNA letters. Received: x[{i}]={v[:60]!r}"
                    ) from None
            out.append(str(v))
        return out
    return None


def as_onehot(x, alphabet="ACGT", n_policy="uniform", name="x", names=None):
    """Turns any supported sequence input into a validated float32 ``(N, L, 4)`` array.

    Args:
        x: one-hot numpy array or tensor ``(N, L, 4)``, a DNA string, or a list, 1-D
            numpy array or pandas Series of strings. (``tf.data.Dataset`` inputs are
            streamed by the engine instead; a dict name -> sequence is unpacked by
            :func:`sequence_names` first.)
        alphabet: column order of the encoding.
        n_policy: see :func:`keras_iml.dna.one_hot`.
        name: the argument name used in error messages.
        names: optional name of each sequence, used in error messages.
    """
    if isinstance(x, str) or (
        isinstance(x, (list, tuple)) and len(x) and isinstance(x[0], str)
    ):
        return dna.one_hot(x, alphabet=alphabet, n_policy=n_policy, names=names)
    strings = _as_strings(x)
    if strings is not None:  # a 1-D numpy array or pandas Series of DNA strings
        return dna.one_hot(strings, alphabet=alphabet, n_policy=n_policy, names=names)
    if isinstance(x, (list, tuple)) and not len(x):
        raise ValueError(f"`{name}` is empty. Received: {name}=[]")
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    try:
        arr = np.asarray(x)
    except Exception as err:  # noqa: BLE001 - re-raised with the argument named
        raise TypeError(
            f"`{name}` must be a one-hot array (N, L, 4), a list of DNA strings or a "
            f"tf.data.Dataset. Received: {name} of type {type(x).__name__}"
        ) from err
    if arr.dtype == object:
        raise TypeError(
            f"`{name}` must be a one-hot array (N, L, 4), a list of DNA strings or a "
            f"tf.data.Dataset. Received: {name} of type {type(x).__name__}"
        )
    return check_onehot(arr, name=name, names=names)


def check_names(names, n=None, arg="names"):
    """``names`` as a list of ``n`` strings (None stays None).

    Args:
        names: None, or a list / tuple / array / pandas Index or Series of strings (or
            integers, turned into strings), one per sequence.
        n: the number of sequences (None: not known yet, not checked).
        arg: the argument name used in error messages.

    Raises:
        TypeError: ``names`` is one string or holds something else than strings.
        ValueError: ``names`` does not hold one name per sequence.
    """
    if names is None:
        return None
    if isinstance(names, (str, bytes)) or not hasattr(names, "__len__"):
        raise TypeError(
            f"`{arg}` must be a list of strings, one per sequence. "
            f"Received: {arg} of type {type(names).__name__}"
        )
    out = []
    for i, value in enumerate(list(names)):
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not isinstance(value, (str, int, np.integer)) or isinstance(value, bool):
            raise TypeError(
                f"`{arg}` must hold strings. Received: {arg}[{i}] of type {type(value).__name__}"
            )
        out.append(str(value))
    if n is not None and len(out) != n:
        raise ValueError(
            f"`{arg}` must hold one name per sequence (N={n}). Received: len({arg})={len(out)}"
        )
    return out


def _default_index(index):
    """True for a pandas RangeIndex 0, 1, ... (no names worth keeping)."""
    return (type(index).__name__ == "RangeIndex" and index.start == 0 and index.step == 1)


def _count(x):
    """Number of sequences in an accepted input, or None when it cannot be known up front."""
    if isinstance(x, str):
        return 1
    if isinstance(x, (list, tuple)) or type(x).__name__ == "Series":
        return len(x)
    shape = getattr(x, "shape", None)
    if shape is not None and len(shape) == 3 and shape[0] is not None:
        return int(shape[0])
    return None


def sequence_names(x, names=None, name="x"):
    """Splits sequence names from the data: ``(x, names)``.

    Names come from ``names`` when given, else from a dict ``name -> sequence``
    (a DNA string or a one-hot ``(L, 4)`` array; the dict is turned into a list or
    an array in its order) or from the index of a pandas Series of strings (unless it
    is the default ``0, 1, ...``). Without any, ``names`` stays None.

    Returns:
        ``(x, names)``: the data in a form :func:`as_onehot` accepts, and a list of
        strings (one per sequence, checked where the count is known) or None.
    """
    auto = None
    if isinstance(x, dict):
        if not x:
            raise ValueError(f"`{name}` is empty. Received: {name}={{}}")
        auto = list(x)
        values = list(x.values())
        if all(isinstance(v, str) for v in values):
            x = values
        else:
            try:
                x = np.stack([np.asarray(v) for v in values])
            except ValueError as err:
                raise ValueError(
                    f"A dict `{name}` must map names to DNA strings or to one-hot (L, 4) arrays "
                    f"of one shape. Received: values of shapes "
                    f"{sorted({np.shape(v) for v in values})[:5]}"
                ) from err
    elif type(x).__name__ == "Series" and not _default_index(x.index):
        auto = list(x.index)
    return x, check_names(names if names is not None else auto, _count(x))


def text_line(raw, path, number):
    """One line of a text file (bytes) as a stripped str; ValueError naming the file and line."""
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError(
            f"The file is not text: line {number} of {str(path)!r} is not UTF-8. "
            f"Received: {raw[:60]!r}"
        ) from None
