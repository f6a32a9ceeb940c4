"""`Context`: everything a metric may read during one validation run.

The runner (:func:`keras_iml.validation.validate`) builds one Context per run and
passes it to every metric. Derived arrays (position importance, re-computed
attributions such as ISM) are memoised in the Context itself, so they live exactly
as long as the run: there is no global cache.
"""

import numpy as np

from keras_iml import dna
from keras_iml.attributions import Attributions
from keras_iml.explain import _run_batch
from keras_iml.targets import ModelFunction
from keras_iml.metrics._stats import stable_seed

__all__ = ["Context", "signed_contribution", "function_for"]


def function_for(store, model, target, logit, example):
    """The :class:`ModelFunction` of ``model`` for a target, built once per ``store``.

    The model is kept next to its function, so ``id(model)`` cannot be reused by
    another object while the entry exists.
    """
    key = ("function", id(model), repr(target), bool(logit))
    if key not in store:
        store[key] = (model, ModelFunction(model, target=target, logit=logit, example=example))
    return store[key][1]


def signed_contribution(values, x):
    """Signed per-position contribution of the observed base, ``(N, L)``.

    ``s[i] = sum_b (x[i, b] - 1/4) v[i, b]``: the attribution projected on the
    observed base against the average base. It is comparable across method
    families: the observed-base value (times 3/4) for input-masked methods
    (input x gradient, IG, DeepLIFT), the gradient-corrected observed gradient for
    saliency, and ``-3/4`` of the mean substitution effect for ISM (whose value at
    the observed base is 0), so a base that helps the output is positive for all.
    """
    return np.einsum("nlb,nlb->nl", np.asarray(x, np.float32) - 0.25, values)


class Context:
    """The inputs of one validation run, as metrics see them.

    Attributes:
        x: float32 one-hot ``(N, L, 4)``.
        y: labels or None.
        model: the user's Keras model (never modified) or None.
        function: its :class:`keras_iml.targets.ModelFunction` (or None).
        attributions: dict label -> :class:`keras_iml.Attributions`.
        methods: dict label -> ``AttributionMethod`` instance, or None when the
            method cannot be re-run (attributions given precomputed and not
            reconstructible from the registry).
        ground_truth: int8 ``(N, L)`` (1 true motif, 2 decoy, 0 other) or None.
        ground_truth_table: the instance table when ground truth was given as one
            (columns ``seq, motif_id, start, end, strand, role``), else None.
        motifs: list of ``(label, pfm)`` or None.
        ensemble: list of Keras models or None.
        protocol: the protocol as a dict.
        seed: the run's seed.
        explain_kwargs: keyword arguments for :func:`keras_iml.explain` (target,
            logit, batch_size, alphabet).
        functions: the store of compiled model functions and of models built for
            metrics (randomised copies, the PWM oracle): the caller's dict when one
            is given to :func:`keras_iml.validate` (kept between runs, so models of
            one architecture are traced once), else a dict of this run.
    """

    def __init__(self, *, x, model=None, function=None, attributions=None, methods=None,
                 y=None, ground_truth=None, ground_truth_table=None, motifs=None, ensemble=None,
                 protocol=None, seed=0, explain_kwargs=None, alphabet="ACGT", functions=None):
        self.x = x
        self.y = y
        self.model = model
        self.function = function
        self.attributions = dict(attributions or {})
        self.methods = dict(methods or {})
        self.ground_truth = ground_truth
        self.ground_truth_table = ground_truth_table
        self.motifs = motifs
        self.ensemble = ensemble
        self.protocol = dict(protocol or {})
        self.seed = int(seed)
        self.alphabet = alphabet
        self.explain_kwargs = dict(explain_kwargs or {})
        self.functions = {} if functions is None else functions
        self.memo = {}

    # -- shapes and randomness -----------------------------------------------------
    @property
    def n(self):
        return self.x.shape[0]

    @property
    def length(self):
        return self.x.shape[1]

    def rng(self, *key):
        """A Generator seeded by the run's seed and ``key`` (reproducible, independent)."""
        return np.random.default_rng([self.seed, stable_seed(*key)])

    @property
    def tiebreak(self):
        """Fixed random ``(N, L)`` keys that break ties in top-k selections."""
        if "tiebreak" not in self.memo:
            self.memo["tiebreak"] = self.rng("tiebreak").random(self.x.shape[:2])
        return self.memo["tiebreak"]

    def subsample(self, n_sequences, key):
        """Sorted indices of a seeded subsample of ``n_sequences`` (all when None or >= N)."""
        if n_sequences is None or n_sequences >= self.n:
            return np.arange(self.n)
        return np.sort(self.rng("subsample", key).choice(self.n, int(n_sequences), replace=False))

    def scatter(self, index, values):
        """An ``(N,)`` NaN array with ``values`` at ``index``."""
        out = np.full(self.n, np.nan)
        out[index] = values
        return out

    # -- views of attributions -----------------------------------------------------
    def importance(self, label):
        """``(N, L)`` |attribution| summed over bases."""
        key = ("importance", label)
        if key not in self.memo:
            self.memo[key] = self.attributions[label].position_importance
        return self.memo[key]

    def signed(self, label):
        """``(N, L)`` signed contribution of the observed base (see :func:`signed_contribution`)."""
        key = ("signed", label)
        if key not in self.memo:
            self.memo[key] = signed_contribution(self.attributions[label].values, self.x)
        return self.memo[key]

    def on_subsample(self, label, index):
        """Attributions of ``label`` for ``x[index]`` as a re-run would compute them.

        Deterministic methods are sliced. Stochastic ones are re-run on the subsample
        with the original seed, because the engine seeds each sequence by its index
        within ``x``: comparing a variant run on ``x[index]`` against the slice would
        mix the variant's effect with a change of random draws.
        """
        attr = self.attributions[label]
        method = self.methods.get(label)
        if len(index) == self.n or method is None or not getattr(method, "stochastic", False):
            return attr[index]
        key = ("subsample", label, np.asarray(index).tobytes())
        if key not in self.memo:
            self.memo[key] = self.explain(method, self.x[index], seed=self.attribution_seed(label))
        return self.memo[key]

    def attribution_seed(self, label):
        """The seed the attributions of ``label`` were computed with."""
        seed = self.attributions[label].params.get("seed")
        return self.seed if seed is None else int(seed)

    # -- model access ----------------------------------------------------------------
    def outputs(self):
        """``f(x)`` for every sequence, ``(N,)``."""
        if "outputs" not in self.memo:
            self.memo["outputs"] = self.predict(self.x)
        return self.memo["outputs"]

    def predict(self, x):
        """The explained output ``f`` for any one-hot array, in batches."""
        chunk = int(self.explain_kwargs.get("batch_size", 128))
        return self.function.batched(self.function, np.asarray(x, np.float32), chunk)

    def output_scale(self):
        """Standard deviation of ``f(x)`` over the data (1.0 when it is 0 or undefined)."""
        scale = float(np.std(self.outputs()))
        return scale if np.isfinite(scale) and scale > 0 else 1.0

    def model_function(self, model=None, **overrides):
        """The compiled :class:`ModelFunction` of a model, built once per model and target.

        Kept in :attr:`functions`, so it lives as long as the run (or as the
        caller's store, when one was given).
        """
        model = self.model if model is None else model
        opts = {**self.explain_kwargs, **overrides}
        if model is self.model and self.function is not None and not overrides:
            return self.function
        return function_for(self.functions, model, opts.get("target"), opts.get("logit", False),
                            self.x[:1])

    def shared(self, key, build):
        """``build()``, made once per ``key`` and kept in :attr:`functions`.

        For models a metric builds (e.g. the PWM oracle): reusing the same model
        object reuses its compiled functions in later runs with the same store.
        """
        if key not in self.functions:
            self.functions[key] = build()
        return self.functions[key]

    def explain(self, method, x=None, model=None, seed=None, **overrides):
        """Re-runs an attribution method with the run's target and batch size.

        Equivalent to :func:`keras_iml.explain` with the same seed (the same
        per-sequence generators, through the engine's batch runner), but reuses one
        compiled model function per model for the whole run instead of tracing a
        new one per call. ``overrides`` replace the run's ``target``/``logit`` (e.g.
        ``target=None`` for a model other than the user's).

        Args:
            method: an ``AttributionMethod`` instance.
            x: one-hot inputs (default: the run's ``x``).
            model: the model to explain (default: the run's model).
            seed: base seed (default: the run's seed).

        Returns:
            an :class:`keras_iml.Attributions`.
        """
        x = self.x if x is None else np.asarray(x, np.float32)
        model = self.model if model is None else model
        function = self.model_function(model, **overrides)
        method.check_params(function)
        seed = self.seed if seed is None else int(seed)
        batch = int(self.explain_kwargs.get("batch_size", 128))
        parts = []
        for start in range(0, len(x), batch):
            out = _run_batch(method, function, x[start : start + batch], start, seed, False)
            parts.append(Attributions(
                out["values"], method=method.name, params={**method.get_config(), "seed": seed},
                target=function.describe(), hypothetical=out.get("hypothetical"),
                inputs=x[start : start + batch], convergence_delta=out.get("convergence_delta"),
            ))
        return Attributions.concatenate(parts)

    def reference_ism(self):
        """ISM attributions of every sequence (reused when ``ism`` is a validated method)."""
        if "ism" not in self.memo:
            from keras_iml import methods

            for attr in self.attributions.values():
                if attr.method == "ism":
                    self.memo["ism"] = attr
                    break
            else:
                self.memo["ism"] = self.explain(methods.get("ism"))
        return self.memo["ism"]

    def reverse_complement_ok(self):
        """Whether reversing the channel axis complements bases in this alphabet."""
        comp = dict(zip("ACGT", "TGCA"))
        letters = self.alphabet.upper()
        return all(comp.get(a) == b for a, b in zip(letters, letters[::-1]))

    def reverse_complement(self, x):
        return np.ascontiguousarray(dna.reverse_complement(x))
