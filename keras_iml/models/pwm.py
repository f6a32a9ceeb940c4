"""Position weight matrices: loading, log-odds scanning and PWM-scanning Keras models.

Matrices are read and validated by :mod:`keras_iml.motifs` (JASPAR, MEME,
:func:`keras_iml.motifs.as_pfm`); the log-odds weights here are in nats
(:func:`keras_iml.motifs.log_odds` with ``base=np.e``). Shared by the validation
metrics (known-motif enrichment, the PWM oracle model), the zoo (PWM models from
JASPAR) and tests. A PWM model is an oracle whose mechanism is
known by construction: its output is the best log-odds match of one motif, so a
faithful attribution method must put its mass on that match.

Scanning is written in numpy (a strided window sum): it is exact, needs no
compilation (memelite's FIMO compiles with numba on first use, ~2.5 min), and its
p-value threshold is computed with the same dynamic programme FIMO uses.
"""

import os

import numpy as np

import keras
from keras_iml.motifs.database import is_jaspar_id
from keras_iml.motifs.jaspar import fetch_jaspar_motifs
from keras_iml.motifs.meme import read_meme
from keras_iml.motifs.pfm import UNIFORM, as_pfm, log_odds

__all__ = [
    "load_motifs",
    "pwm_model",
    "scan",
    "best_match",
    "score_threshold",
]


def _meme(path):
    """``(label, pfm)`` per motif of a MEME file; the label is its ``MOTIF`` line."""
    return [(i if n == i else f"{i} {n}", pfm) for i, n, pfm in read_meme(path)]


def load_motifs(motifs, name="motifs"):
    """Normalises motif specifications to a list of ``(label, pfm)`` pairs.

    Args:
        motifs: a JASPAR matrix ID (``"MA0139.2"``, read offline with
            :func:`keras_iml.motifs.fetch_jaspar_motifs`), a path to a MEME file
            (read with :func:`keras_iml.motifs.read_meme`), a ``(W, 4)`` frequency
            or count matrix in ACGT order, an object with a ``.pfm`` attribute, a
            dict label -> any of these, or a list of them.
        name: the argument name used in error messages.

    Returns:
        list of ``(label, pfm)`` with ``pfm`` a float64 ``(W, 4)`` array whose rows
        sum to 1.

    Example:
        >>> load_motifs(["MA0139.2"])[0][0]
        'MA0139.2 CTCF'
    """
    if motifs is None:
        return None
    if isinstance(motifs, dict):
        out = []
        for label, item in motifs.items():
            loaded = load_motifs([item], name=f"{name}[{label!r}]")
            for sub_label, pfm in loaded:
                out.append((str(label) if len(loaded) == 1 else f"{label}/{sub_label}", pfm))
        return out
    single = (
        isinstance(motifs, (str, os.PathLike))
        or hasattr(motifs, "pfm")
        or (isinstance(motifs, np.ndarray) and motifs.ndim == 2)
    )
    items = [motifs] if single else list(motifs)
    if not items:
        raise ValueError(f"`{name}` must name at least one motif. Received: {name}=[]")
    out = []
    for i, item in enumerate(items):
        label = f"{name}[{i}]"
        if isinstance(item, (str, os.PathLike)):
            text = os.fspath(item)
            if os.path.exists(text):
                out.extend(_meme(text))
            elif is_jaspar_id(text):
                motif = fetch_jaspar_motifs([text], name=label)
                out.append((f"{text} {motif.names[0]}", motif.pfms[0]))
            else:
                raise ValueError(
                    f"`{label}` is neither a MEME file nor a JASPAR ID. Received: {text!r}"
                )
        else:
            motif_label = getattr(item, "motif_id", None) or f"motif_{i}"
            out.append((str(motif_label), as_pfm(item, label)))
    return out


def scan(x, weights, both_strands=True):
    """Log-odds score of every window of one-hot sequences.

    Args:
        x: one-hot ``(N, L, 4)``.
        weights: ``(W, 4)`` log-odds matrix (see :func:`keras_iml.motifs.log_odds`).
        both_strands: also score the reverse complement of the motif.

    Returns:
        float64 array ``(N, L - W + 1, S)`` with ``S = 2`` strands (``+``, ``-``) or 1.
    """
    x = np.asarray(x, dtype=np.float64)
    w = weights.shape[0]
    if x.shape[1] < w:
        raise ValueError(
            f"Sequences are shorter than the motif ({w} bp). Received: x.shape={x.shape}"
        )
    windows = np.lib.stride_tricks.sliding_window_view(x, w, axis=1)  # (N, L-W+1, 4, W)
    kernels = [weights] + ([weights[::-1, ::-1]] if both_strands else [])
    return np.stack([np.einsum("nlbw,wb->nl", windows, k) for k in kernels], axis=-1)


def best_match(x, weights, both_strands=True):
    """Start, strand (0 = ``+``) and score of the best window of each sequence."""
    scores = scan(x, weights, both_strands)
    flat = scores.reshape(len(scores), -1)
    idx = flat.argmax(1)
    start, strand = np.divmod(idx, scores.shape[2])
    return start, strand, flat[np.arange(len(flat)), idx]


def score_threshold(weights, pvalue=1e-4, background=UNIFORM, resolution=100):
    """The log-odds score whose right-tail p-value is ``pvalue`` (FIMO's method).

    Scores are rounded to ``1 / resolution`` and their exact distribution under the
    background is built column by column by convolution.

    Args:
        weights: ``(W, 4)`` log-odds matrix.
        pvalue: right-tail probability under i.i.d. background sequence.
        background: base probabilities.
        resolution: score bins per log unit.

    Returns:
        float, the smallest score with ``P(score >= s) <= pvalue``, at most the best
        attainable score.
    """
    ints = np.round(np.asarray(weights) * resolution).astype(np.int64)
    low = ints.min(1)
    dist = np.array([1.0])
    for row, lo in zip(ints, low):
        step = np.zeros(row.max() - lo + 1)
        np.add.at(step, row - lo, np.asarray(background, dtype=np.float64))
        dist = np.convolve(dist, step)
    tail = np.cumsum(dist[::-1])[::-1]  # P(score >= bin)
    ok = np.flatnonzero(tail <= pvalue)
    index = ok[0] if ok.size else len(dist) - 1
    # Rounding can put the threshold above the best attainable score (short motifs,
    # where even a perfect match is more common than ``pvalue``): cap it there so the
    # best site still counts.
    best = float(np.asarray(weights, dtype=np.float64).max(1).sum())
    return min((index + low.sum()) / resolution, best)


def pwm_model(pfm, length, *, background=UNIFORM, pseudocount=0.01, both_strands=True,
              name=None):
    """A Keras model whose output is the best log-odds match of one motif.

    ``Conv1D`` with the log-odds matrix as its kernel (and its reverse complement
    when ``both_strands``), flattened over positions and strands, then
    ``GlobalMaxPooling1D``: ``f(x) = max_{i, s} sum_{j, b} w_s[j, b] x[i + j, b]``.
    The gradient of ``f`` is the log-odds matrix placed on the best window, so the
    mechanism is known exactly (an oracle for attribution methods).

    Args:
        pfm: ``(W, 4)`` frequency/count matrix, an object with ``.pfm``, or a JASPAR
            matrix ID.
        length: input sequence length ``L`` (>= W).
        background: base probabilities for the log-odds (natural log: the kernel
            is ``keras_iml.motifs.log_odds(pfm, background, pseudocount, base=np.e)``).
        pseudocount: added to frequencies before the log.
        both_strands: scan the reverse complement too.
        name: model name.

    Returns:
        A built ``keras.Model`` taking ``(N, L, 4)`` and returning ``(N, 1)``.

    Example:
        >>> model = pwm_model("MA0139.2", 200)
        >>> model.predict(x).shape
        (N, 1)
    """
    if isinstance(pfm, str):
        pfm = load_motifs([pfm], name="pfm")[0][1]
    weights = log_odds(pfm, background, pseudocount, base=np.e)
    width = weights.shape[0]
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < width:
        raise ValueError(
            f"`length` must be an int >= the motif width ({width}). Received: length={length!r}"
        )
    kernels = [weights] + ([weights[::-1, ::-1]] if both_strands else [])
    kernel = np.stack(kernels, axis=-1).astype(np.float32)  # (W, 4, S)
    inputs = keras.Input((int(length), 4))
    conv = keras.layers.Conv1D(kernel.shape[-1], width, use_bias=False, name="pwm_scan")
    h = conv(inputs)
    h = keras.layers.Reshape((-1, 1))(h)
    out = keras.layers.GlobalMaxPooling1D()(h)
    model = keras.Model(inputs, out, name=name or "pwm_model")
    conv.set_weights([kernel])
    return model
