"""Batch validation of zoo models: one row per model, resumable, local or on Ray.

* :mod:`~keras_iml.zoo.batch.validate_one`: :class:`BatchSettings` and
  :func:`validate_model` (load, check, explain and validate one model; never raises);
* :mod:`~keras_iml.zoo.batch.executors`: :func:`run_batch` over many models, in
  process, in worker processes or on Ray;
* :mod:`~keras_iml.zoo.batch.dispatch`: which model a worker takes next;
* :mod:`~keras_iml.zoo.batch.pool`: one model and its compiled functions per
  architecture, kept by each worker;
* :mod:`~keras_iml.zoo.batch.results` and :mod:`~keras_iml.zoo.batch.summary`: the
  SQLite results table and its HTML summary.

Example:
    >>> from keras_iml.zoo.batch import BatchSettings, run_batch
    >>> names = keras_iml.zoo.list(family="DeepBind", type="TF")["name"][:10]
    >>> frame = run_batch(names, BatchSettings(source="kipoi-models"), "zoo_out", resume=True)
"""

from keras_iml.zoo.batch.dispatch import Dispatcher, architecture_hints
from keras_iml.zoo.batch.executors import EXECUTORS, run_batch
from keras_iml.zoo.batch.pool import ModelPool, architecture_key
from keras_iml.zoo.batch.results import ResultsStore
from keras_iml.zoo.batch.validate_one import (
    BatchSettings,
    check_expect,
    evaluation_set,
    open_results,
    results_path,
    status_of,
    validate_model,
)

__all__ = [
    "EXECUTORS",
    "BatchSettings",
    "Dispatcher",
    "ModelPool",
    "ResultsStore",
    "architecture_hints",
    "architecture_key",
    "check_expect",
    "evaluation_set",
    "open_results",
    "results_path",
    "run_batch",
    "status_of",
    "validate_model",
]
