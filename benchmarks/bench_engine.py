"""Engine overhead: every gradient method against a plain GradientTape loop, in one process.

Each pair (keras_iml through :class:`keras_iml.Explainer`, and the same computation
written as a plain ``tf.function`` GradientTape loop with the same batch and chunk
sizes) runs in the same process on the Basset-like 1-kb CNN of ``cases.py``: both are
warmed up (traced) first, then timed alternately, ``--repeats`` times each, and the
median wall time of each is kept. The ratio is plain / keras_iml (1.0 = as fast; the
goal is >= 0.9, i.e. within 10 %). keras_iml computes more than the loops (the
convergence delta and hypothetical contributions of reference-based methods): the
loops are what a user would write for the attributions alone.

Usage: ``python benchmarks/bench_engine.py [--n 256] [--repeats 7] [--json out.json]``.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from cases import data, keras_model  # noqa: E402

CHUNK = 64  # interpolated inputs per call, keras_iml's default chunk_size


def _plain(model):
    """Plain GradientTape versions of each method (what a user writes by hand)."""

    @tf.function(reduce_retracing=True)
    def grad(xb):
        with tf.GradientTape() as tape:
            tape.watch(xb)
            y = model(xb, training=False)[:, 0]
        return tape.gradient(y, xb)

    def batched(fn, x, size=128):
        return np.concatenate([fn(x[i : i + size]) for i in range(0, len(x), size)])

    def saliency(x):
        return batched(lambda b: grad(tf.constant(b)).numpy(), x)

    def input_x_gradient(x):
        return batched(lambda b: grad(tf.constant(b)).numpy() * b, x)

    def paths(x, refs, alphas):
        """Mean gradient over the rows ``refs + alphas (x - refs)``, CHUNK rows per call."""
        k = alphas.shape[1]
        rows = (refs[:, None] + alphas[..., None, None] * (x - refs)[:, None]).reshape(-1, *x.shape[1:])
        g = np.concatenate([grad(tf.constant(rows[i : i + CHUNK])).numpy()
                            for i in range(0, len(rows), CHUNK)])
        return g.reshape(len(x), k, *x.shape[1:]).mean(1)

    def integrated_gradients(x, steps=32):
        alphas = np.broadcast_to(((np.arange(steps) + 0.5) / steps).astype("float32"), (len(x), steps))
        out = []
        for i in range(0, len(x), CHUNK // steps):
            xb = x[i : i + CHUNK // steps]
            out.append(paths(xb, np.zeros_like(xb), alphas[: len(xb)]) * xb)
        return np.concatenate(out)

    def expected_gradients(x, k=20, seed=0):
        from keras_iml import dna

        rng = np.random.default_rng(seed)
        refs = dna.dinuc_shuffle(x, rng, n_shuffles=k)  # (N, k, L, 4)
        alphas = rng.uniform(size=(len(x), k)).astype("float32")
        rows = (refs + alphas[..., None, None] * (x[:, None] - refs)).reshape(-1, *x.shape[1:])
        g = np.concatenate([grad(tf.constant(rows[i : i + CHUNK])).numpy()
                            for i in range(0, len(rows), CHUNK)]).reshape(refs.shape)
        return ((x[:, None] - refs) * g).mean(1)

    def smoothgrad(x, n=25, noise=0.1, seed=0):
        rng = np.random.default_rng(seed)
        out = []
        per = max(1, 128 // n)
        for i in range(0, len(x), per):
            xb = x[i : i + per]
            noisy = (xb[:, None] + noise * rng.standard_normal((len(xb), n) + xb.shape[1:])
                     ).astype("float32").reshape(-1, *xb.shape[1:])
            out.append(grad(tf.constant(noisy)).numpy().reshape(len(xb), n, *xb.shape[1:]).mean(1))
        return np.concatenate(out)

    return {"saliency": saliency, "input_x_gradient": input_x_gradient,
            "integrated_gradients": integrated_gradients, "expected_gradients": expected_gradients,
            "smoothgrad": smoothgrad}


CASES = [  # (label, keras_iml method, options, plain key, n divisor)
    ("saliency", "saliency", {}, "saliency", 1),
    ("input_x_gradient", "input_x_gradient", {}, "input_x_gradient", 1),
    ("integrated_gradients (32 steps)", "integrated_gradients", {"steps": 32}, "integrated_gradients", 4),
    ("integrated_gradients (32 steps, fast=False)", "integrated_gradients",
     {"steps": 32, "fast": False}, "integrated_gradients", 4),
    ("expected_gradients (20 references)", "expected_gradients", {"n_references": 20},
     "expected_gradients", 4),
    ("expected_gradients (20 references, convergence=False)", "expected_gradients",
     {"n_references": 20, "convergence": False}, "expected_gradients", 4),
    ("smoothgrad (25 samples)", "smoothgrad", {"n_samples": 25}, "smoothgrad", 4),
]


def _median_time(fn, x, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    import keras_iml

    model = keras_model()
    plain = _plain(model)
    explainer = keras_iml.Explainer(model)
    rows = []
    for label, method, options, key, div in CASES:
        x = data(max(8, args.n // div))

        def ours(xx, method=method, options=options):
            return explainer.run(method, xx, seed=0, verbose=0, **options).values

        for fn in (ours, plain[key]):  # trace and warm up
            fn(x)
        t_ours, t_plain = [], []
        for _ in range(args.repeats):  # alternate, so drifts hit both alike
            t_ours.append(_median_time(ours, x, 1))
            t_plain.append(_median_time(plain[key], x, 1))
        a, b = float(np.median(t_ours)), float(np.median(t_plain))
        rows.append({"method": label, "n": len(x), "keras_iml_ms": round(1000 * a, 1),
                     "plain_tape_ms": round(1000 * b, 1), "ratio": round(b / a, 3)})
        print(json.dumps(rows[-1]), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"cases": rows, "repeats": args.repeats, "tensorflow": tf.__version__}, fh,
                      indent=1)
    return rows


if __name__ == "__main__":
    main()
