"""Cross-check with SQUID (Seitz et al.): its additive surrogate on the same library as ours.

SQUID (``pip install squid-nn``; imports as ``squid``) fits additive surrogates to a
model's outputs on a library of point mutants of one sequence, with MAVE-NN's global
epistasis model (``squid.surrogate_zoo.SurrogateMAVENN``, which needs ``mavenn``) or
with scikit-learn's ``RidgeCV`` (``SurrogateRidgeCV``, which does not).
:func:`crosscheck` draws one mutagenesis library (:mod:`keras_iml.surrogate.libraries`,
seeded), queries the model once, fits keras_iml's ``additive`` surrogate and SQUID's
on the same queries, and compares the two ``(L, 4)`` matrices in the same gauge
(zero mean at each position).

Measured here (TensorFlow-CPU 2.21, Keras 3.15): ``squid-nn`` 0.4.9 installs with
``--no-deps`` (it declares only numpy, matplotlib, pandas and tqdm) and imports;
``mavenn`` 1.1.4 declares the package named ``tensorflow``, so a plain install lays
the full TensorFlow wheel over ``tensorflow-cpu``; installed with ``--no-deps`` beside
``tensorflow-cpu`` it imports and fits. See ``docs/distillation.md``.

Example:
    >>> from keras_iml.surrogate import crosscheck
    >>> crosscheck.available()
    (True, 'squid-nn 0.4.9 (ridge)')
    >>> crosscheck.crosscheck(model, x[:1], seed=0)["pearson"]
"""

import importlib
import importlib.metadata

import numpy as np

from keras_iml.explainer import Explainer
from keras_iml.surrogate import libraries as libraries_lib
from keras_iml.surrogate import models as models_lib

__all__ = ["available", "squid_additive", "crosscheck", "BACKENDS"]

BACKENDS = ("auto", "ridge", "mavenn")


def _version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def available(backend="auto"):
    """Whether SQUID's additive surrogate can run here, and why not.

    Args:
        backend: ``"auto"`` (MAVE-NN when it imports, else ridge), ``"ridge"`` or ``"mavenn"``.

    Returns:
        ``(ok, text)``: ``text`` names the version and backend, or the reason.
    """
    if backend not in BACKENDS:
        raise ValueError(f"`backend` must be one of {BACKENDS}. Received: backend={backend!r}")
    try:
        zoo = importlib.import_module("squid.surrogate_zoo")
    except ImportError as err:
        return False, f"squid-nn is not importable: {err}"
    chosen = _backend(zoo, backend)
    if chosen is None:
        return False, ("MAVE-NN (mavenn) is not importable beside squid-nn here"
                       if backend == "mavenn" else "scikit-learn is not importable beside squid-nn")
    return True, f"squid-nn {_version('squid-nn')} ({chosen})"


def _backend(zoo, backend):
    mavenn = getattr(zoo, "MAVENN_AVAILABLE", False) and getattr(zoo, "TENSORFLOW_AVAILABLE", False)
    ridge = getattr(zoo, "SKLEARN_AVAILABLE", False)
    if backend == "mavenn" or (backend == "auto" and mavenn):
        return "mavenn" if mavenn else None
    return "ridge" if ridge else None


def squid_additive(x, y, *, backend="auto", seed=0):
    """SQUID's additive surrogate fitted to ``(x, y)``: its ``(L, 4)`` matrix, zero-mean per position.

    Args:
        x: one-hot ``(n, L, 4)`` in ACGT order (e.g. a mutagenesis library).
        y: the model's outputs ``(n,)``.
        backend: see :func:`available`.
        seed: MAVE-NN only: seeds its data split (SQUID draws it from NumPy's global
            generator, whose state is restored afterwards).

    Returns:
        ``(matrix (L, 4), backend)``.

    Raises:
        ImportError: with the reason, when SQUID (or the backend) cannot run.
    """
    ok, why = available(backend)
    if not ok:
        raise ImportError(why)
    zoo = importlib.import_module("squid.surrogate_zoo")
    chosen = _backend(zoo, backend)
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if x.ndim != 3 or x.shape[-1] != 4 or len(x) != len(y):
        raise ValueError(f"`x` must be one-hot (n, L, 4) with one `y` per row. "
                         f"Received: x.shape={x.shape}, y.shape={y.shape}")
    if chosen == "ridge":
        sur = zoo.SurrogateRidgeCV(x.shape, 1, gpu=False, deduplicate=False)
        sur.train(x, y, verbose=0)
    else:
        state = np.random.get_state()
        np.random.seed(int(seed))  # SQUID's split uses the legacy global generator
        try:
            sur = zoo.SurrogateMAVENN(x.shape, 1, gpmap="additive", regression_type="GE",
                                      linearity="nonlinear", noise="SkewedT", noise_order=2, gpu=False)
            sur.train(x, y, epochs=100, verbose=0)
        finally:
            np.random.set_state(state)
    theta = np.asarray(sur.get_params(gauge="empirical")[1], dtype=np.float64).reshape(x.shape[1], 4)
    return theta - theta.mean(1, keepdims=True), chosen


def crosscheck(model, x_ref, *, n_queries=2000, rate=0.1, backend="auto", seed=0, batch_size=512,
               target=None):
    """keras_iml's and SQUID's additive surrogates on one mutagenesis library of ``x_ref[0]``.

    Args:
        model: a Keras model taking one-hot ``(N, L, 4)`` (ACGT order).
        x_ref: one-hot ``(M, L, 4)``; mutants of the first sequence are drawn.
        n_queries: mutants queried.
        rate: per-position mutation probability.
        backend: SQUID backend (see :func:`available`).
        seed: seed of the library (and of MAVE-NN's split).
        batch_size: sequences per model call.
        target: which output (see ``keras_iml.Explainer``).

    Returns:
        dict ``ours`` and ``squid`` (``(L, 4)`` matrices, zero-mean per position),
        ``pearson`` (their correlation), ``backend`` and ``n``.

    Raises:
        ImportError: when SQUID cannot run here (the message says why).
    """
    ok, why = available(backend)
    if not ok:
        raise ImportError(why)
    x_ref = np.asarray(x_ref, dtype=np.float32)[:1]
    queries = libraries_lib.get("mutagenesis", rate=rate).sample(x_ref, n_queries, np.random.default_rng(seed))
    y = Explainer(model, target=target).predict(queries.x, batch_size=batch_size).astype(np.float64).reshape(-1)
    ours = models_lib.get("additive").fit(queries.x, y).matrix_
    theirs, chosen = squid_additive(queries.x, y, backend=backend, seed=seed)
    pearson = float(np.corrcoef(ours.ravel(), theirs.ravel())[0, 1])
    return {"ours": ours, "squid": theirs, "pearson": pearson, "backend": chosen, "n": len(y)}
