"""DeepBind models (Alipanahi et al. 2015) built natively from DeepBind's parameter files.

Kipoi's DeepBind weight links are dead and its Keras-2 files do not load under Keras 3;
DeepBind's own text parameter files (``D00328.018.txt``) are the surviving source.
This module reads them and builds a Keras 3 layer that scores sequences exactly as
the ``deepbind`` tool does:

* **Parameter format** (``# deepbind 0.1``): ``reverse_complement``,
  ``num_detectors`` (d), ``detector_len`` (m), ``has_avg_pooling``, ``num_hidden``,
  then comma-separated floats: ``detectors`` (m x 4 x d, position-major, then base,
  then detector), ``thresholds`` (d), ``weights1`` (h1 x h2 with h1 = d, or 2d with
  average pooling, h2 = ``num_hidden`` or 1), ``biases1`` (h2), ``weights2``
  (``num_hidden``, may be empty) and ``biases2`` (1, may be empty).
* **Scoring a window** of n bases: pad m - 1 ``N`` (0.25 per base) on each side,
  convolve (n + m - 1 outputs), add the thresholds and rectify; pool each detector by
  max (and, with average pooling, also by mean; features interleaved max, mean); an
  affine layer, then, with hidden units, rectify and a second affine layer.
* **Scanning** a longer sequence: every window of ``window_size`` bases
  (default ``int(1.5 * m)``) is scored; the sequence score is the max over windows
  (or the mean with ``average=True``; the original tool divides the window sum by
  the sequence length instead of the number of windows, a constant factor for a
  fixed length). A sequence not longer than the window is scored as one window.
* **Reverse complement**: when the file says so, the score is the max of the
  scores of the sequence and of its reverse complement.

Why native (no Kipoi/Keras-2 file survives): the layer gathers every window once,
pads it with ``N`` and runs one convolution over all windows with the detectors and
their reverse complements stacked (scoring a window's reverse complement equals
scoring the window with reverse-complemented kernels, since max and mean pooling
ignore position order), so both strands cost one fused convolution. (A cumulative-sum
formulation that shares work between overlapping windows was exact but ~5x slower on
CPU: many small ops instead of one oneDNN convolution.)
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

import keras

__all__ = ["DeepBindParams", "read_params", "DeepBindScan", "build_deepbind"]

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


def _window_index(length, window_size):
    """Flat positions of every scanning window: ``(n_windows * width,)``, and the counts."""
    width = min(window_size, length)
    n_windows = length - width + 1
    index = np.arange(n_windows)[:, None] + np.arange(width)[None, :]
    return index.reshape(-1).astype("int32"), n_windows, width


@keras.saving.register_keras_serializable(package="keras_iml")
class DeepBindScan(keras.layers.Layer):
    """Scores one-hot DNA ``(N, L, 4)`` with one or several stacked DeepBind models.

    Args:
        num_models: how many models of the same variant are stacked (outputs
            ``(N, num_models)``); loading one model gives ``(N, 1)``.
        num_detectors, detector_len, has_avg_pooling, num_hidden,
        reverse_complement: the variant (from the parameter file).
        window_size: scanning window (default ``int(1.5 * detector_len)``).
        average: mean over windows instead of max.

    Example:
        >>> layer = DeepBindScan.from_params([read_params("D00328.018.txt")])
        >>> layer(x).shape  # x: (N, 101, 4)
        (N, 1)
    """

    def __init__(self, num_models=1, num_detectors=16, detector_len=24, has_avg_pooling=False,
                 num_hidden=0, reverse_complement=True, window_size=None, average=False, **kwargs):
        super().__init__(**kwargs)
        self.num_models = int(num_models)
        self.num_detectors = int(num_detectors)
        self.detector_len = int(detector_len)
        self.has_avg_pooling = bool(has_avg_pooling)
        self.num_hidden = int(num_hidden)
        self.reverse_complement = bool(reverse_complement)
        self.window_size = int(window_size or int(1.5 * self.detector_len))
        self.average = bool(average)
        if self.window_size < 1:
            raise ValueError(f"`window_size` must be >= 1. Received: window_size={window_size}")

    @classmethod
    def from_params(cls, params_list, window_size=None, average=False, name=None):
        """Builds a layer holding the given models (all of one variant)."""
        params_list = list(params_list)
        variants = {p.variant[:3] + (p.num_detectors, p.detector_len) for p in params_list}
        if len(variants) != 1:
            raise ValueError(
                "Stacked DeepBind models must share reverse_complement, pooling, hidden "
                f"units and detector shape. Received variants: {sorted(variants)}"
            )
        p0 = params_list[0]
        layer = cls(num_models=len(params_list), num_detectors=p0.num_detectors,
                    detector_len=p0.detector_len, has_avg_pooling=p0.has_avg_pooling,
                    num_hidden=p0.num_hidden, reverse_complement=p0.reverse_complement,
                    window_size=window_size, average=average, name=name)
        layer._pending = params_list
        return layer

    def build(self, input_shape):
        if input_shape[1] is None:
            raise ValueError("DeepBindScan needs a fixed input length; build the model with "
                             "keras.Input((length, 4)).")
        self.input_length = int(input_shape[1])
        m, d, k = self.detector_len, self.num_detectors, self.num_models
        h1 = 2 * d if self.has_avg_pooling else d
        h2 = self.num_hidden or 1
        add = self.add_weight
        self.detectors = add(shape=(m, 4, k * d), initializer="zeros", name="detectors")
        self.thresholds = add(shape=(k * d,), initializer="zeros", name="thresholds")
        self.weights1 = add(shape=(k, h1, h2), initializer="zeros", name="weights1")
        self.biases1 = add(shape=(k, h2), initializer="zeros", name="biases1")
        if self.num_hidden:
            self.weights2 = add(shape=(k, h2), initializer="zeros", name="weights2")
            self.biases2 = add(shape=(k,), initializer="zeros", name="biases2")
        pending = getattr(self, "_pending", None)
        if pending is not None:
            self.set_weights(self.stack_params(pending))
            self._pending = None

    @staticmethod
    def stack_params(params_list):
        """The layer's weight arrays for a list of parameter sets (in ``weights`` order)."""
        det = np.concatenate([p.detectors for p in params_list], axis=2)
        thr = np.concatenate([p.thresholds for p in params_list])
        out = [det, thr, np.stack([p.weights1 for p in params_list]),
               np.stack([p.biases1 for p in params_list])]
        if params_list[0].num_hidden:
            out += [np.stack([p.weights2 for p in params_list]),
                    np.array([p.biases2 for p in params_list], dtype=np.float32)]
        return out

    def _window_scores(self, windows):
        """Scores of windows ``(R, width, 4)`` on each strand: ``(R, strands, num_models)``."""
        ops = keras.ops
        m, k = self.detector_len, self.num_models
        strands = 2 if self.reverse_complement else 1
        windows = ops.pad(windows, [[0, 0], [m - 1, m - 1], [0, 0]], constant_values=0.25)
        kernel, bias = self.detectors, self.thresholds
        if strands == 2:  # the reverse strand of a window = the window scored with RC kernels
            kernel = ops.concatenate([kernel, ops.flip(kernel, axis=(0, 1))], axis=-1)
            bias = ops.concatenate([bias, bias])
        act = ops.relu(ops.conv(windows, kernel, strides=1, padding="valid") + bias)
        feats = ops.max(act, axis=1)  # (R, strands * k * d)
        if self.has_avg_pooling:  # features interleaved (max, mean) per detector
            feats = ops.stack([feats, ops.mean(act, axis=1)], axis=-1)
        feats = ops.reshape(feats, (-1, strands, k, self.weights1.shape[1]))
        hidden = ops.einsum("rski,kij->rskj", feats, self.weights1) + self.biases1
        if self.num_hidden:
            return ops.sum(ops.relu(hidden) * self.weights2, axis=-1) + self.biases2
        return hidden[..., 0]

    def _scores(self, x):
        ops = keras.ops
        index, n_windows, width = _window_index(self.input_length, self.window_size)
        windows = ops.reshape(ops.take(x, ops.convert_to_tensor(index), axis=1), (-1, width, 4))
        score = self._window_scores(windows)
        score = ops.reshape(score, (-1, n_windows) + tuple(score.shape[1:]))
        score = ops.mean(score, axis=1) if self.average else ops.max(score, axis=1)  # (B, S, k)
        return ops.max(score, axis=1)

    def iml_substitution_outputs(self, x):
        """Outputs for the 3 substitutions at every position, faster than the full layer.

        Used by the ``ism`` method (see :mod:`keras_iml.zoo.deepbind_ism`): only the
        windows that contain a mutation are scored again.

        Args:
            x: one-hot ``(B, L, 4)`` tensor.

        Returns:
            ``(B * L * 3, num_models)``: rows in (sequence, position, r) order, where
            substitution ``r`` puts base ``(original + r + 1) % 4``.
        """
        from keras_iml.zoo.deepbind_ism import substitution_outputs

        return substitution_outputs(self, x)

    def call(self, x):
        if x.shape[1] is None:  # traced with a free length: the built length is required
            x = tf.ensure_shape(x, [None, self.input_length, 4])
        return self._scores(x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_models)

    def get_config(self):
        config = super().get_config()
        config.update(num_models=self.num_models, num_detectors=self.num_detectors,
                      detector_len=self.detector_len, has_avg_pooling=self.has_avg_pooling,
                      num_hidden=self.num_hidden, reverse_complement=self.reverse_complement,
                      window_size=self.window_size, average=self.average)
        return config


def build_deepbind(params, input_length=101, *, window_size=None, average=False, name=None):
    """A Keras model scoring ``(N, input_length, 4)`` one-hot DNA with DeepBind model(s).

    Args:
        params: a :class:`DeepBindParams`, a parameter-file path, or a list of
            parameter sets of one variant (outputs one column per model).
        input_length: sequence length the model takes.
        window_size: scanning window (default ``int(1.5 * detector_len)``).
        average: mean over windows instead of max.
        name: model name.

    Returns:
        A functional ``keras.Model`` with output ``(N, number of models)``.

    Example:
        >>> model = build_deepbind("D00328.018.txt", input_length=101)
        >>> model.predict(x).shape
        (N, 1)
    """
    items = params if isinstance(params, (list, tuple)) else [params]
    items = [read_params(p) if not isinstance(p, DeepBindParams) else p for p in items]
    if isinstance(input_length, bool) or not isinstance(input_length, (int, np.integer)) \
            or input_length < 1:
        raise ValueError(f"`input_length` must be a positive int. Received: input_length={input_length!r}")
    inp = keras.Input((int(input_length), 4), name="seq")
    layer = DeepBindScan.from_params(items, window_size=window_size, average=average, name="deepbind")
    out = layer(inp)
    safe = (name or (items[0].name or "deepbind")).replace(".txt", "").replace(".", "_")
    return keras.Model(inp, out, name=safe)
