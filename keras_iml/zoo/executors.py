"""Running batch validation over many models: local (in process or a process pool) or Ray.

:func:`run_batch` skips models already in the results table when resuming, submits
the others to the executor, and writes each model's row in one transaction as soon as
it completes (only this process writes the table). At the end it writes
``results.csv`` (one row per model, every metric as a column) and ``summary.html``.
"""

import concurrent.futures
import dataclasses
import multiprocessing
import os

from keras_iml.attributions import atomic_write
from keras_iml.zoo.batch import BatchSettings, open_results, validate_model

__all__ = ["run_batch", "EXECUTORS"]


def _init_worker(threads):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def _local(names, settings, n_workers, address, on_result):  # noqa: ARG001
    if n_workers <= 1:
        for name in names:
            on_result(*validate_model(name, settings))
        return
    context = multiprocessing.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // n_workers)
    with concurrent.futures.ProcessPoolExecutor(n_workers, mp_context=context,
                                                initializer=_init_worker, initargs=(threads,)) as pool:
        futures = [pool.submit(validate_model, name, dataclasses.asdict(settings)) for name in names]
        for future in concurrent.futures.as_completed(futures):
            on_result(*future.result())


def _ray(names, settings, n_workers, address, on_result):
    try:
        import ray
    except ImportError:
        raise ValueError("The Ray executor needs `ray` (pip install 'keras-iml[ray]').") from None
    started = not ray.is_initialized()
    if started:
        kwargs = {"address": address} if address else {"num_cpus": max(1, n_workers)}
        ray.init(include_dashboard=False, ignore_reinit_error=True, log_to_driver=False,
                 configure_logging=False, **kwargs)
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(validate_model)
        todo, running = list(names), []
        limit = max(2, 2 * int(ray.cluster_resources().get("CPU", n_workers or 1)))
        settings_dict = dataclasses.asdict(settings)
        while todo or running:
            while todo and len(running) < limit:
                running.append(task.remote(todo.pop(0), settings_dict))
            ready, running = ray.wait(running, num_returns=1)
            on_result(*ray.get(ready[0]))
    finally:
        if started:
            ray.shutdown()


EXECUTORS = {"local": _local, "ray": _ray}


def run_batch(names, settings, out_dir, *, executor="local", n_workers=1, address=None,
              resume=False, progress=None, summary=True):
    """Validates many zoo models and writes one row per model to ``<out_dir>/results.sqlite``.

    Args:
        names: zoo model names.
        settings: a :class:`~keras_iml.zoo.batch.BatchSettings`.
        out_dir: output directory (results table, ``results.csv``, ``summary.html``).
        executor: ``"local"`` or ``"ray"``.
        n_workers: parallel workers (local: processes; ray: CPUs of a local cluster).
        address: a Ray cluster address (``ray.init(address=...)``); None starts a local one.
        resume: continue a run: models with a row are skipped.
        progress: optional callback ``progress(done, total, row)``.
        summary: write ``summary.html`` at the end.

    Returns:
        The results as a DataFrame (one row per model, every metric as a column).

    Example:
        >>> names = keras_iml.zoo.list(family="DeepBind", type="TF")["name"][:10]
        >>> run_batch(names, BatchSettings(source="kipoi-models"), "zoo_out", resume=True)
    """
    if executor not in EXECUTORS:
        raise ValueError(f"`executor` must be one of {sorted(EXECUTORS)}. Received: executor={executor!r}")
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(f"`n_workers` must be a positive int. Received: n_workers={n_workers!r}")
    if not isinstance(settings, BatchSettings):
        raise TypeError(f"`settings` must be a BatchSettings. Received: {type(settings).__name__}")
    names = list(dict.fromkeys(str(n) for n in names))
    store = open_results(out_dir, resume)
    done = store.done()
    todo = [n for n in names if n not in done]
    count = [len(names) - len(todo)]

    def on_result(row, metrics):
        store.write(row, metrics)
        count[0] += 1
        if progress is not None:
            progress(count[0], len(names), row)

    if progress is not None:
        progress(count[0], len(names), None)
    EXECUTORS[executor](todo, settings, n_workers, address, on_result)
    frame = store.wide()
    atomic_write(os.path.join(out_dir, "results.csv"), lambda tmp: frame.to_csv(tmp, index=False))
    if summary:
        from keras_iml.zoo.summary import write_summary

        write_summary(store, os.path.join(out_dir, "summary.html"))
    return frame
