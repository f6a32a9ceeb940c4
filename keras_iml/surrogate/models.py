"""Interpretable surrogate models: readable linear models fitted to a model's answers.

Every surrogate is a ridge regression on a fixed, readable feature map of one-hot
DNA (scikit-learn's ``Ridge`` for :meth:`Surrogate.fit`; streamed sufficient
statistics for :meth:`Surrogate.partial_fit` / :meth:`Surrogate.fit_stream`, which
give the same coefficients with memory flat in the number of rows, see
:mod:`keras_iml.surrogate._ridge`):

* ``"additive"``: position x base (a PWM-like matrix over the whole sequence),
  ``matrix_`` ``(L, 4)`` zero-mean per position;
* ``"kmer"``: position-free k-mer counts on both strands, ``weights_`` by k-mer;
* ``"pairwise"``: a motif grammar (best-match score, presence and count of each
  motif, pairwise products and spacing bins), ``weights_`` by feature;
* ``"local_additive"``: the additive model fitted on point mutants of ONE sequence
  (SQUID's setting, Seitz et al. 2024): the model's local, mechanistic view there.

Surrogates are registered like methods (:class:`keras_iml.registry.Registry`).

Example:
    >>> from keras_iml.surrogate import models
    >>> s = models.get("additive").fit(x, y)
    >>> s.score(x_test, y_test)
    {'r2': 0.93, 'spearman': 0.96}
    >>> s.matrix_.shape
    (200, 4)
"""

import numbers

import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge

from keras_iml.registry import Configurable, Registry
from keras_iml.surrogate import _sequences as seqs
from keras_iml.surrogate._features import KmerCounter, MotifGrammar
from keras_iml.surrogate._fidelity import check_xy as _check_xy
from keras_iml.surrogate._fidelity import fidelity
from keras_iml.surrogate._implant import resolve_motifs
from keras_iml.surrogate._ridge import RidgeStatistics

__all__ = ["Surrogate", "REGISTRY", "register", "get", "names", "serialize", "fidelity"]


#: Memory the ridge statistics of one surrogate may take (MB): the ``d x d`` float64
#: cross-products, held about three times at once (the running sum, a chunk's, and the
#: solve's factor). It bounds the features: 2,048 MB allows d <= 9,459 (k-mers up to
#: k=7 over both strands, k=6 on one; an additive model of sequences up to 2,364 bp).
STATISTICS_BUDGET_MB = 2048


def _check_budget(surrogate, n_features):
    need = 3 * 8 * n_features**2 / 2**20
    if need > STATISTICS_BUDGET_MB:
        limit = int((STATISTICS_BUDGET_MB * 2**20 / 24) ** 0.5)
        raise ValueError(
            f"The {type(surrogate).__name__} surrogate ({surrogate.get_config()}) has "
            f"{n_features:,} features, whose ridge statistics would take {need:,.0f} MB, over "
            f"the budget of {STATISTICS_BUDGET_MB:,} MB (at most {limit:,} features): choose "
            "fewer features (a smaller k, shorter sequences).")


class Surrogate(Configurable):
    """Base of surrogates: a ridge regression on ``features(x)``.

    Subclasses implement ``_build(x)`` (the feature map for sequences like ``x``:
    a callable ``x -> (n, d)`` with a ``names`` list) and may add readable
    attributes. ``scope`` is ``"global"`` (fitted on the pooled libraries by
    :func:`keras_iml.surrogate.distill`) or ``"local"`` (on one sequence's mutants).

    The ridge penalty is relative: ``alpha`` times the features' summed squared
    deviations per feature (``penalty_ = alpha * trace(Xc'Xc) / d``, i.e. ``n`` times
    their mean variance), so one ``alpha`` shrinks alike whatever the number of
    queries; ``penalty_`` is the absolute value given to scikit-learn's ``Ridge``.

    Args:
        alpha: relative ridge penalty (>= 0).

    Example:
        >>> s = models.get("kmer", k=3)
        >>> for q in chunks:                      # QuerySets, e.g. from a library
        ...     s.partial_fit(q.x, f(q.x))
        >>> s.score(q_test.x, f(q_test.x))["r2"], s.penalty_
    """

    scope = "global"

    def __init__(self, alpha=0.01):
        self.alpha = alpha

    def check(self):
        """Raises ValueError for a bad option (naming it)."""
        ok = isinstance(self.alpha, numbers.Real) and not isinstance(self.alpha, bool)
        if not ok or not np.isfinite(self.alpha) or self.alpha < 0:
            raise ValueError(f"`alpha` must be a number >= 0. Received: alpha={self.alpha!r}")

    # -- features ---------------------------------------------------------------------------
    def _build(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def _prepare(self, x):
        state = self.__dict__.get("_state")
        if state is None:
            self.check()
            featurize = self._build(x)
            _check_budget(self, len(featurize.names))
            state = self.__dict__["_state"] = {
                "featurize": featurize, "length": x.shape[1], "coef": None, "intercept": None,
                "stats": RidgeStatistics(len(featurize.names)), "dirty": False, "penalty": None,
            }
        elif x.shape[1] != state["length"] and self.position_dependent:
            raise ValueError(
                f"This surrogate was fitted on sequences of length {state['length']}. "
                f"Received: x.shape={x.shape}"
            )
        return state

    #: True when features depend on the sequence length (additive models).
    position_dependent = False

    def features(self, x):
        """The feature matrix ``(n, d)`` float64 of one-hot sequences."""
        x, _ = _check_xy(x)
        return self._prepare(x)["featurize"](x)

    @property
    def feature_names_(self):
        """Names of the features (after the first fit)."""
        return list(self._fitted()["featurize"].names)

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, x, y, design=None):
        """Fits the surrogate to ``y`` (the model's outputs) with scikit-learn's ``Ridge``.

        Args:
            x: one-hot ``(n, L, 4)`` in ACGT order.
            y: the model's outputs ``(n,)``.
            design: the library's design (unused by the built-in surrogates).

        Returns:
            self.
        """
        x, y = _check_xy(x, y)
        self.__dict__.pop("_state", None)
        state = self._prepare(x)
        features = state["featurize"](x)
        state["stats"].update(features, y)
        state["penalty"] = state["stats"].penalty(self.alpha)
        ridge = Ridge(alpha=state["penalty"], fit_intercept=True).fit(features, y)
        state["coef"], state["intercept"] = np.asarray(ridge.coef_, np.float64), float(ridge.intercept_)
        return self

    def partial_fit(self, x, y, design=None):
        """Adds rows to the fit (sufficient statistics: flat memory); see :meth:`fit`."""
        x, y = _check_xy(x, y)
        state = self._prepare(x)
        featurize = state["featurize"]
        state["stats"].update(featurize(x), y, exact_float32=getattr(featurize, "exact_float32", False))
        state["dirty"] = True
        return self

    def fit_stream(self, batches):
        """Fits on an iterable of ``(x, y)`` (or ``(x, y, design)``) chunks, from scratch.

        Example:
            >>> s = models.get("kmer").fit_stream((q.x, f(q.x)) for q in chunks)
        """
        self.__dict__.pop("_state", None)
        for item in batches:
            self.partial_fit(*item)
        self._fitted()
        return self

    def _fitted(self):
        state = self.__dict__.get("_state")
        if state is None or state["stats"].n == 0:
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call fit() first.")
        if state["dirty"] or state["coef"] is None:
            state["penalty"] = state["stats"].penalty(self.alpha)
            state["coef"], state["intercept"] = state["stats"].solve(state["penalty"])
            state["dirty"] = False
        return state

    @property
    def penalty_(self):
        """The absolute ridge penalty used (see the class docstring)."""
        return self._fitted()["penalty"]

    @property
    def coef_(self):
        """Coefficients ``(d,)``, in the order of :attr:`feature_names_`."""
        return self._fitted()["coef"]

    @property
    def intercept_(self):
        """The intercept."""
        return self._fitted()["intercept"]

    @property
    def n_samples_(self):
        """Rows the surrogate was fitted on."""
        state = self.__dict__.get("_state")
        return 0 if state is None else int(state["stats"].n)

    def predict(self, x):
        """Surrogate outputs ``(n,)`` float64."""
        x, _ = _check_xy(x)
        state = self._fitted()
        if x.shape[1] != state["length"] and self.position_dependent:
            raise ValueError(f"The surrogate takes sequences of length {state['length']}. Received: x.shape={x.shape}")
        return state["featurize"](x) @ state["coef"] + state["intercept"]

    def score(self, x, y):
        """``{"r2": ..., "spearman": ...}`` of :meth:`predict` against ``y``."""
        x, y = _check_xy(x, y)
        return fidelity(y, self.predict(x))

    def summary(self):
        """JSON-friendly readable parameters (overridden by each surrogate)."""
        return {"intercept": self.intercept_, "n_samples": self.n_samples_}


REGISTRY = Registry("surrogate", Surrogate)
register = REGISTRY.register
names = REGISTRY.names
get = REGISTRY.get
serialize = REGISTRY.serialize


class _Flatten:
    exact_float32 = True  # one-hot / N columns: products and chunk sums exact in float32

    def __init__(self, length):
        self.names = [f"{i}{b}" for i in range(length) for b in "ACGT"]

    def __call__(self, x):
        return np.asarray(x, dtype=np.float64).reshape(len(x), -1)


@register("additive")
class Additive(Surrogate):
    """Additive (position x base) surrogate: ``f(x) ~ b + sum_i W[i, x_i]``.

    Args:
        alpha: relative ridge penalty (see :class:`Surrogate`).

    Attributes:
        matrix_: ``(L, 4)`` weights, zero-mean per position (the per-position means
            moved to ``offset_``, which leaves the predictions of one-hot and ``N``
            columns unchanged), like a PWM of the model.
    """

    position_dependent = True

    def __init__(self, alpha=1e-3):
        self.alpha = alpha

    def _build(self, x):
        return _Flatten(x.shape[1])

    @property
    def matrix_(self):
        """The ``(L, 4)`` zero-mean-per-position weight matrix."""
        w = self.coef_.reshape(-1, 4)
        return w - w.mean(1, keepdims=True)

    @property
    def offset_(self):
        """The intercept in the zero-mean gauge of :attr:`matrix_`."""
        return self.intercept_ + float(self.coef_.reshape(-1, 4).mean(1).sum())

    def summary(self):
        return {"offset": self.offset_, "n_samples": self.n_samples_, "matrix": self.matrix_.tolist()}


@register("local_additive")
class LocalAdditive(Additive):
    """Additive surrogate of the model around one sequence, fitted on its point mutants.

    :func:`keras_iml.surrogate.distill` draws its own mutagenesis library around
    reference ``parent`` (``n_queries`` mutants at ``rate``) and fits it there only;
    :meth:`fit` fits whatever it is given (e.g. a SQUID-style library).

    Args:
        parent: index of the sequence in the references.
        rate: per-position mutation probability of its library.
        n_queries: mutants queried by ``distill``.
        alpha: relative ridge penalty (see :class:`Surrogate`).
    """

    scope = "local"

    def __init__(self, parent=0, rate=0.1, n_queries=2000, alpha=1e-3):
        self.parent = parent
        self.rate = rate
        self.n_queries = n_queries
        self.alpha = alpha

    def check(self):
        super().check()
        seqs.check_int(self.parent, "parent", low=0)
        seqs.check_fraction(self.rate, "rate", open_low=True)
        seqs.check_int(self.n_queries, "n_queries", low=2)


class _NamedWeights:
    """``weights_`` (a Series by feature name) and ``summary()`` of a surrogate whose
    features have names (k-mers, motif-grammar terms)."""

    @property
    def weights_(self):
        """Weights by feature name (pandas Series)."""
        return pd.Series(self.coef_, index=self.feature_names_, name="weight")

    def summary(self):
        return {"intercept": self.intercept_, "n_samples": self.n_samples_,
                "weights": {k: float(v) for k, v in self.weights_.items()}}


@register("kmer")
class Kmer(_NamedWeights, Surrogate):
    """Position-free k-mer surrogate: ``f(x) ~ b + sum_kmer w[kmer] count(kmer, x)``.

    Args:
        k: k-mer length, 1-8, within the memory budget of the ridge statistics
            (:data:`STATISTICS_BUDGET_MB`: up to 7 over both strands, 6 on one; a larger
            k raises a ``ValueError`` when checked, before any model call).
        both_strands: pool each k-mer with its reverse complement.
        alpha: relative ridge penalty (see :class:`Surrogate`). k-mer counts are
            nearly collinear (overlapping k-mers share bases), so the default
            shrinks more than the additive model's: it spreads a composition effect
            evenly over the k-mers that carry it instead of arbitrarily.

    Attributes:
        weights_: pandas Series of weights by k-mer (the smaller of a k-mer and its
            reverse complement with ``both_strands``).
    """

    def __init__(self, k=4, both_strands=True, alpha=0.1):
        self.k = k
        self.both_strands = both_strands
        self.alpha = alpha

    def check(self):
        super().check()
        seqs.check_int(self.k, "k", low=1, high=8)
        if not isinstance(self.both_strands, bool):
            raise ValueError(f"`both_strands` must be a bool. Received: both_strands={self.both_strands!r}")
        _check_budget(self, KmerCounter.n_features(int(self.k), self.both_strands))

    def _build(self, x):
        return KmerCounter(int(self.k), self.both_strands)


@register("pairwise")
class Pairwise(_NamedWeights, Surrogate):
    """Motif-grammar surrogate: motif scores, presence, counts, pairs and spacings.

    See :class:`keras_iml.surrogate._features.MotifGrammar` for the features.

    Args:
        motifs: dict name -> ``(W, 4)`` matrix or JASPAR ID, or a list (``distill``
            passes its ``motifs`` when None).
        spacing_bins: left edges of the start-to-start distance bins (bp).
        pvalue: p-value of the presence threshold of each motif's score.
        alpha: relative ridge penalty (see :class:`Surrogate`).

    Attributes:
        weights_: pandas Series of weights by feature name.
    """

    def __init__(self, motifs=None, spacing_bins=(0, 10, 20, 50, 100), pvalue=1e-4, alpha=0.01):
        self.motifs = motifs
        self.spacing_bins = spacing_bins
        self.pvalue = pvalue
        self.alpha = alpha

    def check(self):
        super().check()
        if self.motifs is None:
            raise ValueError("The pairwise surrogate needs motifs. Received: motifs=None")
        bins = seqs.check_choices(self.spacing_bins, "spacing_bins", low=0)
        if list(bins) != sorted(set(bins)):
            raise ValueError(f"`spacing_bins` must increase. Received: spacing_bins={self.spacing_bins!r}")
        seqs.check_fraction(self.pvalue, "pvalue", open_low=True, open_high=True)

    def _build(self, x):
        return MotifGrammar(resolve_motifs(self.motifs), self.spacing_bins, float(self.pvalue))
