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
ignore position order), so both strands cost one fused convolution, written in a
polyphase form whose gradient is fast (see ``DeepBindScan._window_act``). (A
cumulative-sum formulation that shares work between overlapping windows was exact but
~5x slower on CPU: many small ops instead of one oneDNN convolution.) ISM re-scores
only the windows a mutation touches (:mod:`keras_iml.zoo.families.deepbind.mutagenesis`);
integrated gradients follow each window's few maximal lines along the path
(``DeepBindScan.iml_window_pool_split``). The parameter files are read by
:mod:`keras_iml.zoo.families.deepbind.params`.
"""

import numpy as np
import tensorflow as tf

import keras
from keras_iml.zoo.families.deepbind.mutagenesis import substitution_outputs
from keras_iml.zoo.families.deepbind.params import DeepBindParams, read_params

__all__ = ["DeepBindParams", "read_params", "DeepBindScan", "build_deepbind"]


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

    def strand_kernel(self):
        """``(kernel (m, 4, C), bias (C,))`` with the reverse-complement detectors stacked
        after the forward ones when both strands are scored (the reverse strand of a
        window is the window scored with reverse-complemented kernels)."""
        kernel, bias = self.detectors, self.thresholds
        if self.reverse_complement:
            kernel = keras.ops.concatenate([kernel, keras.ops.flip(kernel, axis=(0, 1))], axis=-1)
            bias = keras.ops.concatenate([bias, bias])
        return kernel, bias

    def _window_act(self, windows, phases):
        """``relu(conv(N-padded windows) + thresholds)`` (see :meth:`_window_pre`)."""
        pre, n_positions = self._window_pre(windows, phases)
        return keras.ops.relu(pre), n_positions

    def _window_pre(self, windows, phases):
        """``conv(N-padded windows) + thresholds``: ``(R, positions, strands * k * d)``.

        With ``phases = s > 1`` the convolution runs on ``s`` consecutive positions
        folded into ``4 s`` channels, with a kernel bank giving the ``s`` output phases
        as ``s`` times the channels (a polyphase form of the same convolution).
        Why: TensorFlow's CPU convolution computes the gradient into 4 input channels
        slowly; into 16 it is about 3x faster, which makes every gradient method
        ~1.4x faster on DeepBind models. The folded output has up to ``s - 1``
        positions past the window's ``width + m - 1``; they get a -1e9 bias, so they
        rectify to exactly 0 and change neither the max nor the (re-scaled) sum.

        Returns:
            ``(pre, n_positions)``: the pre-activations (affine in the windows) and
            how many positions are real.
        """
        ops = keras.ops
        m, width = self.detector_len, windows.shape[1]
        kernel, bias = self.strand_kernel()
        n_positions = width + m - 1
        if phases == 1:
            windows = ops.pad(windows, [[0, 0], [m - 1, m - 1], [0, 0]], constant_values=0.25)
            return ops.conv(windows, kernel, strides=1, padding="valid") + bias, n_positions
        s, channels = int(phases), kernel.shape[-1]
        taps, groups = -(-(s + m - 1) // s), -(-n_positions // s)
        folded = groups + taps - 1
        # bank[t, u * 4 + z, r * C + c] = kernel[t * s + u - r, z, c] (0 outside the kernel)
        j = np.arange(taps)[:, None, None] * s + np.arange(s)[None, :, None] - np.arange(s)[None, None, :]
        index = np.where((j >= 0) & (j < m), j + 1, 0).reshape(-1).astype("int32")
        bank = ops.take(ops.pad(kernel, [[1, 0], [0, 0], [0, 0]]), index, axis=0)
        bank = ops.reshape(ops.transpose(ops.reshape(bank, (taps, s, s, 4, channels)), (0, 1, 3, 2, 4)),
                           (taps, 4 * s, s * channels))
        windows = ops.pad(windows, [[0, 0], [m - 1, folded * s - width - (m - 1)], [0, 0]],
                          constant_values=0.25)
        conv = ops.conv(ops.reshape(windows, (-1, folded, 4 * s)), bank, strides=1, padding="valid")
        extra = np.where(np.arange(groups * s) < n_positions, 0.0, -1e9).astype("float32")[:, None]
        return ops.reshape(conv, (-1, groups * s, channels)) + bias + extra, n_positions

    def _window_scores(self, windows, phases=4):
        """Scores of windows ``(R, width, 4)`` on each strand: ``(R, strands, num_models)``.

        With max pooling only, the rectifier runs after the max (``max relu = relu
        max``, with the same gradient): the large per-position tensor then passes
        through one op instead of two, in the forward pass, its gradient and the
        DeepLIFT rules alike.
        """
        if not self.has_avg_pooling:
            pre, _ = self._window_pre(windows, phases)
            pooled = keras.ops.max_pool(pre, pool_size=pre.shape[1], strides=pre.shape[1])
            return self._feature_scores(keras.ops.relu(keras.ops.reshape(pooled, (-1, pre.shape[-1]))))
        act, n_positions = self._window_act(windows, phases)
        return self._pooled_scores(act, n_positions)

    def _pooled_scores(self, act, n_positions):
        """Window scores ``(R, strands, num_models)`` from activations ``(R, positions, C)``."""
        ops = keras.ops
        mean = ops.sum(act, axis=1) / float(n_positions) if self.has_avg_pooling else None
        return self._feature_scores(ops.max(act, axis=1), mean)

    def _feature_scores(self, feats, mean=None):
        """Window scores ``(R, strands, num_models)`` from pooled features ``(R, C)``
        (the max over positions, and the mean with average pooling)."""
        ops = keras.ops
        strands = 2 if self.reverse_complement else 1
        if self.has_avg_pooling:  # features interleaved (max, mean) per detector
            feats = ops.stack([feats, mean], axis=-1)
        feats = ops.reshape(feats, (-1, strands, self.num_models, self.weights1.shape[1]))
        hidden = ops.einsum("rski,kij->rskj", feats, self.weights1) + self.biases1
        if self.num_hidden:
            return ops.sum(ops.relu(hidden) * self.weights2, axis=-1) + self.biases2
        return hidden[..., 0]

    def _windows(self, x):
        index, n_windows, width = _window_index(self.input_length, self.window_size)
        windows = keras.ops.take(x, keras.ops.convert_to_tensor(index), axis=1)
        return keras.ops.reshape(windows, (-1, width, 4)), n_windows

    def _sequence_scores(self, score, n_windows):
        ops = keras.ops
        score = ops.reshape(score, (-1, n_windows) + tuple(score.shape[1:]))
        score = ops.mean(score, axis=1) if self.average else ops.max(score, axis=1)  # (B, S, k)
        return ops.max(score, axis=1)

    def _scores(self, x):
        windows, n_windows = self._windows(x)
        return self._sequence_scores(self._window_scores(windows), n_windows)

    def iml_affine_split(self):
        """``(pre_activation, activation, rest)`` with ``rest(activation(pre(x))) == self(x)``.

        ``pre_activation`` (every window's N-padded convolution plus thresholds,
        ``(B, windows * positions, channels)``) is affine in ``x``: integrated
        gradients then run it once for the input and once for the baseline and take
        the path's steps through the pooling and the dense layers only (see
        :func:`keras_iml.methods.integrated_gradients.path_gradients`), the same
        values for a fraction of the work. With max pooling only, the rectifier is
        applied after the max over positions (``max relu = relu max``: the same
        function, and the steps touch the large activation once instead of three
        times).
        """
        ops = keras.ops
        _, n_windows, width = _window_index(self.input_length, self.window_size)
        real = width + self.detector_len - 1
        folded = -(-real // 4) * 4  # positions of the 4-phase convolution (extras rectify to 0)

        def pre_activation(x):
            windows, _ = self._windows(x)
            pre, _ = self._window_pre(windows, 4)
            return ops.reshape(pre, (-1, n_windows * folded, pre.shape[-1]))

        def rest(h):
            act = ops.reshape(h, (-1, folded, h.shape[-1]))
            if self.has_avg_pooling:
                return self._sequence_scores(self._pooled_scores(act, real), n_windows)
            feats = ops.relu(ops.max(act, axis=1))
            return self._sequence_scores(self._feature_scores(feats), n_windows)

        activation = keras.activations.relu if self.has_avg_pooling else keras.activations.linear
        return pre_activation, activation, rest

    def iml_window_pool_split(self):
        """``(pre_activation, group, head, mean_of)`` with ``self(x) == head(relu(M))``
        (``head(relu(M), S / mean_of)`` with average pooling), where ``M`` / ``S`` are
        the max / sum over each group of ``group`` consecutive positions of the affine
        ``pre_activation(x)`` (``S`` rectified first; one group per window): integrated
        gradients then follow the few maximal lines of each window along the path
        (:mod:`keras_iml.zoo.families.deepbind.envelope`)."""
        pre_activation, _, _ = self.iml_affine_split()
        _, n_windows, width = _window_index(self.input_length, self.window_size)
        real = width + self.detector_len - 1
        group = -(-real // 4) * 4

        def head(maxima, means=None):  # (B, windows, channels) each
            flat = keras.ops.reshape(maxima, (-1, maxima.shape[-1]))
            mean = None if means is None else keras.ops.reshape(means, (-1, means.shape[-1]))
            return self._sequence_scores(self._feature_scores(flat, mean), n_windows)

        return pre_activation, group, head, (real if self.has_avg_pooling else None)

    @property
    def iml_positions_per_base(self):
        """Activation positions per input base (read by the DeepLIFT engine to choose
        its XLA-fused rules): every window is scored with its own padding, so a
        101-bp input has about 37 times more positions than bases."""
        length = getattr(self, "input_length", None)
        if not length:
            return 1.0
        _, n_windows, width = _window_index(length, self.window_size)
        return n_windows * (width + self.detector_len - 1) / length

    def iml_substitution_outputs(self, x):
        """Outputs for the 3 substitutions at every position, faster than the full layer.

        Used by the ``ism`` method (see :mod:`keras_iml.zoo.families.deepbind.mutagenesis`): only
        the windows that contain a mutation are scored again.

        Args:
            x: one-hot ``(B, L, 4)`` tensor.

        Returns:
            ``(B * L * 3, num_models)``: rows in (sequence, position, r) order, where
            substitution ``r`` puts base ``(original + r + 1) % 4``.
        """
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
