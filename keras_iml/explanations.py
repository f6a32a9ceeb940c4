"""``keras_iml.explain`` and ``keras_iml.iter_explain``: functions over the :class:`~keras_iml.Explainer`."""

from __future__ import annotations

from typing import Iterator


import keras

from keras_iml import _checks
from keras_iml import methods as _methods
from keras_iml.attributions import Attributions
from keras_iml.engine import inputs as _inputs
from keras_iml.trace_cache import TraceCache, resolve_cache
from keras_iml.types import MethodLike, Seed, SequencesLike, TargetLike, Verbose

__all__ = ["explain", "iter_explain", "resolve_methods", "clear_cache"]

#: How many models' compiled functions :func:`explain` keeps between calls.
RECENT_MODELS = 4


class _RecentCaches:
    """The :class:`TraceCache` of each of the last few models given to :func:`explain`
    without a ``cache=`` (a loop over batches of one model then traces once).

    It holds at most :data:`RECENT_MODELS` models (the least recently used is
    dropped, with its compiled graphs); :func:`clear_cache` empties it.
    """

    def __init__(self, size):
        self.size = size
        self._entries = []  # [(model, cache)], most recent last

    def get(self, model):
        for k, (held, cache) in enumerate(self._entries):
            if held is model:
                self._entries.append(self._entries.pop(k))
                return cache
        cache = TraceCache()
        self._entries.append((model, cache))
        del self._entries[: -self.size]
        return cache

    def clear(self):
        self._entries.clear()


_RECENT = _RecentCaches(RECENT_MODELS)


def clear_cache():
    """Drops the compiled functions that :func:`explain` keeps for recent models.

    ``explain(model, ...)`` without ``cache=`` reuses the traces of the last
    :data:`RECENT_MODELS` models it was given, so a loop over batches traces once;
    this releases them (and the references to those models).
    """
    _RECENT.clear()


def resolve_methods(method, options):
    """Turns ``method`` (name, config, instance or list) into a list of instances.

    Options are given to every method that accepts them; an option accepted by none
    is an error.

    Returns:
        ``(instances, many)``: the instances, and whether ``method`` was a list.
    """
    many = isinstance(method, (list, tuple))
    items = list(method) if many else [method]
    if not items:
        raise ValueError("`method` must name at least one method. Received: method=[]")
    used = set()
    instances = []
    for item in items:
        if isinstance(item, str) and item in _methods.names():
            accepted = set(_methods.REGISTRY.get_class(item).option_names())
            opts = {k: v for k, v in options.items() if k in accepted}
            used.update(opts)
            instances.append(_methods.get(item, **opts))
        else:
            instances.append(_methods.get(item, **({} if many else options)))
            if not many:
                used.update(options)
    unused = sorted(set(options) - used)
    if unused:
        raise ValueError(
            f"Unknown option(s) {unused} for method(s) {[m.name for m in instances]}."
        )
    return instances, many


def _explainer(model, cache, functions, target, logit, gradient_correction, alphabet, n_policy,
               dna_input):
    recent = (lambda: _RECENT.get(model)) if isinstance(model, keras.Model) else None
    cache = resolve_cache(cache, functions, recent)
    return cache.explainer(model, target=target, logit=logit, gradient_correction=gradient_correction,
                           alphabet=alphabet, n_policy=n_policy, dna_input=dna_input)


def iter_explain(model: keras.Model, x: SequencesLike, method: MethodLike = "saliency", *,
                 target: TargetLike = None, batch_size: int = 128, verbose: Verbose = "auto",
                 seed: Seed = None, logit: bool = False, gradient_correction: bool = False,
                 rc_average: bool = False, alphabet: str = "ACGT", n_policy: str = "uniform",
                 aux=None, dna_input=None, cache=None, functions=None, names=None,
                 attribute_aux: bool = False, **method_options) -> Iterator[Attributions]:
    """Streams attributions batch by batch (flat memory for any number of sequences).

    Takes the same arguments as :func:`explain` (a single method only) and yields one
    :class:`Attributions` per batch, in order (each with its sequences' names).
    """
    instances, many = resolve_methods(method, method_options)
    if many:
        raise ValueError("`iter_explain` takes a single method. Received: a list of methods")
    explainer = _explainer(model, cache, functions, target, logit, gradient_correction, alphabet,
                           n_policy, dna_input)
    x, names = _named_input(x, names, alphabet, n_policy)
    start = 0
    for attr in explainer.stream(instances[0], x, seed=seed, batch_size=batch_size,
                                 rc_average=rc_average, verbose=verbose, aux=aux,
                                 attribute_aux=attribute_aux):
        if names is not None and start + len(attr) > len(names):
            raise ValueError(f"`names` must hold one name per sequence; `x` yielded more than "
                             f"{len(names)}. Received: len(names)={len(names)}")
        if names is not None:
            attr.names = names[start : start + len(attr)]
        start += len(attr)
        yield attr
    if names is not None and start != len(names):
        raise ValueError(f"`names` must hold one name per sequence (N={start}). "
                         f"Received: len(names)={len(names)}")


def explain(model: keras.Model, x: SequencesLike, method: MethodLike = "saliency", *,
            target: TargetLike = None, batch_size: int = 128, verbose: Verbose = "auto",
            seed: Seed = None, logit: bool = False, gradient_correction: bool = False,
            rc_average: bool = False, alphabet: str = "ACGT", n_policy: str = "uniform",
            aux=None, dna_input=None, cache=None, functions=None, names=None,
            attribute_aux: bool = False, **method_options) -> Attributions | dict[str, Attributions]:
    """Attributions of a Keras model's predictions for DNA sequences.

    A function over :class:`keras_iml.Explainer`, which does the work; keep an
    Explainer (or pass a :class:`keras_iml.TraceCache` as ``cache``) to reuse its
    compiled functions between calls.

    Args:
        model: a Keras model taking one-hot ``(N, L, 4)`` input (never modified).
        x: one-hot array or tensor ``(N, L, 4)``; a DNA string or list of strings
            (encoded with ``alphabet``; lower case allowed; N per ``n_policy``); a dict
            name -> DNA string (or one-hot ``(L, 4)``); a pandas Series of strings; or a
            ``tf.data.Dataset`` of one-hot sequences (or ``(x, y)`` pairs).
        method: a registered name (see ``keras_iml.methods.names()``), a config dict,
            an ``AttributionMethod`` instance, or a list of them.
        target: which output to explain (see :mod:`keras_iml.engine.targets`).
        batch_size: sequences per batch.
        verbose: ``"auto"``, 0, 1 or 2 (a ``keras.utils.Progbar``).
        seed: seed for stochastic methods (references, noise). With None a seed is
            drawn and recorded in ``Attributions.params["seed"]``. The draws of each
            sequence are keyed by the sequence itself, so it gets the same
            attributions alone, in any batch and in any order.
        logit: explain the logit of a final sigmoid/softmax.
        gradient_correction: remove the per-position mean over bases from gradients.
        rc_average: average with the attributions of the reverse complement
            (flipped back onto the forward strand).
        alphabet: column order of the encoding (``"ACGT"``).
        n_policy: how ``N`` in strings is encoded (``"uniform"``, ``"zeros"``, ``"error"``).
        aux: for a model with inputs besides the DNA, their values, held fixed while
            the DNA is attributed: a dict input name -> array with one row per
            sequence (or a single row shared by all); ``(N, L)`` is accepted for a
            per-base track input declared ``(L, 1)``.
        dna_input: for a model with several inputs, the name of the DNA input.
        cache: a :class:`keras_iml.TraceCache` in which compiled functions are kept
            between calls (``IMLModel`` passes its own, so repeated explains trace once).
            None reuses the traces of the last few models given (see
            :func:`clear_cache`), so a loop over batches of one model traces once.
        functions: deprecated name of ``cache``.
        names: the name of each sequence (FASTA record, BED interval), kept on
            ``Attributions.names`` and used in error messages. Default: the dict's keys
            or the Series' index when ``x`` is one (unless it is ``0, 1, ...``), else None.
        attribute_aux: also attribute the auxiliary inputs (``aux``) into
            ``Attributions.aux`` (dict input name -> array ``(N, *input_shape)``, the
            model input's own shape: ``(N, L, 1)`` for an ``(L, 1)`` track given as
            ``(N, L)``).
            Only the gradient methods define it: ``saliency`` (the gradient),
            ``input_x_gradient`` (value x gradient) and ``integrated_gradients`` (the
            path from an all-zero track to its value, the DNA held fixed); any
            other method raises ValueError.
        **method_options: options of the method(s), e.g. ``steps=32``.

    Returns:
        An :class:`Attributions`, or a dict name -> Attributions when ``method`` is a list.

    Example:
        >>> attr = keras_iml.explain(model, x, "integrated_gradients", steps=32)
        >>> attr.values.shape
        (256, 1000, 4)
    """
    instances, many = resolve_methods(method, method_options)
    explainer = _explainer(model, cache, functions, target, logit, gradient_correction, alphabet,
                           n_policy, dna_input)
    x, names = _named_input(x, names, alphabet, n_policy)
    if many:  # read the input once for every method (a dataset is consumed once)
        _inputs.check_batch_size(batch_size)
        x = _inputs.as_array(x, batch_size, alphabet, n_policy)
    results = {}
    for inst in instances:
        key, k = inst.name, 2
        while key in results:
            key, k = f"{inst.name}#{k}", k + 1
        results[key] = explainer.run(inst, x, seed=seed, batch_size=batch_size,
                                     rc_average=rc_average, verbose=verbose, aux=aux,
                                     attribute_aux=attribute_aux)
        if names is not None:  # a dataset's count is only known now
            results[key].names = _checks.check_names(names, len(results[key]))
    return results if many else results[instances[0].name]


def _named_input(x, names, alphabet, n_policy):
    """``(x, names)``: names split from a dict / Series; with names, ``x`` is encoded
    and checked here so that an error names the record (a dataset is left to stream)."""
    x, names = _checks.sequence_names(x, names)
    if names is not None and not _inputs.is_dataset(x):
        x = _checks.as_onehot(x, alphabet, n_policy, names=names)
        names = _checks.check_names(names, len(x))
    return x, names
