"""`Context`: everything a metric may read during one validation run.

The runner (:func:`keras_iml.validation.validate`) builds one Context per run and
passes it to every metric. Every model call goes through the engine
(:class:`keras_iml.Explainer`), whose explainers live in the run's
:class:`keras_iml.TraceCache`. Derived arrays (position importance, re-computed
attributions such as ISM) are memoised in the Context itself, so they live exactly
as long as the run: there is no global cache.
"""

import numpy as np
from scipy import stats

from keras_iml import dna
from keras_iml import methods as methods_lib
from keras_iml.engine.seeds import SequenceSeeds
from keras_iml.metrics.base import NotApplicable
from keras_iml.stats import stable_seed
from keras_iml.trace_cache import TraceCache

__all__ = ["Context", "signed_contribution"]


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
        explainer: its :class:`keras_iml.Explainer` for the run's target (or None).
        attributions: dict label -> :class:`keras_iml.Attributions`.
        methods: dict label -> ``AttributionMethod`` instance, or None when the
            method cannot be re-run (attributions given precomputed and not
            reconstructible from the registry).
        ground_truth: int8 ``(N, L)`` (1 true motif, 2 decoy, 0 other) or None.
        ground_truth_table: the instance table when ground truth was given as one
            (columns ``seq, motif_id, start, end, strand, role``), else None.
        motifs: list of ``(label, pfm)`` or None.
        ensemble: list of Keras models or None.
        arm_models: dict label -> the model a control arm explains instead of the
            run's (the randomised-model arm); see :meth:`model_for`.
        protocol: the protocol as a dict.
        seed: the run's seed.
        aux: the model's auxiliary inputs (a list of arrays with one row per
            sequence, or a single row), or None.
        explain_kwargs: the run's ``target``, ``logit``, ``batch_size`` and ``alphabet``.
        cache: the :class:`keras_iml.TraceCache` of the run's explainers and of the
            models metrics build (randomised copies, the PWM oracle): the caller's
            when one is given to :func:`keras_iml.validate` (kept between runs, so
            models of one architecture are traced once), else one of this run.
    """

    def __init__(self, *, x, model=None, explainer=None, attributions=None, methods=None,
                 y=None, ground_truth=None, ground_truth_table=None, motifs=None, ensemble=None,
                 protocol=None, seed=0, explain_kwargs=None, alphabet="ACGT", cache=None, aux=None):
        self.x = x
        self.y = y
        self.model = model
        self.explainer = explainer
        self.attributions = dict(attributions or {})
        self.methods = dict(methods or {})
        self.ground_truth = ground_truth
        self.ground_truth_table = ground_truth_table
        self.motifs = motifs
        self.ensemble = ensemble
        self.protocol = dict(protocol or {})
        self.seed = int(seed)
        self.alphabet = alphabet
        self.aux = aux
        self.explain_kwargs = dict(explain_kwargs or {})
        self.cache = TraceCache() if cache is None else cache
        self.arm_models = {}
        self._derived = {}

    def extended(self, attributions, methods=None, models=None):
        """A Context that also holds more maps (label -> ``Attributions``), the methods
        that made them and, for control arms, the models they explain instead of the
        run's; this one is not changed. Both share what was derived so far
        (:meth:`derived`), so nothing is computed twice."""
        other = object.__new__(Context)
        other.__dict__.update(self.__dict__)
        other.attributions = {**self.attributions, **attributions}
        other.methods = {**self.methods, **(methods or {})}
        other.arm_models = {**self.arm_models, **(models or {})}
        return other

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

    def sequence_rngs(self, key, index=None):
        """One Generator per sequence of ``x[index]``, keyed by the run's seed, ``key`` and
        the sequence itself (:class:`keras_iml.engine.seeds.SequenceSeeds`): a metric's
        random draws for a sequence do not depend on the other sequences in the data."""
        x = self.x if index is None else self.x[np.asarray(index)]
        return list(SequenceSeeds(stable_seed(self.seed, *key)).generators(x))

    @property
    def tiebreak(self):
        """Fixed random ``(N, L)`` keys that break ties in top-k selections (each row keyed
        by its sequence, so a sequence's ties break alike in any data)."""
        if "tiebreak" not in self._derived:
            rngs = self.sequence_rngs(("tiebreak",))
            self._derived["tiebreak"] = np.stack([rng.random(self.length) for rng in rngs])
        return self._derived["tiebreak"]

    def subsample(self, n_sequences, key):
        """Sorted indices of a seeded subsample of ``n_sequences`` (all when None or >= N).

        Metrics key it by their name only, so every method and control arm is scored
        on the same sequences and their scores can be compared pair by pair.
        """
        if n_sequences is not None and (isinstance(n_sequences, bool) or not isinstance(
                n_sequences, (int, np.integer)) or n_sequences < 1):
            raise ValueError(f"`n_sequences` must be a positive int or None. Received: "
                             f"n_sequences={n_sequences!r}")
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
        if key not in self._derived:
            self._derived[key] = self.attributions[label].position_importance
        return self._derived[key]

    def signed(self, label):
        """``(N, L)`` signed contribution of the observed base (see :func:`signed_contribution`)."""
        key = ("signed", label)
        if key not in self._derived:
            self._derived[key] = signed_contribution(self.attributions[label].values, self.x)
        return self._derived[key]

    def on_subsample(self, label, index):
        """Attributions of ``label`` for ``x[index]``, as a re-run on the subsample gives them.

        The engine keys every sequence's random draws by the sequence itself
        (:mod:`keras_iml.engine.seeds`), so the slice equals a re-run with the same
        seed, for stochastic methods too: a variant run on ``x[index]`` is compared
        with the same draws.
        """
        return self.attributions[label][np.asarray(index)]

    def attribution_seed(self, label):
        """The seed the attributions of ``label`` were computed with."""
        seed = self.attributions[label].params.get("seed")
        return self.seed if seed is None else int(seed)

    # -- model access ----------------------------------------------------------------
    def _aux_rows(self, rows, x_given):
        if self.aux is None:
            return None
        if rows is None:
            if x_given:
                raise NotApplicable("the model's auxiliary inputs of these sequences are not known")
            return self.aux
        rows = np.asarray(rows)
        return [a if len(a) == 1 else a[rows] for a in self.aux]

    def outputs(self):
        """``f(x)`` for every sequence, ``(N,)``."""
        if "outputs" not in self._derived:
            self._derived["outputs"] = self.predict(self.x, rows=np.arange(self.n))
        return self._derived["outputs"]

    def predict(self, x, rows=None):
        """The explained output ``f`` for any one-hot array, in batches.

        Args:
            x: one-hot ``(M, L, 4)``.
            rows: for a model with auxiliary inputs, the index into the run's
                sequences of each row of ``x`` (whose auxiliary values it takes).
        """
        batch = int(self.explain_kwargs.get("batch_size", 128))
        return self.explainer.predict(np.asarray(x, np.float32), batch_size=batch,
                                      aux=self._aux_rows(rows, True))

    def output_scale(self):
        """Standard deviation of ``f(x)`` over the data (1.0 when it is 0 or undefined)."""
        scale = float(np.std(self.outputs()))
        return scale if np.isfinite(scale) and scale > 0 else 1.0

    def method_of(self, label):
        """The method instance of ``label``, or NotApplicable when it cannot be re-run."""
        inst = self.methods.get(label)
        if inst is None:
            raise NotApplicable("the method cannot be re-run (attributions given precomputed)")
        return inst

    def model_for(self, label):
        """The model ``label`` explains: a control arm's own (e.g. a randomised copy), else the run's."""
        return self.arm_models.get(label, self.model)

    def same_model_only(self, label, what):
        """Raises NotApplicable for an arm that explains another model (``what``: the reason)."""
        if label in self.arm_models:
            raise NotApplicable(f"{label!r} explains a randomised copy of the model: {what}")

    def consensus(self, label, others):
        """A pseudo-label whose maps are the consensus of ``others`` (for agreement metrics).

        Position importance: the per-position median of the others' importance, each
        ranked within its sequence (ranks / L, so methods of any scale weigh alike).
        Signed contribution: the median of the others' signed contributions, each
        scaled by its sequence's largest magnitude. Read through :meth:`importance`
        and :meth:`signed` like any method's.
        """
        key = ("consensus", tuple(others))
        if ("importance", key) not in self._derived:
            ranks = [stats.rankdata(self.importance(o), axis=1) / self.length for o in others]
            self._derived[("importance", key)] = np.median(np.stack(ranks), axis=0)
            signed = []
            for o in others:
                s = self.signed(o)
                top = np.abs(s).max(axis=1, keepdims=True)
                signed.append(np.divide(s, top, out=np.zeros_like(s), where=top > 0))
            self._derived[("signed", key)] = np.median(np.stack(signed), axis=0)
        return key

    def explainer_for(self, model=None, **overrides):
        """The :class:`keras_iml.Explainer` of a model (the run's by default), from :attr:`cache`.

        ``overrides`` replace the run's ``target``/``logit`` (e.g. ``target=None`` for a
        model other than the user's).
        """
        model = self.model if model is None else model
        if model is self.model and self.explainer is not None and not overrides:
            return self.explainer
        opts = {**self.explain_kwargs, **overrides}
        return self.cache.explainer(model, target=opts.get("target"), logit=opts.get("logit", False),
                                    alphabet=self.alphabet)

    def derived(self, key, build):
        """``build()``, computed once per run for ``key`` (a tuple naming what it is and
        every option it depends on) and kept as long as the run: how metrics share
        what they derive from the data (infills, motif hits, the random-ranking
        baseline). A ``build`` that raises is not kept.
        """
        if key not in self._derived:
            self._derived[key] = build()
        return self._derived[key]

    def shared(self, key, build):
        """``build()``, made once per ``key`` and kept in :attr:`cache`.

        For models a metric builds (e.g. the PWM oracle): reusing the same model
        object reuses its compiled functions in later runs with the same cache.
        """
        return self.cache.model(key, build)

    def explain(self, method, x=None, model=None, seed=None, rows=None, **overrides):
        """Re-runs an attribution method with the run's target and batch size.

        Equivalent to :func:`keras_iml.explain` with the same seed, through the
        run's cached explainers (one compiled model function per model for the
        whole run). ``overrides`` replace the run's ``target``/``logit``.

        Args:
            method: an ``AttributionMethod`` instance.
            x: one-hot inputs (default: the run's ``x``).
            model: the model to explain (default: the run's model).
            seed: base seed (default: the run's seed).
            rows: the index into the run's sequences of each row of ``x``: per-sequence
                options (one baseline per sequence) and auxiliary inputs follow it.

        Returns:
            an :class:`keras_iml.Attributions`.
        """
        given = x is not None
        x = self.x if x is None else np.asarray(x, np.float32)
        if rows is None and not given:
            rows = np.arange(self.n)
        explainer = self.explainer_for(model, **overrides)
        aux = self._aux_rows(rows, given) if explainer.aux_names else None
        return explainer.run(method, x, seed=self.seed if seed is None else int(seed),
                             batch_size=int(self.explain_kwargs.get("batch_size", 128)),
                             verbose=0, rows=rows, aux=aux)

    def reference_ism(self):
        """ISM attributions of every sequence (reused when ``ism`` is a validated method)."""
        if "ism" not in self._derived:
            for attr in self.attributions.values():
                if attr.method == "ism":
                    self._derived["ism"] = attr
                    break
            else:
                self._derived["ism"] = self.explain(methods_lib.get("ism"))
        return self._derived["ism"]

    def reverse_complement_ok(self):
        """Whether reversing the channel axis complements bases in this alphabet."""
        comp = dict(zip("ACGT", "TGCA"))
        letters = self.alphabet.upper()
        return all(comp.get(a) == b for a, b in zip(letters, letters[::-1]))

    def reverse_complement(self, x):
        return np.ascontiguousarray(dna.reverse_complement(x))
