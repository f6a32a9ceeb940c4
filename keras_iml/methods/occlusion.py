"""Occlusion (Zeiler & Fergus 2014) with sequence-valid replacements.

Native because tf-explain's ``OcclusionSensitivity`` fails on 1-D inputs (IndexError)
and, like xplique's Occlusion, fills the window with a constant (zeros by default),
which is not a DNA sequence. Here the window is filled by default with the same window of a
dinucleotide-shuffled copy of the sequence, and all occluded copies of a batch go
through the model's compiled forward pass in large chunks.
"""

import numpy as np

from keras_iml.methods import _references as refs_lib
from keras_iml.methods.base import AttributionMethod, register
from keras_iml.methods.integrated_gradients import check_positive_int

__all__ = ["Occlusion"]

MODES = ("dinuc_shuffle", "shuffle", "random", "replace", "zeros")


def _windows(length, window, stride):
    """Boolean mask ``(W, L)`` of the windows; the last one always reaches the end."""
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] + window < length:
        starts.append(length - window)
    mask = np.zeros((len(starts), length), dtype=bool)
    for w, s in enumerate(starts):
        mask[w, s : s + window] = True
    return mask


@register("occlusion")
class Occlusion(AttributionMethod):
    """Output drop when a window of the sequence is replaced, spread over its positions.

    For every window ``w`` (``window`` positions, every ``stride``), the window is
    replaced and the drop ``f(x) - f(x_occluded)`` is recorded (averaged over
    ``n_shuffles`` random replacements). The importance of position ``i`` is the mean
    drop over the windows that cover it, and ``values = importance * x`` (non-zero
    only at observed bases). No hypothetical contributions are defined.

    Replacement modes:

    * ``"dinuc_shuffle"`` (default): the same window of a dinucleotide-shuffled copy
      of the whole sequence (keeps the sequence's composition; never all zeros).
    * ``"shuffle"``: the same window of a position-shuffled copy.
    * ``"random"``: i.i.d. random bases.
    * ``"replace"``: a fixed column ``value`` at every position of the window.
    * ``"zeros"``: all-zero columns (off the one-hot simplex; explicit opt-in).

    Args:
        window: window length (>= 1, at most the sequence length).
        stride: step between window starts (>= 1); the last window is aligned to
            the sequence end so every position is covered.
        mode: one of the modes above.
        n_shuffles: random replacements averaged per window (random modes only).
        value: for ``mode="replace"``: a letter of ``"ACGT"``, a column index 0-3, or a
            length-4 vector.
        chunk_size: occluded sequences per forward call.

    Example:
        >>> keras_iml.explain(model, x, "occlusion", window=10, n_shuffles=8, seed=0)
    """

    def __init__(self, window=5, stride=1, mode="dinuc_shuffle", n_shuffles=4, value=None,
                 chunk_size=512):
        self.window = window
        self.stride = stride
        self.mode = mode
        self.n_shuffles = n_shuffles
        self.value = value
        self.chunk_size = chunk_size

    @property
    def stochastic(self):
        return self.mode in refs_lib.RANDOM_KINDS

    def alternatives(self):
        return [{"window": 10}]

    def _value_column(self):
        value = self.value
        if isinstance(value, str) and len(value) == 1 and value.upper() in "ACGT":
            return np.eye(4, dtype=np.float32)["ACGT".index(value.upper())]
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= value < 4:
            return np.eye(4, dtype=np.float32)[int(value)]
        try:
            column = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError):
            column = None
        if column is None or column.shape != (4,) or not np.isfinite(column).all():
            raise ValueError(
                "`value` (for mode='replace') must be a letter of 'ACGT', an int in 0..3 or "
                f"a finite vector of length 4. Received: value={value!r}"
            )
        return column

    def check_params(self, function):
        check_positive_int(self.window, "window")
        check_positive_int(self.stride, "stride")
        check_positive_int(self.n_shuffles, "n_shuffles")
        check_positive_int(self.chunk_size, "chunk_size")
        if self.mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}. Received: mode={self.mode!r}")
        if self.mode == "replace":
            self._value_column()
        elif self.value is not None:
            raise ValueError(
                f"`value` is only used with mode='replace'. Received: value={self.value!r}, "
                f"mode={self.mode!r}"
            )

    def _replacements(self, x, rngs):
        """``(B, Q, L, 4)`` sequences whose windows are pasted into ``x``."""
        if self.mode == "replace":
            kind = np.broadcast_to(self._value_column(), x.shape[1:])
            return refs_lib.make_references(kind, x, rngs, n=1, option="value")
        n = self.n_shuffles if self.stochastic else 1
        return refs_lib.make_references(self.mode, x, rngs, n=n, option="mode")

    def attribute(self, function, x, rngs):
        b, length = x.shape[0], x.shape[1]
        if self.window > length:
            raise ValueError(
                f"`window` must be at most the sequence length {length}. "
                f"Received: window={self.window}"
            )
        mask = _windows(length, self.window, self.stride)
        repl = self._replacements(x, rngs)
        n_win, n_rep = mask.shape[0], repl.shape[1]
        drops = np.empty(b * n_rep * n_win, dtype=np.float64)
        for r0 in range(0, drops.size, self.chunk_size):
            rows = np.arange(r0, min(r0 + self.chunk_size, drops.size))
            n, q, w = np.unravel_index(rows, (b, n_rep, n_win))
            occluded = np.where(mask[w][:, :, None], repl[n, q], x[n])
            drops[rows] = function(occluded)
        clean = function.batched(function, x, self.chunk_size).astype(np.float64)
        drops = clean[:, None] - drops.reshape(b, n_rep, n_win).mean(axis=1)  # (B, W)
        importance = (drops @ mask) / mask.sum(axis=0)  # (B, L)
        return {"values": (importance[:, :, None] * x).astype(np.float32)}
