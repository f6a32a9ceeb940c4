"""Benchmark: ``keras_iml.validate`` on 1,000 sequences x every default method.

Trains a demo-like Basset model (the demo's default architecture) on the
ground-truth TF-binding benchmark for a few epochs, then validates ``--n`` held-out
sequences with the default protocol (every default method, every metric that has
its inputs: ground truth, the true motifs, an ensemble when ``--ensemble > 0``).
Prints the wall time of the validation with the per-method explain time and the
per-metric time (from ``report.provenance["seconds"]``) and writes them as JSON.

Target (issue 4): <= 3 minutes on 2 CPU cores for 1,000 sequences.

Usage: ``python benchmarks/bench_validate.py [--n 1000] [--length 200] [--out FILE]``.
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="sequences validated")
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--n-train", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--ensemble", type=int, default=0, help="extra models for ensemble stability")
    parser.add_argument("--protocol", default="default")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the runs without control arms (same process)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternating runs without / with control arms; the fastest of each is kept")
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "validate_results.json"))
    args = parser.parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf

    import keras_iml
    from keras_iml.io import atomic_write
    from keras_iml.validation import Protocol
    from keras_iml.datasets import make_tf_binding
    from keras_iml.models import basset_like, evaluate, train_ensemble

    data = make_tf_binding(args.n_train + args.n, args.length, grammar="single", seed=0)
    train_x, train_y = data.x[: args.n_train], data.y[: args.n_train]
    held = data.subset(np.arange(args.n_train, args.n_train + args.n))
    builder = lambda seed: basset_like(args.length, filters=(64, 64), kernel_sizes=(19, 7),  # noqa: E731
                                       pool_sizes=(2, 2), seed=seed)
    t0 = time.perf_counter()
    models, _ = train_ensemble(builder, train_x, train_y, k=1 + args.ensemble, seed=0,
                               epochs=args.epochs, patience=1, verbose=0)
    train_seconds = time.perf_counter() - t0
    model = models[0]
    auroc = evaluate(model, held.x, held.y)["auroc"]
    print(f"trained {len(models)} model(s) in {train_seconds:.0f} s; held-out AUROC {auroc:.3f}")

    def run(controls):
        proto = Protocol.from_any(args.protocol).replace(controls=controls)
        t0 = time.perf_counter()
        rep = keras_iml.validate(
            model, held.x, held.y, ground_truth=held.ground_truth, motifs=held.true_motif_ids,
            ensemble=models[1:] or None, protocol=proto, seed=0, verbose=1,
        )
        return rep, time.perf_counter() - t0

    # Without control arms (the figure before issue 13) and with them (the default),
    # alternating in one process so that warm-up favours neither; the fastest run of
    # each is kept, and the ratio is the cost of the control arms.
    baseline, seconds, report = None, None, None
    for _ in range(max(1, args.rounds)):
        if not args.no_baseline:
            _, t = run(False)
            baseline = t if baseline is None else min(baseline, t)
            print(f"\nvalidate without control arms: {t:.1f} s")
        rep, t = run(True)
        print(f"\nvalidate with control arms: {t:.1f} s")
        if seconds is None or t < seconds:
            report, seconds = rep, t
    timings = report.provenance["seconds"]
    print(f"\nvalidate: {args.n} sequences x {len(report.verdict)} methods with control arms "
          f"in {seconds:.1f} s (target <= 180 s on 2 cores"
          + (f"; {seconds / baseline:.2f}x the run without arms, target <= 2x)" if baseline else ")"))
    for kind in ("explain", "metrics"):
        for name, value in sorted(timings[kind].items(), key=lambda kv: -kv[1]):
            print(f"  {kind:8s} {name:28s} {value:8.2f} s")
    print(report)
    result = {
        "n_sequences": args.n, "length": args.length, "methods": list(report.verdict.index),
        "protocol": args.protocol, "validate_seconds": round(seconds, 2), "timings": timings,
        "validate_seconds_without_controls": None if baseline is None else round(baseline, 2),
        "controls_ratio": None if baseline is None else round(seconds / baseline, 2),
        "controls": report.controls.astype(str).to_dict(orient="records"),
        "train_seconds": round(train_seconds, 1), "model_auroc": auroc,
        "cpu_count": os.cpu_count(), "python": platform.python_version(),
        "tensorflow": tf.__version__, "keras": keras.__version__,
        "verdict": report.verdict.to_dict(orient="index"),
        "failed": report.failed.to_dict(orient="records"),
        "summary": report.to_dict()["summary"],
    }
    atomic_write(args.out, lambda tmp: open(tmp, "w").write(json.dumps(result, indent=2)))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
