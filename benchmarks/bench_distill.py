"""Benchmark: ``keras_iml.distill`` of a Basset-like 200-bp model over 50,000 queries.

Trains a Basset-like CNN on the TF-binding benchmark (CTCF; ``--epochs 0`` keeps the
seeded random weights), then distils it with the default libraries (the implant
library with CTCF) and the default surrogates (additive, k-mer) of its logit, in a fresh process
per query count so that each peak memory is its own: the distillation is timed
after a warm-up call (tracing), then run again under ``tracemalloc`` (Python and
numpy allocations). Memory must be flat in the number of queries (everything is
streamed), so the figures at ``--small`` and ``--n`` queries should match.

Target (issue 14): < 60 s on 2 CPU cores for 50,000 queries.

Usage: ``python benchmarks/bench_distill.py [--n 50000] [--small 10000] [--epochs 3] [--out FILE]``.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MOTIFS = {"CTCF": "MA0139.2"}


def _rss_mb(field):
    """``VmRSS`` / ``VmHWM`` of this process in MB (Linux), or None."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def prepare(args):
    """Builds (and trains) the model and saves it to ``args.model``."""
    from keras_iml.datasets import make_tf_binding
    from keras_iml.models import basset_like, evaluate, train

    model = basset_like(args.length, seed=0)
    auroc, seconds = None, 0.0
    if args.epochs:
        data = make_tf_binding(args.n_train + 1000, args.length, grammar="single", seed=0)
        t0 = time.perf_counter()
        train(model, data.x[: args.n_train], data.y[: args.n_train], epochs=args.epochs, seed=0, verbose=0)
        seconds = time.perf_counter() - t0
        auroc = evaluate(model, data.x[args.n_train :], data.y[args.n_train :])["auroc"]
    model.save(args.model)
    print(json.dumps({"auroc": auroc, "train_seconds": round(seconds, 1)}))


def child(args):
    """Times one distillation of ``args.child`` queries and measures its memory."""
    import tracemalloc

    import keras

    import keras_iml

    model = keras.saving.load_model(args.model)
    kwargs = dict(motifs=MOTIFS, seed=0, batch_size=args.batch_size, logit=True, verbose=0)
    keras_iml.distill(model, n_queries=600, **kwargs)  # warm-up: traces the model function
    rss_before = _rss_mb("VmRSS")
    t0 = time.perf_counter()
    result = keras_iml.distill(model, n_queries=args.child, **kwargs)
    seconds = time.perf_counter() - t0
    hwm_after = _rss_mb("VmHWM")
    tracemalloc.start()
    keras_iml.distill(model, n_queries=args.child, **kwargs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    kept = sum(t.memory_usage(deep=True).sum() for t in result.responses.values())
    print(json.dumps({
        "n_queries": args.child, "seconds": round(seconds, 2),
        "queries_per_s": round(args.child / seconds, 1),
        "timings": result.params["timings"],
        "tracemalloc_peak_mb": round(peak / 2**20, 1),
        "rss_before_mb": rss_before, "peak_rss_mb": hwm_after,
        "responses_mb": round(kept / 2**20, 2),
        "responses_rows": {k: len(v) for k, v in result.responses.items()},
        "fidelity": result.fidelity.round(4).to_dict(orient="records"),
    }))


def _run(argv):
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), *argv], capture_output=True,
                          text=True, cwd=REPO, timeout=3600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        raise RuntimeError(f"{argv} failed:\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50000, help="queries of the timed run")
    parser.add_argument("--small", type=int, default=10000, help="queries of the memory comparison run")
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=3, help="training epochs (0: random weights)")
    parser.add_argument("--n-train", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "distill_results.json"))
    parser.add_argument("--model", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare:
        return prepare(args)
    if args.child is not None:
        return child(args)

    # This process imports neither TensorFlow nor keras_iml: each child's peak RSS is its own.
    with tempfile.TemporaryDirectory() as tmp:
        model_path = os.path.join(tmp, "basset_like.keras")
        common = ["--model", model_path, "--length", str(args.length), "--batch-size", str(args.batch_size)]
        trained = _run(["--prepare", "--epochs", str(args.epochs), "--n-train", str(args.n_train), *common])
        print(f"model: {trained}")
        runs = {}
        for n in (args.small, args.n):
            runs[str(n)] = _run(["--child", str(n), *common])
            r = runs[str(n)]
            print(f"{n} queries: {r['seconds']} s ({r['queries_per_s']} queries/s), tracemalloc peak "
                  f"{r['tracemalloc_peak_mb']} MB, peak RSS {r['peak_rss_mb']:.0f} MB "
                  f"(before {r['rss_before_mb']:.0f} MB), steps {r['timings']}")
    small, large = runs[str(args.small)], runs[str(args.n)]
    out = {
        "model": {"architecture": "basset_like", "length": args.length, "epochs": args.epochs, **trained},
        "motifs": MOTIFS, "runs": runs,
        "target_seconds": 60, "target_met": large["seconds"] < 60,
        "memory_ratio_tracemalloc": round(large["tracemalloc_peak_mb"] / max(small["tracemalloc_peak_mb"], 1e-9), 2),
        "memory_ratio_peak_rss": round(large["peak_rss_mb"] / small["peak_rss_mb"], 2)
        if large["peak_rss_mb"] and small["peak_rss_mb"] else None,
        "cpu_count": os.cpu_count(), "load_average": list(os.getloadavg()),
        "python": platform.python_version(),
    }
    tmp_out = f"{args.out}.tmp-{os.getpid()}"
    with open(tmp_out, "w") as fh:
        fh.write(json.dumps(out, indent=2))
    os.replace(tmp_out, args.out)
    print(f"target < 60 s for {args.n} queries: {'met' if out['target_met'] else 'NOT met'}; memory ratio "
          f"{args.n} vs {args.small} queries: tracemalloc {out['memory_ratio_tracemalloc']}, "
          f"peak RSS {out['memory_ratio_peak_rss']}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
