"""The batched attribution engine: ``keras_iml.explain`` and ``keras_iml.iter_explain``."""

import numpy as np
import tensorflow as tf

import keras
from keras_iml import _checks, dna
from keras_iml import methods as _methods
from keras_iml.attributions import Attributions
from keras_iml.targets import ModelFunction

__all__ = ["explain", "iter_explain", "resolve_methods"]


def resolve_methods(method, options):
    """Turns ``method`` (name, config, instance or list) into a list of instances.

    Options are given to every method that accepts them; an option accepted by none
    is an error.
    """
    many = isinstance(method, (list, tuple))
    items = list(method) if many else [method]
    if not items:
        raise ValueError("`method` must name at least one method. Received: method=[]")
    used = set()
    instances = []
    for item in items:
        if isinstance(item, str) and item in _methods.names():
            accepted = set(_methods.get(item).option_names())
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


def _verbose(verbose, n_batches):
    if verbose == "auto":
        return 1 if n_batches > 1 else 0
    if verbose not in (0, 1, 2, True, False):
        raise ValueError(f"`verbose` must be 'auto', 0, 1 or 2. Received: verbose={verbose!r}")
    return int(verbose)


def _check_batch_size(batch_size):
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive int. Received: batch_size={batch_size!r}")


def _base_seed(seed):
    if seed is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative int or None. Received: seed={seed!r}")
    return int(seed)


def _dataset_batches(dataset, batch_size, alphabet, n_policy):
    """Yields validated one-hot numpy batches of ``batch_size`` from a tf.data.Dataset."""
    buffer, count = [], 0
    for element in dataset:
        if isinstance(element, (tuple, list)):
            element = element[0]
        if isinstance(element, dict):
            raise ValueError("Dict elements are not supported in `x`; map the dataset to one-hot tensors.")
        arr = np.asarray(element)
        if arr.ndim == 2:
            arr = arr[None]
        arr = _checks.as_onehot(arr, alphabet, n_policy)
        buffer.append(arr)
        count += len(arr)
        while count >= batch_size:
            joined = np.concatenate(buffer)
            yield joined[:batch_size]
            rest = joined[batch_size:]
            buffer, count = ([rest] if len(rest) else []), len(rest)
    if count:
        yield np.concatenate(buffer)


def _project(method, out, xb):
    """Puts a reference-based method's contributions on the observed bases.

    ``(x - r) * m`` is non-zero at absent bases when the reference is not zero; its
    per-position sum equals ``hypothetical * x`` summed over bases (for one-hot and
    N columns), so projecting keeps completeness and gives every method the same
    convention: ``values`` live on the observed bases, ``hypothetical`` everywhere.
    """
    if getattr(method, "multiplies_input", False) and out.get("hypothetical") is not None:
        out = dict(out, values=np.asarray(out["hypothetical"]) * xb)
    return out


def _rows_of(method, start, stop, n_total):
    """The method with its per-sequence options cut to rows ``start:stop`` of ``n_total``.

    Arrays with another first-axis length are left for the method to refuse (its
    error names the option); so are streams of unknown length (``n_total`` None).
    """
    names = method.per_sequence_options()
    if not names or n_total is None or stop - start == n_total:
        return method
    config = method.get_config()
    cut = {name: np.asarray(config[name])[start:stop] for name in names
           if np.shape(config[name])[0] == n_total}
    return type(method).from_config({**config, **cut}) if cut else method


def _run_batch(method, function, xb, start, base_seed, rc_average):
    rngs = [np.random.default_rng([base_seed, start + i]) for i in range(len(xb))]
    out = _project(method, method.attribute(function, xb, rngs), xb)
    if rc_average:
        rc_rngs = [np.random.default_rng([base_seed, start + i, 1]) for i in range(len(xb))]
        xrc = np.ascontiguousarray(dna.reverse_complement(xb))
        out_rc = _project(method, method.attribute(function, xrc, rc_rngs), xrc)
        merged = {}
        for key, value in out.items():
            other = out_rc.get(key)
            if value is None or other is None:
                continue
            other = dna.reverse_complement(other) if np.ndim(value) == 3 else other
            merged[key] = 0.5 * (np.asarray(value) + np.asarray(other))
        out = merged
    return out


def iter_explain(model, x, method="saliency", *, target=None, batch_size=128, verbose="auto",
                 seed=None, logit=False, gradient_correction=False, rc_average=False,
                 alphabet="ACGT", n_policy="uniform", functions=None, **method_options):
    """Streams attributions batch by batch (flat memory for any number of sequences).

    Takes the same arguments as :func:`explain` (a single method only) and yields one
    :class:`Attributions` per batch, in order.
    """
    instances, many = resolve_methods(method, method_options)
    if many:
        raise ValueError("`iter_explain` takes a single method. Received: a list of methods")
    yield from _explain_stream(model, x, instances[0], target=target, batch_size=batch_size,
                               verbose=verbose, seed=seed, logit=logit,
                               gradient_correction=gradient_correction, rc_average=rc_average,
                               alphabet=alphabet, n_policy=n_policy, functions=functions)


def _function_for(model, functions, example, target, logit, gradient_correction):
    """A ModelFunction, reused from ``functions`` (a dict owned by the caller) if given."""
    try:
        key = (target if not isinstance(target, (list, slice)) else repr(target), bool(logit),
               bool(gradient_correction))
        hash(key)
    except TypeError:
        key = None
    if functions is not None and key is not None and key in functions:
        return functions[key]
    function = ModelFunction(model, target=target, logit=logit,
                             gradient_correction=gradient_correction, example=example)
    if functions is not None and key is not None:
        functions[key] = function
    return function


def _explain_stream(model, x, method, *, target, batch_size, verbose, seed, logit,
                    gradient_correction, rc_average, alphabet, n_policy, functions=None):
    _check_batch_size(batch_size)
    base_seed = _base_seed(seed)
    if isinstance(x, tf.data.Dataset):
        batches = _dataset_batches(x, batch_size, alphabet, n_policy)
        n_total = None
    else:
        arr = _checks.as_onehot(x, alphabet, n_policy)
        n_total = len(arr)
        batches = (arr[i : i + batch_size] for i in range(0, n_total, batch_size))
    function = None
    params = {**method.get_config(), "seed": base_seed, "rc_average": bool(rc_average)}
    start = 0
    bar = None
    for xb in batches:
        if function is None:
            _checks.check_against_model(xb, model)
            function = _function_for(model, functions, xb, target, logit, gradient_correction)
            method.check_params(function)
            n_batches = None if n_total is None else -(-n_total // batch_size)
            v = _verbose(verbose, n_batches if n_batches is not None else 2)
            if v:
                bar = keras.utils.Progbar(n_total, verbose=v, unit_name="seq")
        rows = _rows_of(method, start, start + len(xb), n_total)
        out = _run_batch(rows, function, xb, start, base_seed, rc_average)
        start += len(xb)
        if bar is not None:
            bar.update(start)
        yield Attributions(
            out["values"], method=method.name, params=params,
            target=function.describe(), hypothetical=out.get("hypothetical"),
            inputs=xb, convergence_delta=out.get("convergence_delta"),
        )
    if function is None:
        raise ValueError("`x` is empty: it yielded no sequences.")


def explain(model, x, method="saliency", *, target=None, batch_size=128, verbose="auto",
            seed=None, logit=False, gradient_correction=False, rc_average=False,
            alphabet="ACGT", n_policy="uniform", functions=None, **method_options):
    """Attributions of a Keras model's predictions for DNA sequences.

    Args:
        model: a Keras model taking one-hot ``(N, L, 4)`` input (never modified).
        x: one-hot array or tensor ``(N, L, 4)``; a DNA string or list of strings
            (encoded with ``alphabet``; lower case allowed; N per ``n_policy``); or a
            ``tf.data.Dataset`` of one-hot sequences (or ``(x, y)`` pairs).
        method: a registered name (see ``keras_iml.methods.names()``), a config dict,
            an ``AttributionMethod`` instance, or a list of them.
        target: which output to explain (see :mod:`keras_iml.targets`).
        batch_size: sequences per batch.
        verbose: ``"auto"``, 0, 1 or 2 (a ``keras.utils.Progbar``).
        seed: seed for stochastic methods (references, noise). With None a seed is
            drawn and recorded in ``Attributions.params["seed"]``.
        logit: explain the logit of a final sigmoid/softmax.
        gradient_correction: remove the per-position mean over bases from gradients.
        rc_average: average with the attributions of the reverse complement
            (flipped back onto the forward strand).
        alphabet: column order of the encoding (``"ACGT"``).
        n_policy: how ``N`` in strings is encoded (``"uniform"``, ``"zeros"``, ``"error"``).
        functions: optional dict in which compiled model functions are kept between
            calls (``IMLModel`` passes its own, so repeated explains trace once).
        **method_options: options of the method(s), e.g. ``steps=32``.

    Returns:
        An :class:`Attributions`, or a dict name → Attributions when ``method`` is a list.

    Example:
        >>> attr = keras_iml.explain(model, x, "integrated_gradients", steps=32)
        >>> attr.values.shape
        (256, 1000, 4)
    """
    instances, many = resolve_methods(method, method_options)
    if isinstance(x, tf.data.Dataset) and len(instances) > 1:
        x = np.concatenate([b for b in _dataset_batches(x, batch_size, alphabet, n_policy)])
    # Methods of one call share their compiled model functions.
    functions = {} if functions is None else functions
    results = {}
    for inst in instances:
        parts = list(_explain_stream(model, x, inst, target=target, batch_size=batch_size,
                                     verbose=verbose, seed=seed, logit=logit,
                                     gradient_correction=gradient_correction,
                                     rc_average=rc_average, alphabet=alphabet,
                                     n_policy=n_policy, functions=functions))
        key = inst.name
        k = 2
        while key in results:
            key, k = f"{inst.name}#{k}", k + 1
        results[key] = Attributions.concatenate(parts)
    return results if many else results[instances[0].name]
