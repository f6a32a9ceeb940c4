"""SmoothGrad (Smilkov et al. 2017) around any registered attribution method.

Native because tf-explain's ``SmoothGrad.explain`` fails on 1-D sequence inputs and
its low-level helper returns all zeros for a single-output model (it differentiates a
categorical cross-entropy over one class); shap has no equivalent. Here the noisy
copies of a whole batch are stacked and handed to the base method in large chunks,
with one seeded generator per copy.
"""

import numpy as np

from keras_iml.methods import base as base_lib
from keras_iml.methods.base import AttributionMethod, register
from keras_iml.methods.integrated_gradients import check_positive_int

__all__ = ["SmoothGrad"]


@register("smoothgrad")
class SmoothGrad(AttributionMethod):
    """Averages a base method's attributions over Gaussian-noised copies of the input.

    Each sequence gets ``n_samples`` copies ``x + eps``, ``eps ~ N(0, sigma^2)`` with
    ``sigma = noise * (max(x) - min(x))`` (``0.1`` for one-hot input at the default),
    drawn from that sequence's generator; the base method runs on the copies (with
    a child generator per copy) and its outputs are averaged.

    **Which input multiplies the result.** For bases that multiply by the input
    (``input_x_gradient``, ``integrated_gradients``, ``expected_gradients``, DeepLIFT:
    the class attribute ``multiplies_input = True``) and return hypothetical
    contributions, the averaged hypothetical contributions are multiplied by the
    *clean* one-hot ``x``: ``values = mean_k(hypothetical_k) * x``. Multiplying by
    the noisy copies instead would put noise-times-gradient attributions on bases
    that are not in the sequence and whose noise is correlated with the gradient
    (``E[eps * g(x + eps)] != 0``). The result is non-zero only on observed bases,
    ``values == hypothetical * x``, and with ``noise=0`` it equals the base's
    ``hypothetical * x`` (its ``values`` exactly for zero-reference bases; the same
    per-position sums for other references). For other bases (``saliency``...)
    ``values`` is the plain mean of the base's values. No convergence delta is
    reported (completeness is a property of each noisy copy, not of the average).

    Args:
        base: the wrapped method: a registered name, a config dict
            (``{"class_name": "integrated_gradients", "config": {"steps": 10}}``) or an
            ``AttributionMethod`` instance.
        n_samples: noisy copies per sequence.
        noise: noise level, as a fraction of the input's value range (>= 0).
        chunk_size: noisy copies handed to the base method per call.

    Example:
        >>> keras_iml.explain(model, x, "smoothgrad", base="input_x_gradient",
        ...                   n_samples=50, noise=0.15, seed=0)
    """

    stochastic = True

    def __init__(self, base="saliency", n_samples=25, noise=0.1, chunk_size=128):
        self.base = base
        self.n_samples = n_samples
        self.noise = noise
        self.chunk_size = chunk_size

    def _base_method(self):
        try:
            return base_lib.get(self.base)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"Invalid `base` for smoothgrad: {err} Received: base={self.base!r}"
            ) from err

    def alternatives(self):
        return [{"noise": 0.2}]

    def check_backend(self):
        self._base_method().check_backend()

    def check_params(self, function):
        check_positive_int(self.n_samples, "n_samples")
        check_positive_int(self.chunk_size, "chunk_size")
        noise = self.noise
        if isinstance(noise, bool) or not isinstance(noise, (int, float, np.number)) \
                or not np.isfinite(noise) or noise < 0:
            raise ValueError(f"`noise` must be a finite number >= 0. Received: noise={noise!r}")
        self._base_method().check_params(function)

    def attribute(self, function, x, rngs):
        base = self._base_method()
        b, n = x.shape[0], self.n_samples
        sigma = self.noise * (x.max(axis=(1, 2)) - x.min(axis=(1, 2)))
        noisy = np.empty((b, n) + x.shape[1:], dtype=np.float32)
        child_rngs = []
        for i, rng in enumerate(rngs):
            noisy[i] = x[i] + sigma[i] * rng.standard_normal((n,) + x.shape[1:], dtype=np.float32)
            child_rngs.extend(np.random.default_rng(s) for s in rng.integers(0, 2**63, size=n))
        noisy = noisy.reshape((b * n,) + x.shape[1:])
        sums = {}
        for c0 in range(0, b * n, self.chunk_size):
            out = base.attribute(function, noisy[c0 : c0 + self.chunk_size],
                                 child_rngs[c0 : c0 + self.chunk_size])
            for key in ("values", "hypothetical"):
                if out.get(key) is not None:
                    sums.setdefault(key, []).append(np.asarray(out[key], np.float64))
        # Accumulate in float64 so that noise=0 reproduces the base exactly.
        means = {k: np.concatenate(v).reshape((b, n) + x.shape[1:]).mean(axis=1)
                 for k, v in sums.items()}
        result = {k: v.astype(np.float32) for k, v in means.items()}
        if base.multiplies_input and "hypothetical" in result:
            result["values"] = result["hypothetical"] * x
        return result
