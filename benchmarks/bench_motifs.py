"""Benchmark: motif discovery (TF-MoDISco + TOMTOM vs JASPAR) on 2,000 sequences x one method.

Generates the TF-binding benchmark (CTCF as the causal motif, decoys planted at
random), builds the model to explain (``--model trained``: a small Basset-like CNN
trained for a few epochs; ``--model pwm``: the PWM oracle scanning the true motif),
explains ``--n`` sequences with one method, then times
:func:`keras_iml.motifs.discover` (JASPAR loaded once beforehand, as a caller that
reuses the database would). The discovery time includes TF-MoDISco's numba
compilation (modiscolite does not cache it, so every process pays it); the TOMTOM
kernel is read from ``NUMBA_CACHE_DIR`` when warm, and the first-ever compile is
reported separately by running a tiny TOMTOM call first.

Target (issue 7): <= 2 minutes on 2 CPU cores for 2,000 sequences.

Usage: ``python benchmarks/bench_motifs.py [--n 2000] [--length 1000] [--window 400]
[--model trained|pwm] [--method saliency] [--out FILE]``.
"""

import argparse
import json
import os
import platform
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _model(kind, data, n_train, length, epochs):
    from keras_iml.models import basset_like, evaluate, train
    from keras_iml.models.pwm import pwm_model

    if kind == "pwm":
        return pwm_model(data.motifs[data.true_motif_ids[0]].pfm, length), None, 0.0
    model = basset_like(length, filters=(64, 64), kernel_sizes=(19, 7), pool_sizes=(4, 4), seed=0)
    t0 = time.perf_counter()
    train(model, data.x[:n_train], data.y[:n_train], epochs=epochs, verbose=0)
    seconds = time.perf_counter() - t0
    held = slice(n_train, None)
    return model, evaluate(model, data.x[held], data.y[held])["auroc"], seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="sequences given to discovery")
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--window", type=int, default=400,
                        help="central window used by TF-MoDISco (0: whole sequences)")
    parser.add_argument("--model", choices=("trained", "pwm"), default="trained")
    parser.add_argument("--n-train", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--method", default="saliency")
    parser.add_argument("--max-seqlets", type=int, default=None,
                        help="TF-MoDISco seqlets per sign (default: discover()'s)")
    parser.add_argument("--neighbors", type=int, default=None,
                        help="TF-MoDISco nearest_neighbors_to_compute (default: discover()'s)")
    parser.add_argument("--threads", type=int, default=None, help="numba threads")
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "motifs_results.json"))
    args = parser.parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf

    import keras_iml
    from keras_iml.io import atomic_write
    from keras_iml.datasets import make_tf_binding
    from keras_iml.motifs import load_jaspar, motif_recovery, tomtom

    n_train = args.n_train if args.model == "trained" else 0
    data = make_tf_binding(n_train + args.n, args.length, grammar="single", seed=0)
    model, auroc, train_seconds = _model(args.model, data, n_train, args.length, args.epochs)
    if auroc is not None:
        print(f"trained in {train_seconds:.0f} s; held-out AUROC {auroc:.3f}")
    x = data.x[n_train:]

    t0 = time.perf_counter()
    db = load_jaspar()
    jaspar_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    tomtom([db.pfms[0]], db, top_n=1)  # compiles TOMTOM once (or loads it from the cache)
    tomtom_first_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    attr = keras_iml.explain(model, x, args.method, seed=0, verbose=0)
    explain_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    options = {} if args.max_seqlets is None else {"max_seqlets": args.max_seqlets}
    if args.neighbors is not None:
        options["modisco_options"] = {"nearest_neighbors_to_compute": args.neighbors}
    result = motif_recovery({args.method: attr}, database=db, expected=data.true_motif_ids,
                            decoys=data.decoy_motif_ids, window=args.window or None,
                            n_threads=args.threads, seed=0, verbose=1, **options)
    seconds = time.perf_counter() - t0
    patterns = result.patterns
    settings = result.settings[args.method]
    steps = settings.get("seconds", {})
    print(f"\nmotif discovery: {args.n} x {args.length} bp (window {args.window or 'all'}), "
          f"{args.method}: {seconds:.1f} s (target <= 120 s on 2 cores); steps {steps}")
    print(f"JASPAR load {jaspar_seconds:.1f} s, first TOMTOM call {tomtom_first_seconds:.1f} s, "
          f"explain {explain_seconds:.1f} s")
    print(patterns[["pattern", "n_seqlets", "best_match_name", "q_value", "shuffle_p",
                    "status"]].to_string())
    print(result)
    out = {
        "n_sequences": args.n, "length": args.length, "window": args.window, "model": args.model,
        "method": args.method, "modisco": settings.get("modisco"), "model_auroc": auroc,
        "discover_seconds": round(seconds, 2), "steps": steps,
        "jaspar_seconds": round(jaspar_seconds, 2),
        "tomtom_first_call_seconds": round(tomtom_first_seconds, 2),
        "explain_seconds": round(explain_seconds, 2), "train_seconds": round(train_seconds, 1),
        "patterns": patterns[["pattern", "n_seqlets", "best_match", "best_match_name", "q_value",
                              "shuffle_p", "status"]].to_dict(orient="records"),
        "summary": result.summary.to_dict(orient="records"),
        "cpu_count": os.cpu_count(), "load_average": list(os.getloadavg()),
        "python": platform.python_version(), "tensorflow": tf.__version__,
        "keras": keras.__version__, "numpy": np.__version__,
    }
    atomic_write(args.out, lambda tmp: open(tmp, "w").write(json.dumps(out, indent=2, default=str)))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
