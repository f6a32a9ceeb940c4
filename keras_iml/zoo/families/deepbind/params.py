"""DeepBind's parameter files (``# deepbind 0.1``) read into :class:`DeepBindParams`.

The format (one ``key = value`` per line; the arrays as comma-separated floats) is
described in :mod:`keras_iml.zoo.families.deepbind.scan`, which builds the Keras layer
from it.
"""

import dataclasses
import os

import numpy as np

__all__ = ["DeepBindParams", "read_params"]

_INT_KEYS = ("reverse_complement", "num_detectors", "detector_len", "has_avg_pooling", "num_hidden")
_FLOAT_KEYS = ("detectors", "thresholds", "weights1", "biases1", "weights2", "biases2")


@dataclasses.dataclass(frozen=True)
class DeepBindParams:
    """The parameters of one DeepBind model, shaped for computation.

    Attributes:
        reverse_complement: score both strands and keep the max.
        has_avg_pooling: pool by max and mean (else max only).
        num_hidden: hidden units of the second layer (0: none).
        detectors: ``(m, 4, d)`` float32 convolution kernels (ACGT order).
        thresholds: ``(d,)`` biases added before rectification.
        weights1: ``(h1, h2)``; biases1: ``(h2,)``.
        weights2: ``(num_hidden,)`` or None; biases2: float or None.
        name: where the parameters came from (for messages).
    """

    reverse_complement: bool
    has_avg_pooling: bool
    num_hidden: int
    detectors: np.ndarray
    thresholds: np.ndarray
    weights1: np.ndarray
    biases1: np.ndarray
    weights2: np.ndarray = None
    biases2: float = None
    name: str = ""

    @property
    def detector_len(self):
        return int(self.detectors.shape[0])

    @property
    def num_detectors(self):
        return int(self.detectors.shape[2])

    @property
    def default_window(self):
        """The tool's default window: ``int(1.5 * detector_len)``."""
        return int(self.detector_len * 1.5)

    @property
    def variant(self):
        """A tuple naming the architecture variant (what layers are present)."""
        return (self.reverse_complement, self.has_avg_pooling, self.num_hidden, self.detector_len)


def _parse_lines(text, where):
    lines = text.splitlines()
    if not lines or not lines[0].strip().startswith("# deepbind"):
        first = lines[0][:40] if lines else ""
        raise ValueError(
            f"{where} is not a DeepBind parameter file: the first line must be "
            f"'# deepbind 0.1'. Received: {first!r}"
        )
    if lines[0].split()[-1] != "0.1":
        raise ValueError(f"{where}: only DeepBind format 0.1 is supported. Received: {lines[0]!r}")
    values = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, raw = line.partition("=")
        key = key.strip()
        if not sep or key not in _INT_KEYS + _FLOAT_KEYS:
            raise ValueError(f"{where}, line {number}: unexpected entry. Received: {line[:60]!r}")
        values[key] = raw.strip()
    missing = [k for k in _INT_KEYS + _FLOAT_KEYS if k not in values]
    if missing:
        raise ValueError(f"{where}: missing entries {missing}.")
    return values


def _floats(values, key, count, where):
    raw = values[key]
    try:
        arr = np.array([float(v) for v in raw.split(",")] if raw else [], dtype=np.float64)
    except ValueError as err:
        raise ValueError(f"{where}: `{key}` holds a value that is not a number ({err}).") from None
    if arr.size != count:
        raise ValueError(
            f"{where}: `{key}` must hold {count} numbers for this model. Received: {arr.size}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{where}: `{key}` holds non-finite values.")
    return arr


def read_params(source):
    """Reads a DeepBind parameter file.

    Args:
        source: a path to a ``D#####.###.txt`` file, or its text.

    Returns:
        A :class:`DeepBindParams`.

    Example:
        >>> params = read_params("deepbind/params/D00328.018.txt")
        >>> params.detectors.shape
        (36, 4, 16)
    """
    if isinstance(source, (str, os.PathLike)) and os.path.exists(source):
        where = os.fspath(source)
        with open(source, encoding="ascii", errors="replace") as handle:
            text = handle.read()
    elif isinstance(source, str):
        where, text = "DeepBind parameters", source
    else:
        raise TypeError(
            "`source` must be a path or the text of a DeepBind parameter file. "
            f"Received: {type(source).__name__}"
        )
    values = _parse_lines(text, where)
    try:
        ints = {k: int(values[k]) for k in _INT_KEYS}
    except ValueError as err:
        raise ValueError(f"{where}: an integer entry is malformed ({err}).") from None
    d, m, hidden = ints["num_detectors"], ints["detector_len"], ints["num_hidden"]
    if d < 1 or m < 1 or hidden < 0 or ints["has_avg_pooling"] not in (0, 1) \
            or ints["reverse_complement"] not in (0, 1):
        raise ValueError(f"{where}: invalid header values. Received: {ints}")
    h1 = 2 * d if ints["has_avg_pooling"] else d
    h2 = hidden or 1
    detectors = _floats(values, "detectors", m * 4 * d, where).reshape(m, 4, d)
    return DeepBindParams(
        reverse_complement=bool(ints["reverse_complement"]),
        has_avg_pooling=bool(ints["has_avg_pooling"]),
        num_hidden=hidden,
        detectors=detectors.astype(np.float32),
        thresholds=_floats(values, "thresholds", d, where).astype(np.float32),
        weights1=_floats(values, "weights1", h1 * h2, where).reshape(h1, h2).astype(np.float32),
        biases1=_floats(values, "biases1", h2, where).astype(np.float32),
        weights2=_floats(values, "weights2", hidden, where).astype(np.float32) if hidden else None,
        biases2=float(_floats(values, "biases2", 1, where)[0]) if hidden else None,
        name=os.path.basename(where),
    )
