"""Validating one model of a batch: load, check, explain, validate, one row.

For each model :func:`validate_model` loads it, checks its output against the
description (shape, finite values, and Kipoi's ``test.expect`` predictions when that
file is in the cache), builds evaluation sequences (a site sampled from its TF's
JASPAR motif planted in each genome-like dinucleotide-shuffled background, with a
ground-truth mask), measures whether planting raised the output, and runs
:func:`keras_iml.validate` with the protocol. It never raises: a failure becomes a row
with status ``weights-unavailable``, ``unsupported-layer`` or ``failed`` and the
reason (:func:`status_of`). :func:`keras_iml.zoo.batch.executors.run_batch` runs a
list of models with a local or Ray executor and writes each row as it completes (see
:mod:`keras_iml.zoo.batch.results`), so a killed run resumes with nothing lost or
duplicated.
"""

import dataclasses
import os
import pathlib
import time
import traceback

import h5py
import numpy as np

from keras_iml.datasets.background import dinuc_codes, iid_codes
from keras_iml.datasets.planting import plant_site
from keras_iml.models.pwm import load_motifs
from keras_iml.schema import TIERS
from keras_iml.validation import validate
from keras_iml.zoo.batch.results import ResultsStore
from keras_iml.zoo.load import load
from keras_iml.zoo.sources.errors import UnsupportedLayerError, WeightsUnavailableError
from keras_iml.zoo.sources.spec import read_spec
from keras_iml.zoo.sources.store import WeightStore

__all__ = ["BatchSettings", "evaluation_set", "validate_model", "check_expect", "status_of",
           "results_path", "open_results"]

#: Row status of a model whose loading raised each error type (first match wins, in order).
_STATUS = (
    (WeightsUnavailableError, "weights-unavailable"),
    (UnsupportedLayerError, "unsupported-layer"),
)


@dataclasses.dataclass
class BatchSettings:
    """Settings shared by every model of a batch (picklable, for worker processes).

    Attributes:
        source: the Kipoi source directory.
        n_sequences: evaluation sequences per model.
        input_length: sequence length (None: each model's own).
        protocol: validation protocol (None: the default; ``"quick"``; a dict).
        seed: seed of the backgrounds, planted sites and validation.
        background: ``"dinuc"`` (shuffles of genome-like Markov sequences) or ``"iid"``.
        gc: GC content of the backgrounds.
        target: output column explained for multi-output models.
        batch_size: explanation batch size.
        cache_dir, offline: passed to :func:`keras_iml.zoo.load`.
    """

    source: str = None
    n_sequences: int = 32
    input_length: int = None
    protocol: object = None
    seed: int = 0
    background: str = "dinuc"
    gc: float = 0.41
    target: int = 0
    batch_size: int = 128
    cache_dir: str = None
    offline: bool = None

    def __post_init__(self):
        if isinstance(self.n_sequences, bool) or not isinstance(self.n_sequences, int) \
                or self.n_sequences < 2:
            raise ValueError(f"`n_sequences` must be an int >= 2. Received: {self.n_sequences!r}")
        if self.background not in ("dinuc", "iid"):
            raise ValueError(f"`background` must be 'dinuc' or 'iid'. Received: {self.background!r}")


def status_of(error):
    """The batch-validation status for an exception raised while loading: a string."""
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return "failed"


def evaluation_set(motif_id, length, n, seed, background="dinuc", gc=0.41):
    """Backgrounds and the same backgrounds with one planted site each.

    Args:
        motif_id: JASPAR ID (or ``(W, 4)`` PFM) of the site to plant, or None.
        length, n: sequence length and count.
        seed: seed of the backgrounds and of the sites.
        background: ``"dinuc"`` or ``"iid"``; gc: their GC content.

    Returns:
        ``(x_background, x_planted, mask)``: one-hot arrays ``(n, length, 4)`` and the
        ``(n, length)`` int8 mask of planted positions (None without a motif, or when
        the motif is longer than the sequences; ``x_planted`` is then the background).
    """
    rng = np.random.default_rng([int(seed), 7])
    codes = dinuc_codes(n, length, rng, gc=gc) if background == "dinuc" else iid_codes(n, length, gc, rng)
    x_bg = np.eye(4, dtype=np.float32)[codes]
    if motif_id is None:
        return x_bg, x_bg, None
    pfm = load_motifs([motif_id], name="motif")[0][1]
    if len(pfm) > length:
        return x_bg, x_bg, None
    x, starts, _ = plant_site(x_bg, pfm, np.random.default_rng([int(seed), 11]))
    mask = np.zeros((n, length), dtype=np.int8)
    for i, start in enumerate(starts):
        mask[i, start : start + len(pfm)] = 1
    return x_bg, x, mask


def check_expect(model, path, decimals=4):
    """Compares a model with Kipoi's expected predictions (``test.expect`` HDF5).

    The file holds ``inputs`` (one array for single-input models) and ``preds``.

    Returns:
        ``(ok, max_abs_diff)``.
    """
    with h5py.File(path, "r") as handle:
        inputs = handle["inputs"]
        x = np.asarray(inputs if isinstance(inputs, h5py.Dataset) else inputs[sorted(inputs)[0]])
        preds = np.asarray(handle["preds"])
    got = _predict(model, x.astype(np.float32), 128).reshape(preds.shape)
    diff = float(np.max(np.abs(got - preds))) if preds.size else 0.0
    return diff <= 1.5 * 10.0 ** (-decimals), diff


def _predict(model, x, batch):
    """Eager calls in chunks (``predict`` would build and trace a new function per model)."""
    out = np.concatenate([np.asarray(model(x[i : i + batch], training=False))
                          for i in range(0, len(x), batch)])
    return out.reshape(len(x), -1)


def _checks(iml, spec_outputs, x_bg, x, target, batch, cached_expect):
    pb, pp = _predict(iml, x_bg, batch), _predict(iml, x, batch)
    row = {"n_outputs": pp.shape[1], "output_finite": bool(np.isfinite(pp).all())}
    row["output_shape_ok"] = spec_outputs in (None, pp.shape[1])
    if target >= pp.shape[1]:
        raise ValueError(f"`target` {target} does not exist: the model has {pp.shape[1]} outputs.")
    row["motif_raise"] = float(np.mean(pp[:, target] > pb[:, target])) if x is not x_bg else None
    row["motif_effect"] = float(np.median(pp[:, target] - pb[:, target])) if x is not x_bg else None
    if cached_expect is not None:
        row["expect_ok"], row["expect_max_abs_diff"] = check_expect(iml, cached_expect)
    if not row["output_finite"]:
        raise ValueError("The model produced non-finite outputs on the evaluation sequences.")
    if not row["output_shape_ok"]:
        raise ValueError(f"The model has {pp.shape[1]} outputs; its description says {spec_outputs}.")
    return row


def _flatten_report(report):
    """A model's row (its verdicts as records under ``"verdicts"``) and its metric rows."""
    row = {"passed": bool(report.passed)}
    verdicts = [{"label": method, "kind": "method", "expect": None, "tier": tier, "verdict": value}
                for method, tiers in report.verdict.iterrows() for tier, value in tiers.items()]
    verdicts += [{"label": arm["arm"], "kind": arm["kind"], "expect": arm.get("expect"), "tier": tier,
                  "verdict": arm.get(tier)}  # the control arms' own verdicts
                 for arm in report.controls.to_dict("records") for tier in TIERS]
    row["verdicts"] = verdicts
    weak = report.tables.get("uninformative")
    row["uninformative"] = ";".join(weak["metric"]) if weak is not None and len(weak) else ""
    for kind, timings in (report.provenance.get("seconds") or {}).items():
        for label, seconds in timings.items():
            row[f"t_{kind}|{label}"] = seconds
    metrics = report.summary.to_dict("records")
    return row, metrics


def validate_model(name, settings, pool=None):
    """Loads and validates one model; never raises.

    Args:
        name: the zoo name.
        settings: a :class:`BatchSettings` (or a dict of its fields).
        pool: optional :class:`~keras_iml.zoo.batch.pool.ModelPool` kept by the caller
            across models: models of an architecture seen before reuse its
            compiled functions (same results, no tracing).

    Returns:
        ``(row, metrics)``: the model's row (a dict with ``status`` and ``reason``) and
        its validation summary rows (list of dicts).
    """
    if isinstance(settings, dict):
        settings = BatchSettings(**settings)
    row = {"name": name, "family": name.split("/")[0], "tf": None, "jaspar_id": None,
           "status": "ok", "reason": ""}
    t0, cpu0 = time.perf_counter(), time.process_time()
    stage = "load"
    try:
        iml = load(name, source=settings.source, input_length=settings.input_length,
                   cache_dir=settings.cache_dir, offline=settings.offline)
        meta = iml.metadata
        row.update(family=meta.get("family"), tf=";".join(meta.get("tf") or []) or None,
                   input_length=meta.get("input_length"), seconds_load=time.perf_counter() - t0)
        motif = (meta.get("jaspar_ids") or [None])[0]
        row["jaspar_id"] = motif
        stage = "checks"
        t1 = time.perf_counter()
        x_bg, x, mask = evaluation_set(motif, int(meta["input_length"]), settings.n_sequences,
                                       settings.seed, settings.background, settings.gc)
        spec = read_spec(name, settings.source) if settings.source else None
        expect = None
        if spec is not None and spec.test_expect is not None:
            path = WeightStore(settings.source, settings.cache_dir).cache_path(name, "expect", ".h5")
            expect = path if path.is_file() else None
        row.update(_checks(iml, spec.n_outputs if spec else None, x_bg, x, settings.target,
                           settings.batch_size, expect))
        row["seconds_checks"] = time.perf_counter() - t1
        stage = "validate"
        t2 = time.perf_counter()
        multi = row["n_outputs"] > 1
        model, cache = pool.adopt(iml.model) if pool is not None else (iml.model, None)
        report = validate(model, x, ground_truth=mask, motifs=[motif] if mask is not None else None,
                          protocol=settings.protocol, seed=settings.seed, verbose=0,
                          batch_size=settings.batch_size, target=settings.target if multi else None,
                          cache=cache)
        row["seconds_validate"] = time.perf_counter() - t2
        flat, metrics = _flatten_report(report)
        row.update(flat)
    except Exception as err:  # noqa: BLE001 - every failure becomes a row
        row["status"] = status_of(err) if stage == "load" else "failed"
        row["reason"] = f"{stage}: {type(err).__name__}: {err}"[:2000]
        if row["status"] == "failed":
            row["traceback"] = traceback.format_exc(limit=6)[-4000:]
        metrics = []
    row["seconds_total"] = time.perf_counter() - t0
    row["cpu_seconds"] = time.process_time() - cpu0  # this process's CPU time (all its threads)
    return row, metrics


def results_path(out_dir):
    """The results table of a batch output directory."""
    return pathlib.Path(out_dir) / "results.sqlite"


def open_results(out_dir, resume):
    """The :class:`ResultsStore` of ``out_dir``; refuses to mix runs without ``resume``."""
    path = results_path(out_dir)
    if path.exists() and not resume:
        store = ResultsStore(path)
        if store.done():
            raise ValueError(f"{os.fspath(path)} already holds results; pass resume=True (--resume) "
                             "to continue that run, or choose another output directory.")
        return store
    return ResultsStore(path)
