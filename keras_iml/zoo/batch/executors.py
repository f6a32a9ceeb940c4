"""Running batch validation over many models: local (in process or worker processes) or Ray.

Every worker (a process fed from its own queue, or a Ray actor) keeps a
:class:`~keras_iml.zoo.batch.pool.ModelPool` for its whole life, so each architecture is
traced once per worker rather than once per model; local workers are handed models
of the architectures they already hold (:mod:`keras_iml.zoo.batch.dispatch`).

:func:`run_batch` skips models already in the results table when resuming, submits
the others to the executor, and writes each model's row in one transaction as soon as
it completes (only this process writes the table). At the end it writes
``results.csv`` (one row per model, every metric as a column) and ``summary.html``.
"""

import dataclasses
import multiprocessing
import os
import queue

from keras_iml.io import atomic_write
from keras_iml.zoo.batch.dispatch import Dispatcher, architecture_hints
from keras_iml.zoo.batch.pool import ModelPool
from keras_iml.zoo.batch.summary import write_summary
from keras_iml.zoo.batch.validate_one import BatchSettings, open_results, validate_model

__all__ = ["run_batch", "EXECUTORS"]


def _init_worker(threads):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    # Worker processes belong to the batch: TensorFlow's "triggered tf.function
    # retracing" notices (one trace per pooled architecture, by design) are noise there.
    tf.get_logger().setLevel("ERROR")


def _worker_loop(settings_dict, tasks, results, threads, worker_id):
    """A worker process: validates the names it takes from ``tasks`` with its own pool."""
    _init_worker(threads)
    settings, pool = BatchSettings(**settings_dict), ModelPool()
    for name in iter(tasks.get, None):
        results.put(("start", worker_id, name))
        results.put(("done", worker_id, *validate_model(name, settings, pool=pool)))


def _died_row(name, reason):
    row = {"name": name, "family": name.split("/")[0], "status": "failed", "reason": reason}
    return row, []


def _local(names, settings, n_workers, address, on_result):  # noqa: ARG001
    """Worker processes, each with a :class:`ModelPool` for its life and its own queue.

    A :class:`~keras_iml.zoo.batch.dispatch.Dispatcher` picks each worker's next model
    (the architectures it already holds first), one model ahead of the one it runs.
    A worker that dies (e.g. killed for memory) gets its current model reported as
    ``failed`` with the exit code, and is replaced (reading the same queue).
    """
    if n_workers <= 1:
        pool = ModelPool()
        for name in names:
            on_result(*validate_model(name, settings, pool=pool))
        return
    context = multiprocessing.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // n_workers)
    dispatcher = Dispatcher(names, architecture_hints(names))
    results = context.Queue()
    settings_dict = dataclasses.asdict(settings)
    workers, current, queues = {}, {}, {}

    def feed(worker_id):
        queues[worker_id].put(dispatcher.next_for(worker_id))  # None: no more work

    def start(worker_id):
        proc = context.Process(target=_worker_loop, daemon=True,
                               args=(settings_dict, queues[worker_id], results, threads, worker_id))
        proc.start()
        workers[worker_id] = proc

    for worker_id in range(min(n_workers, len(names))):
        queues[worker_id] = context.Queue()
        feed(worker_id)
        feed(worker_id)
        start(worker_id)
    remaining = len(names)
    try:
        while remaining:
            try:
                message = results.get(timeout=1.0)
            except queue.Empty:
                for worker_id, proc in list(workers.items()):
                    if proc.is_alive():
                        continue
                    name = current.pop(worker_id, None)
                    if name is not None:  # died while validating `name`
                        on_result(*_died_row(name, f"worker process died (exit code {proc.exitcode})"))
                        remaining -= 1
                        feed(worker_id)
                        start(worker_id)
                    else:
                        del workers[worker_id]
                if not workers and remaining:
                    raise RuntimeError(f"All worker processes exited with {remaining} models left; "
                                       "run again with resume=True.")
                continue
            if message[0] == "start":
                current[message[1]] = message[2]
            else:
                current.pop(message[1], None)
                on_result(message[2], message[3])
                remaining -= 1
                feed(message[1])
    finally:
        for proc in workers.values():
            if proc.is_alive():
                proc.terminate()
            proc.join(timeout=5)


class _RayWorker:
    """A Ray actor: validates models one at a time with its own :class:`ModelPool`."""

    def __init__(self, settings_dict):
        self.settings, self.pool = BatchSettings(**settings_dict), ModelPool()

    def validate(self, name):
        return validate_model(name, self.settings, pool=self.pool)


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
        actor = ray.remote(num_cpus=1, max_restarts=0)(_RayWorker)
        n_actors = max(1, min(len(names), int(ray.cluster_resources().get("CPU", n_workers or 1))))
        settings_dict = dataclasses.asdict(settings)
        todo, running = Dispatcher(names, architecture_hints(names)), {}  # ref -> (id, actor, name)
        idle = [(i, actor.remote(settings_dict)) for i in range(n_actors)]
        while len(todo) or running:
            while len(todo) and idle:
                worker_id, worker = idle.pop()
                name = todo.next_for(worker_id)
                running[worker.validate.remote(name)] = (worker_id, worker, name)
            ready, _ = ray.wait(list(running), num_returns=1)
            worker_id, worker, name = running.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except ray.exceptions.RayActorError as err:  # the actor died: report, replace
                result = _died_row(name, f"Ray worker died: {type(err).__name__}")
                worker = actor.remote(settings_dict)
            idle.append((worker_id, worker))
            on_result(*result)
    finally:
        if started:
            ray.shutdown()


EXECUTORS = {"local": _local, "ray": _ray}


def run_batch(names, settings, out_dir, *, executor="local", n_workers=1, address=None,
              resume=False, progress=None, summary=True):
    """Validates many zoo models and writes one row per model to ``<out_dir>/results.sqlite``.

    Args:
        names: zoo model names.
        settings: a :class:`~keras_iml.zoo.batch.validate_one.BatchSettings`.
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
        write_summary(store, os.path.join(out_dir, "summary.html"))
    return frame
