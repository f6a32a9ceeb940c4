"""Interpretable distillation: readable surrogates of a model, and where they hold.

:func:`distill` queries a model on designed libraries of sequences
(:mod:`keras_iml.surrogate.libraries`), fits readable surrogates to its answers
(:mod:`keras_iml.surrogate.models`) and measures, library by library on held-out
queries, how faithfully each surrogate reproduces the model. A surrogate that
holds on mutants and shuffles but not on GC-shifted or out-of-distribution
sequences shows where the model's behaviour departs from its readable
description: the confounders and blind spots of issue #14.

Everything is streamed: each library is generated, queried (through the same
compiled model function as ``explain``: :meth:`keras_iml.Explainer.predict`) and
fitted chunk by chunk (sufficient statistics); only held-out subsamples (at most
``max_responses`` sequences per library, as base codes) and summaries are kept, so
memory does not grow with ``n_queries``.

Example:
    >>> result = keras_iml.distill(model, x, motifs={"CTCF": "MA0139.2"}, n_queries=20000)
    >>> result.fidelity.pivot(index="library", columns="surrogate", values="r2")
    >>> result.surrogates["additive"].matrix_.shape
    (200, 4)
"""

from __future__ import annotations

import dataclasses
import time
from typing import Sequence

import numpy as np
import pandas as pd

import keras
from keras_iml.engine import inputs as inputs_lib
from keras_iml.explainer import Explainer
from keras_iml.stats import stable_seed
from keras_iml.surrogate import _sequences as seqs
from keras_iml.surrogate import libraries as libraries_lib
from keras_iml.surrogate import models as models_lib
from keras_iml.surrogate._report import Distillation
from keras_iml.types import Options, SequencesLike, TargetLike, Verbose

__all__ = ["distill", "Distillation", "DEFAULT_LIBRARIES"]

DEFAULT_LIBRARIES = ("mutagenesis", "shuffle", "implant", "gc_shift", "kmer_shift", "families",
                     "out_of_distribution")
CHUNK = 2048  # sequences generated, queried and fitted at a time (fixed: draws do not depend on batch_size)
N_GENERATED_REFERENCES = 64


def _resolve(items, registry, kind):
    """``{key: instance}`` (keys: names, made unique with ``_2``, ``_3``...)."""
    if isinstance(items, (str, dict, type)) or hasattr(items, "get_config"):
        items = [items]
    out = {}
    for item in items:
        obj = registry.get(item)
        key, i = obj.name, 2
        while key in out:
            key, i = f"{obj.name}_{i}", i + 1
        out[key] = obj
    if not out:
        raise ValueError(f"`{kind}` must name at least one {kind[:-1]}. Received: {kind}={items!r}")
    return out


def _with_motifs(obj, motifs):
    """``obj`` given ``motifs`` when it needs some and has none; None when none are available."""
    if not hasattr(obj, "motifs") or obj.motifs is not None:
        return obj
    if motifs is None:
        return None
    return type(obj)(**{**obj.get_config(), "motifs": motifs})


def _holdout_mask(start, stop, total, n_hold):
    """Rows ``start..stop-1`` of ``total`` that are held out (``n_hold`` spread evenly)."""
    i = np.arange(start, stop)
    return (i + 1) * n_hold // total > i * n_hold // total


def _check_args(n_queries, holdout, max_responses, alphabet):
    seqs.check_int(n_queries, "n_queries", low=1)
    seqs.check_fraction(holdout, "holdout", open_low=True, open_high=True)
    seqs.check_int(max_responses, "max_responses", low=1)
    if not isinstance(alphabet, str) or sorted(alphabet.upper()) != sorted("ACGT"):
        raise ValueError(f"`alphabet` must be the 4 letters ACGT in some order. Received: alphabet={alphabet!r}")


def _length(explainer, refs):
    if refs is not None:
        return refs.shape[1]
    try:
        length = explainer.model.inputs[explainer.layout.dna_index].shape[1]
    except (AttributeError, IndexError, TypeError, ValueError):
        length = None
    if length is None:
        raise ValueError(
            "The sequence length is unknown: the model declares none. Pass reference "
            "sequences `x`. Received: x=None"
        )
    return int(length)


class _Held:
    """Held-out queries of one library: codes, design rows and model outputs."""

    def __init__(self):
        self.codes, self.design, self.y = [], [], []

    def add(self, codes, design, y):
        self.codes.append(codes)
        self.design.append(design.reset_index(drop=True))
        self.y.append(y)

    def arrays(self):
        if not self.codes:
            return None, None, None
        return (np.concatenate(self.codes), pd.concat(self.design, ignore_index=True), np.concatenate(self.y))


def distill(model: keras.Model, x: SequencesLike | None = None, *,
            libraries: Sequence[str | Options] = DEFAULT_LIBRARIES,
            surrogates: Sequence[str | Options] = ("additive", "kmer"), n_queries: int = 10000,
            holdout: float = 0.2, target: TargetLike = None, motifs=None, seed: int = 0,
            batch_size: int = 512, aux=None, alphabet: str = "ACGT", verbose: Verbose = "auto",
            cache=None, max_responses: int = 5000, logit: bool = False) -> Distillation:
    """Distils a model into readable surrogates and measures their fidelity per library.

    Args:
        model: a Keras model taking one-hot DNA ``(N, L, 4)``.
        x: optional reference sequences (one-hot in ``alphabet`` order, or strings):
            the parents of mutagenesis and the sources of shuffled backgrounds. None:
            ``64`` generated Markov backgrounds stand in (recorded in ``params``
            and in the design's ``source`` column).
        libraries: library names, configs or instances
            (:mod:`keras_iml.surrogate.libraries`).
        surrogates: surrogate names, configs or instances
            (:mod:`keras_iml.surrogate.models`); ``"local_additive"`` draws its own
            mutagenesis library around one reference.
        n_queries: queries shared evenly by the libraries (local surrogates add theirs).
        holdout: fraction of each library held out for fidelity (at most
            ``max_responses`` rows per library; the rest trains).
        target: which output to distil (see ``keras_iml.Explainer``).
        motifs: dict name -> ``(W, 4)`` matrix or JASPAR ID (or a list), used by the
            implant library and the pairwise surrogate when they have none (without
            motifs, those are skipped and the reason recorded).
        seed: base seed (None draws one, recorded); each library gets its own seed
            derived from it and its name.
        batch_size: sequences per model call.
        aux: the model's other inputs, one shared row per input.
        alphabet: column order of the model's one-hot encoding.
        verbose: ``"auto"``, 0, 1 or 2: a ``keras.utils.Progbar`` over queries.
        cache: a :class:`keras_iml.TraceCache` to take the explainer from.
        max_responses: held-out rows kept per library (bounds memory).
        logit: distil the logit of a final sigmoid/softmax (surrogates of a
            saturated probability are less readable).

    Returns:
        A :class:`Distillation`.

    Example:
        >>> result = keras_iml.distill(model, x, surrogates=["additive", "kmer", "local_additive"])
        >>> result.summary()
    """
    _check_args(n_queries, holdout, max_responses, alphabet)
    inputs_lib.check_batch_size(batch_size)
    seed = inputs_lib.check_seed(seed)
    explainer = (cache.explainer(model, target=target, logit=logit, alphabet=alphabet) if cache is not None
                 else Explainer(model, target=target, logit=logit, alphabet=alphabet))
    _check_aux(aux)
    order = ["ACGT".index(c) for c in alphabet.upper()]  # model column j <- ACGT column order[j]
    refs, source, length = _references(explainer, x, alphabet, order, seed)
    libs, fitted, reasons = _plugins(libraries, surrogates, motifs, length, n_queries, len(refs))
    plan = _plan(libs, fitted, refs, n_queries, seed)
    t_start = time.perf_counter()
    held, lib_info, timings = _query_and_fit(plan, explainer, order, source, holdout, max_responses,
                                             batch_size, aux, verbose)
    t0 = time.perf_counter()
    fidelity, usable, responses = _evaluate(held, fitted, reasons)
    timings["evaluate"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_start
    params = {"seed": seed, "n_queries": n_queries, "n_queried": sum(p.n for p in plan), "holdout": holdout,
              "target": target, "logit": bool(logit), "length": length, "alphabet": alphabet,
              "batch_size": batch_size,
              "chunk": CHUNK, "max_responses": max_responses, "references": source,
              "n_references": len(refs), "motifs": None if motifs is None else _motif_names(motifs),
              "timings": {k: round(t, 4) for k, t in timings.items()}}
    return Distillation(fidelity=fidelity, surrogates=usable, responses=responses, libraries=lib_info,
                        params=params, reasons=reasons)


def _check_aux(aux):
    if aux is None:
        return
    values = aux.values() if isinstance(aux, dict) else aux if isinstance(aux, (list, tuple)) else [aux]
    if any(len(np.asarray(v)) != 1 for v in values):
        raise ValueError("`aux` must hold one shared row per input (queries are synthetic). "
                         f"Received: aux rows {[len(np.asarray(v)) for v in values]}")


def _references(explainer, x, alphabet, order, seed):
    """``(refs, source, length)``: the reference sequences (one-hot, ACGT order) — the
    given ones, else generated Markov backgrounds — and the sequence length."""
    refs, source = None, "given"
    if x is not None:
        refs = inputs_lib.as_array(x, alphabet=alphabet)[..., np.argsort(order)]
    length = _length(explainer, refs)
    if refs is None:
        source = f"generated ({N_GENERATED_REFERENCES} Markov backgrounds, GC {seqs.GENOME_GC})"
        rng = np.random.default_rng(stable_seed(seed, "references"))
        refs = seqs.one_hot(seqs.markov_backgrounds(N_GENERATED_REFERENCES, length, seqs.GENOME_GC, rng))
    return refs, source, length


def _plugins(libraries, surrogates, motifs, length, n_queries, n_refs):
    """``(libraries, surrogates, reasons)``: checked instances by key (fresh copies of
    the surrogates: the caller's are left as they are), and why any was left out."""
    libs, fitted, reasons = {}, {}, {}
    no_motifs = "no motifs: pass motifs= (dict name -> PFM or JASPAR ID) to distill"
    for key, lib in _resolve(libraries, libraries_lib, "libraries").items():
        given = _with_motifs(lib, motifs)
        if given is None:
            reasons[key] = no_motifs
            continue
        given.check(length)
        libs[key] = given
    for key, sur in _resolve(surrogates, models_lib, "surrogates").items():
        given = _with_motifs(type(sur).from_config(sur.get_config()), motifs)
        if given is None:
            reasons[key] = no_motifs
            continue
        given.check()
        fitted[key] = given
    if not libs:
        raise ValueError(f"No library can run. Received: libraries={libraries!r}; reasons: {reasons}")
    if n_queries < 2 * len(libs):
        raise ValueError(
            f"`n_queries` must give each of the {len(libs)} libraries at least 2 queries (one to fit, "
            f"one to hold out). Received: n_queries={n_queries}"
        )
    for key, sur in fitted.items():
        if sur.scope != "global" and sur.parent >= n_refs:
            raise ValueError(f"`parent` of {key!r} must index the {n_refs} references. "
                             f"Received: parent={sur.parent}")
    return libs, fitted, reasons


@dataclasses.dataclass
class _Step:
    """One library of the plan: queried ``n`` times, fitting ``fit_on``."""

    name: str
    library: object
    refs: np.ndarray
    n: int
    fit_on: dict
    seed: int
    parent: int | None


def _plan(libs, fitted, refs, n_queries, seed):
    """The libraries to query, in order: the global ones sharing ``n_queries`` and
    fitting the global surrogates, then one mutagenesis library per local surrogate."""
    globals_ = {k: s for k, s in fitted.items() if s.scope == "global"}
    share = [n_queries // len(libs) + (i < n_queries % len(libs)) for i in range(len(libs))]
    plan = [_Step(k, lib, refs, n, globals_, stable_seed(seed, k), None)
            for (k, lib), n in zip(libs.items(), share)]
    for key, sur in fitted.items():
        if sur.scope == "global":
            continue
        name = f"mutagenesis@{sur.parent}"
        name = name if all(p.name != name for p in plan) else f"{name}:{key}"
        plan.append(_Step(name, libraries_lib.get("mutagenesis", rate=sur.rate),
                          refs[sur.parent : sur.parent + 1], int(sur.n_queries), {key: sur},
                          stable_seed(seed, f"local:{key}"), sur.parent))
    return plan


def _query_and_fit(plan, explainer, order, source, holdout, max_responses, batch_size, aux, verbose):
    """Generates, queries and fits every library of ``plan`` chunk by chunk.

    Returns:
        ``(held, libraries, timings)``: each library's held-out queries, its record,
        and the seconds spent generating, querying and fitting.
    """
    total = sum(p.n for p in plan)
    v = inputs_lib.check_verbose(verbose, sum(-(-p.n // CHUNK) for p in plan))
    bar = keras.utils.Progbar(total, verbose=v, unit_name="query") if v else None
    timings = dict.fromkeys(("generate", "query", "fit", "evaluate"), 0.0)
    held, lib_info, done = {}, {}, 0
    for step in plan:
        rng, n = np.random.default_rng(step.seed), step.n
        n_hold = min(max(1, int(round(holdout * n))), max_responses, n - 1) if n > 1 else 0
        held[step.name] = _Held()
        for start in range(0, n, CHUNK):
            stop = min(n, start + CHUNK)
            t0 = time.perf_counter()
            q = step.library.sample(step.refs, stop - start, rng)
            if source != "given":
                q.design["source"] = "generated"
            if step.parent is not None:  # a local library: one reference, give its index
                q.design["parent"] = step.parent
            t1 = time.perf_counter()
            xq = q.x if order == [0, 1, 2, 3] else q.x[..., order]
            y = explainer.predict(xq, batch_size=batch_size, aux=aux).astype(np.float64)
            t2 = time.perf_counter()
            train = ~_holdout_mask(start, stop, n, n_hold)
            if train.any():
                for sur in step.fit_on.values():
                    sur.partial_fit(q.x[train], y[train])
            held[step.name].add(q.codes[~train], q.design[~train], y[~train])
            timings["generate"] += t1 - t0
            timings["query"] += t2 - t1
            timings["fit"] += time.perf_counter() - t2
            done += stop - start
            if bar is not None:
                bar.update(done)
        lib_info[step.name] = {"class_name": step.library.name, "config": step.library.get_config(),
                               "seed": step.seed, "n_queries": n, "n_train": n - n_hold, "n_holdout": n_hold,
                               "scope": "global" if step.parent is None else "local",
                               "fitted": list(step.fit_on)}
    return held, lib_info, timings


def _evaluate(held, fitted, reasons):
    """``(fidelity, usable surrogates, responses)`` on the held-out queries; a surrogate
    fitted on fewer than 2 queries is left out (its reason added to ``reasons``)."""
    usable = {}
    for key, sur in fitted.items():
        if sur.n_samples_ < 2:
            reasons[key] = f"fitted on {sur.n_samples_} queries: too few"
        else:
            usable[key] = sur
    rows, responses = [], {}
    for name, store in held.items():
        codes, design, y = store.arrays()
        if codes is None or not len(codes):
            continue
        xs = seqs.one_hot(codes)
        table = design.copy()
        table["model"] = y
        for key, sur in usable.items():
            pred = sur.predict(xs)
            table[key] = pred
            rows.append({"library": name, "surrogate": key, "n": len(y),
                         **models_lib.fidelity(y, pred)})
        responses[name] = table
    return pd.DataFrame(rows, columns=["library", "surrogate", "n", "r2", "spearman"]), usable, responses


def _motif_names(motifs):
    if isinstance(motifs, dict):
        return [str(k) for k in motifs]
    if isinstance(motifs, (list, tuple)):
        return [m if isinstance(m, str) else f"motifs[{i}]" for i, m in enumerate(motifs)]
    return [motifs if isinstance(motifs, str) else "motifs[0]"]
