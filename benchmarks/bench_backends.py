"""Benchmark: saliency, integrated gradients and ISM on each Keras 3 backend.

The Basset-like 1-kb CNN of ``cases.py`` (the same seeded weights on every backend)
is explained by ``keras_iml.Explainer`` under ``KERAS_BACKEND=tensorflow``, ``jax``
and ``torch``, each backend in its own process (Keras picks its backend at import).
Each case is warmed up (traced/compiled) on the same batch first, then timed
``--repeats`` times; the median wall time gives sequences per second. The values of
the three backends are compared on the way (max |difference| against TensorFlow).

Usage: ``python benchmarks/bench_backends.py [--repeats 3] [--out FILE]``.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BACKENDS = ("tensorflow", "jax", "torch")
#: (method, options, sequences) per case.
CASES = (("saliency", {}, 256), ("integrated_gradients", {"steps": 32}, 64), ("ism", {}, 16))


def _one_backend(repeats, values_path):
    """Runs in a child process with KERAS_BACKEND set; prints one JSON line."""
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.dirname(HERE))
    import keras
    import numpy as np

    import keras_iml
    from cases import data, keras_model

    model = keras_model()
    explainer = keras_iml.Explainer(model)
    out, values = {"backend": keras.backend.backend(), "cases": {}}, {}
    for name, options, n in CASES:
        x = data(n)
        method = keras_iml.methods.get(name, **options)
        explainer.run(method, x, seed=0, verbose=0)  # warm-up: trace / compile
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            attr = explainer.run(method, x, seed=0, verbose=0)
            times.append(time.perf_counter() - t0)
        seconds = float(np.median(times))
        out["cases"][name] = {"n": n, "seconds": round(seconds, 4), "seq_per_s": round(n / seconds, 2)}
        values[name] = attr.values
    np.savez(values_path, **values)
    print(json.dumps(out))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(HERE, "backends_results.json"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _one_backend(args.repeats, args.child)
        return 0

    import tempfile

    import numpy as np

    results, values = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in BACKENDS:
            path = os.path.join(tmp, f"{backend}.npz")
            env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
            proc = subprocess.run([sys.executable, __file__, "--child", path, "--repeats",
                                   str(args.repeats)], env=env, capture_output=True, text=True)
            line = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith("{")), None)
            if proc.returncode or line is None:
                results[backend] = {"error": (proc.stderr or proc.stdout)[-800:]}
                print(f"{backend}: failed\n{results[backend]['error']}")
                continue
            results[backend] = json.loads(line)
            with np.load(path) as data:
                values[backend] = {k: data[k] for k in data.files}
    base = results.get("tensorflow", {}).get("cases", {})
    print(f"{'method':22s} " + " ".join(f"{b:>22s}" for b in BACKENDS))
    for name, _, _ in CASES:
        cells = []
        for backend in BACKENDS:
            case = results.get(backend, {}).get("cases", {}).get(name)
            if case is None:
                cells.append(f"{'—':>22s}")
                continue
            ratio = case["seq_per_s"] / base[name]["seq_per_s"] if name in base else float("nan")
            if backend in values and "tensorflow" in values:
                case["max_abs_diff_vs_tensorflow"] = float(
                    np.abs(values[backend][name] - values["tensorflow"][name]).max())
            case["vs_tensorflow"] = round(ratio, 2)
            cells.append(f"{case['seq_per_s']:10.1f} seq/s {ratio:5.2f}x")
        print(f"{name:22s} " + " ".join(cells))
    payload = {"python": platform.python_version(), "cpu_count": os.cpu_count(),
               "repeats": args.repeats, "results": results}
    sys.path.insert(0, os.path.dirname(HERE))
    from keras_iml.io import atomic_write

    atomic_write(args.out, lambda tmp: open(tmp, "w").write(json.dumps(payload, indent=2)))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
