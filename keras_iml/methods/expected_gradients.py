"""Expected gradients / GradientSHAP (Erion et al. 2021; Lundberg & Lee 2017).

Native rather than shap's ``GradientExplainer``: shap runs on Keras 3 models but
draws every sample from one background set shared by all inputs (no per-sequence
dinucleotide shuffles) and seeds numpy's global random state (``np.random.seed``),
so its results depend on the batch composition and touch global state; it is kept
as a cross-check adapter. Here every sequence draws its references and interpolation points from its
own generator, and all ``B * n_references`` gradient evaluations of a batch go
through the model in large chunks.
"""

import numpy as np

from keras_iml.methods import _references as refs_lib
from keras_iml.methods.base import AttributionMethod, hypothetical_from_multipliers, register
from keras_iml.methods.integrated_gradients import (
    check_bool,
    check_fast,
    check_chunk_size,
    check_positive_int,
    path_gradients,
)

__all__ = ["ExpectedGradients"]


@register("expected_gradients")
class ExpectedGradients(AttributionMethod):
    """Expected gradients: ``E_{r, alpha}[ grad f(r + alpha (x - r)) * (x - r) ]``.

    For every sequence, ``n_references`` references ``r_k`` and as many points
    ``alpha_k ~ U(0, 1)`` are drawn from that sequence's generator; the attribution
    is the Monte-Carlo mean of ``grad f(r_k + alpha_k (x - r_k)) * (x - r_k)``.
    Completeness holds in expectation: ``convergence_delta = sum(values) -
    mean_k(f(x) - f(r_k))`` measures the sampling error. ``hypothetical`` averages
    ``m_k - sum_c r_k,c m_k,c`` over references (``m_k`` the sampled gradient).

    On a linear model ``f(x) = sum(w * x)`` the gradient is ``w`` everywhere, so
    the result is ``w * (x - mean_k r_k)``; with an explicit array of exactly
    ``n_references`` references (used in order) it is exact.

    Args:
        n_references: references (and gradient evaluations) per sequence.
        references: ``"dinuc_shuffle"``, ``"shuffle"``, ``"random"``, ``"uniform"``,
            ``"zeros"``, or an array: ``(L, 4)``, ``(k, L, 4)`` (a shared reference set;
            ``n_references`` of them drawn per sequence, all in order if
            ``k == n_references``) or ``(B, k, L, 4)``.
        chunk_size: interpolated inputs per gradient call. None: at most 64, fewer
            where the model's activations would exceed the memory budget
            (:mod:`keras_iml.engine.memory`).
        fast: use a registered exact fast path for the path gradients when one
            applies (see :mod:`keras_iml.engine.fast_paths`).
        convergence: compute ``convergence_delta`` (one forward pass of the input
            and of every reference; False skips it, about a third of the cost).

    Example:
        >>> keras_iml.explain(model, x, "expected_gradients", n_references=50, seed=0)
    """

    stochastic = True
    multiplies_input = True

    def __init__(self, n_references=20, references="dinuc_shuffle", chunk_size=None, fast=True,
                 convergence=True):
        self.n_references = n_references
        self.references = references
        self.chunk_size = chunk_size
        self.fast = fast
        self.convergence = convergence

    def alternatives(self):
        return [{"references": "shuffle"}]

    def per_sequence_options(self):
        return ("references",) if refs_lib.per_sequence(self.references, 2) else ()

    def check_params(self, function):
        check_positive_int(self.n_references, "n_references")
        check_chunk_size(self.chunk_size)
        refs_lib.check_reference(self.references, "references")
        check_fast(self.fast)
        check_bool(self.convergence, "convergence")

    def attribute(self, function, x, rngs):
        b, k = x.shape[0], self.n_references
        refs = refs_lib.make_references(self.references, x, rngs, n=k, option="references")
        alphas = np.stack([rng.uniform(0.0, 1.0, size=k) for rng in rngs])  # (B, k)
        refs = refs.reshape((b * k,) + x.shape[1:])
        xs = np.repeat(x, k, axis=0)
        alphas = alphas.reshape(b * k, 1).astype(np.float32)
        chunk = function.rows_per_call(self.chunk_size, x.shape[1], upper=64)
        grads = path_gradients(function, xs, refs, alphas, np.ones_like(alphas), chunk, self.fast)
        hyp = hypothetical_from_multipliers(grads, refs)
        hyp = hyp.reshape((b, k) + x.shape[1:]).mean(axis=1)
        values = hyp * x  # what the engine keeps (the per-position sums of (x - r) * m)
        if not self.convergence:
            return {"values": values, "hypothetical": hyp}
        ends = function.batched(function, np.concatenate([x, refs]), chunk)
        gain = (ends[:b, None] - ends[b:].reshape(b, k)).mean(axis=1)
        return {
            "values": values,
            "hypothetical": hyp,
            "convergence_delta": values.sum(axis=(1, 2)) - gain,
        }
