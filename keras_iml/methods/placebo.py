"""Placebo: model-independent random attributions, the control arm of every validation.

A validation metric only says something about a method when a map that knows
nothing of the model scores worse. The placebo is that map: seeded noise, smoothed
along the sequence and mapped onto a given marginal distribution, so it can be
*matched* to a real method's own spatial smoothness and sparsity
(:func:`match_placebo`): a blurry method is compared with blurry noise, a sparse one
with sparse noise. It never calls the model (``function`` is ignored), so two models
get the same placebo maps for the same sequences, seed and settings.
"""

import numpy as np
from scipy import ndimage, special

from keras_iml.methods.base import AttributionMethod, register

__all__ = ["Placebo", "match_placebo", "lag1_autocorrelation"]

#: Smoothing widths (Gaussian s.d., in positions) tried when matching a method.
WIDTHS = (0.0, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0)
N_QUANTILES = 129


def lag1_autocorrelation(importance):
    """Mean over sequences of the lag-1 autocorrelation of ``(N, L)`` position scores.

    Constant rows are left out; 0.0 when every row is constant or ``L < 3``.
    """
    imp = np.asarray(importance, dtype=np.float64)
    if imp.ndim != 2 or imp.shape[1] < 3:
        return 0.0
    centred = imp - imp.mean(1, keepdims=True)
    den = (centred**2).sum(1)
    keep = den > 0
    if not keep.any():
        return 0.0
    num = (centred[:, 1:] * centred[:, :-1]).sum(1)
    return float(np.mean(num[keep] / den[keep]))


@register("placebo")
class Placebo(AttributionMethod):
    """Seeded noise shaped like attributions: the placebo arm of a validation.

    Each sequence draws standard normal noise ``(L, 4)`` (``(L, 1)`` with
    ``observed_only``) from its own generator (keyed by the sequence and the seed,
    so the map does not depend on the batch or the sequence's position), smooths it
    along the sequence with a Gaussian of s.d. ``width`` positions, and maps every
    value through the normal CDF onto ``quantiles`` (equally spaced quantiles of the
    target distribution, e.g. a real method's pooled values). With
    ``observed_only`` the value lands on the observed base only, like
    reference-based methods. The model is never called.

    Args:
        width: Gaussian smoothing s.d. in positions (0: independent positions).
        quantiles: increasing values at equally spaced probability levels from 0 to 1
            (None: standard normal values).
        observed_only: put each position's value on its observed base only.
        stream: which of a sequence's independent noise streams to draw (its
            alternative setting for the hyper-parameter sensitivity metric is another
            stream: the placebo of "a setting that changes everything").

    Example:
        >>> keras_iml.explain(model, x, {"name": "placebo", "width": 2.0})
    """

    stochastic = True
    control = True

    def __init__(self, width=0.0, quantiles=None, observed_only=False, stream=0):
        self.width = width
        self.quantiles = quantiles
        self.observed_only = observed_only
        self.stream = stream

    def alternatives(self):
        return [{"stream": int(self.stream) + 1}]

    def check_params(self, function):  # noqa: ARG002 - the model is not used
        if isinstance(self.width, bool) or not isinstance(self.width, (int, float, np.number)) \
                or not np.isfinite(self.width) or self.width < 0:
            raise ValueError(f"`width` must be a finite number >= 0. Received: width={self.width!r}")
        if self.quantiles is not None:
            q = np.asarray(self.quantiles, dtype=np.float64)
            if q.ndim != 1 or q.size < 2 or not np.isfinite(q).all() or np.any(np.diff(q) < 0):
                raise ValueError(
                    "`quantiles` must be a 1-D list of at least 2 finite, non-decreasing "
                    f"values. Received: quantiles of shape {q.shape}"
                )
        if isinstance(self.stream, bool) or not isinstance(self.stream, (int, np.integer)) or self.stream < 0:
            raise ValueError(f"`stream` must be an int >= 0. Received: stream={self.stream!r}")

    def attribute(self, function, x, rngs):
        x = np.asarray(x, dtype=np.float32)
        channels = 1 if self.observed_only else x.shape[2]
        if self.stream:
            rngs = [np.random.default_rng([int(rng.integers(2**62)), int(self.stream)]) for rng in rngs]
        noise = np.stack([rng.standard_normal((x.shape[1], channels)) for rng in rngs])
        if self.width > 0:
            noise = ndimage.gaussian_filter1d(noise, float(self.width), axis=1, mode="reflect")
            noise /= _smoothed_sd(float(self.width))
        levels = special.ndtr(noise)
        if self.quantiles is None:
            values = special.ndtri(np.clip(levels, 1e-12, 1 - 1e-12))
        else:
            q = np.asarray(self.quantiles, dtype=np.float64)
            values = np.interp(levels, np.linspace(0.0, 1.0, q.size), q)
        values = values.astype(np.float32)
        if self.observed_only:
            values = values * x
        return {"values": values}


def _smoothed_sd(width):
    """S.d. of unit white noise after scipy's Gaussian filter of s.d. ``width``."""
    radius = int(4.0 * width + 0.5)
    grid = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (grid / width) ** 2)
    kernel /= kernel.sum()
    return float(np.sqrt((kernel**2).sum()))


def match_placebo(attributions, x, n_quantiles=N_QUANTILES, n_probe=32, seed=0):
    """A :class:`Placebo` matched to a method's attributions of ``x``.

    The match, fixed in advance of any result:

    * ``observed_only``: True when the method puts nothing off the observed bases.
    * ``quantiles``: ``n_quantiles`` equally spaced quantiles of the method's values
      (pooled over every sequence; observed bases only when ``observed_only``), so
      the placebo has the method's marginal distribution: its sign balance, scale
      and sparsity.
    * ``width``: the smoothing width from :data:`WIDTHS` whose placebo maps, on the
      first ``n_probe`` sequences, have the lag-1 autocorrelation of position
      importance closest to the method's own.

    Args:
        attributions: a :class:`keras_iml.Attributions` (or an ``(N, L, 4)`` array).
        x: the one-hot sequences it explains, ``(N, L, 4)``.

    Returns:
        a :class:`Placebo`.
    """
    values = np.asarray(getattr(attributions, "values", attributions), dtype=np.float64)
    x = np.asarray(x, dtype=np.float32)
    if values.shape != x.shape:
        raise ValueError(f"`attributions` must have the shape of `x` {x.shape}. Received: {values.shape}")
    observed = x > 0.5
    observed_only = bool(np.all(values[~observed] == 0) and observed.any())
    pool = values[observed] if observed_only else values.ravel()
    pool = pool[np.isfinite(pool)]
    if pool.size == 0:
        pool = np.zeros(1)
    quantiles = np.quantile(pool, np.linspace(0.0, 1.0, int(n_quantiles)))
    quantiles = [float(v) for v in np.maximum.accumulate(quantiles)]
    probe = slice(0, min(int(n_probe), x.shape[0]))
    target = lag1_autocorrelation(np.abs(values[probe]).sum(-1))
    rngs = [np.random.default_rng([int(seed), i]) for i in range(probe.stop)]
    best, best_gap = 0.0, np.inf
    for width in WIDTHS:
        if width > x.shape[1] / 4:
            break
        trial = Placebo(width, quantiles, observed_only).attribute(None, x[probe], rngs)["values"]
        gap = abs(lag1_autocorrelation(np.abs(trial).sum(-1)) - target)
        if gap < best_gap - 1e-9:
            best, best_gap = width, gap
        rngs = [np.random.default_rng([int(seed), i]) for i in range(probe.stop)]
    return Placebo(width=best, quantiles=quantiles, observed_only=observed_only)
