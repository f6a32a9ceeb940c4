"""Runs the attribution benchmark and writes docs/benchmarks.md (and results JSON).

Usage: ``python benchmarks/run.py [--quick] [--out docs/benchmarks.md]``.

Every case runs in a fresh subprocess (benchmarks/cases.py) so its peak RSS is its
own. keras_iml methods and their peers run on the same Basset-like CNN and the same
sequences in the same run, so the ratios compare like with like. Peers that are not
installed (PyTorch tools come from the ``benchmark`` extra) are reported as such.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def atomic_write(path, write_fn):
    """temp file + rename (this script must not import TensorFlow: it would inflate
    the children's max-RSS figures, which Linux carries across fork)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    write_fn(tmp)
    os.replace(tmp, path)

# tangermeme applies DeepLIFT rules only to nn.Module nonlinearities, so its main row
# runs the nn.Sequential twin; the functional twin (torch.relu, F.max_pool1d) is kept
# as a second row: there its rules are silently skipped (everything treated as linear).
TANGERMEME_DLS = "tangermeme deep_lift_shap (20, nn.Module twin)"

# (label, case, n, options). ISM-like cases use fewer sequences: they are slow.
PLAN = [
    ("keras predict", "keras predict", 256, {}),
    ("plain tape saliency", "plain tape saliency", 256, {}),
    ("keras_iml saliency", "keras_iml:saliency", 256, {}),
    ("keras_iml input_x_gradient", "keras_iml:input_x_gradient", 256, {}),
    ("captum Saliency (PyTorch)", "captum Saliency (PyTorch)", 256, {}),
    ("plain tape IG (32 steps)", "plain tape IG (32 steps)", 64, {}),
    ("keras_iml integrated_gradients (32 steps)", "keras_iml:integrated_gradients", 64, {"steps": 32}),
    ("captum IG 32 (PyTorch)", "captum IG 32 (PyTorch)", 64, {}),
    ("tf-explain IG helper (32 steps, no x input)", "tf-explain IG helper (32 steps, no x input)", 64, {}),
    ("keras_iml expected_gradients", "keras_iml:expected_gradients", 64, {}),
    ("keras_iml smoothgrad", "keras_iml:smoothgrad", 64, {}),
    ("shap GradientExplainer (32 samples)", "shap GradientExplainer (32 samples)", 64, {}),
    ("keras_iml deeplift", "keras_iml:deeplift", 256, {}),
    ("keras_iml deeplift_shap (20 refs)", "keras_iml:deeplift_shap", 64, {"n_references": 20}),
    (TANGERMEME_DLS, "tangermeme deep_lift_shap (20)", 32, {}),
    ("tangermeme deep_lift_shap (20), functional twin: rules silently skipped",
     "tangermeme deep_lift_shap (20), functional twin", 32, {}),
    ("shap DeepExplainer (20 refs, MaxPool+Flatten twin)", "shap DeepExplainer (20 refs, MaxPool+Flatten twin)", 32, {}),
    ("keras_iml ism", "keras_iml:ism", 32, {}),
    ("naive batched ISM (predict)", "naive batched ISM (predict)", 4, {}),
    ("tangermeme saturation_mutagenesis", "tangermeme saturation_mutagenesis", 4, {}),
    ("keras_iml occlusion", "keras_iml:occlusion", 16, {}),
    ("keras_iml grad_cam", "keras_iml:grad_cam", 256, {}),
]

RATIOS = [
    ("saliency vs plain tape (target ≥ 0.9×)", "keras_iml saliency", "plain tape saliency", 0.9),
    ("saliency vs captum (target ≥ 2×)", "keras_iml saliency", "captum Saliency (PyTorch)", 2.0),
    ("IG-32 vs plain tape IG (target ≥ 1×)", "keras_iml integrated_gradients (32 steps)", "plain tape IG (32 steps)", 1.0),
    ("DeepLIFT-SHAP vs tangermeme (target ≥ 3×)", "keras_iml deeplift_shap (20 refs)", TANGERMEME_DLS, 3.0),
    ("ISM vs naive predict loop (target ≥ 5×)", "keras_iml ism", "naive batched ISM (predict)", 5.0),
    ("ISM vs tangermeme (target ≥ 5×)", "keras_iml ism", "tangermeme saturation_mutagenesis", 5.0),
]


MARKER = "<!-- other benchmarks: kept by benchmarks/run.py -->"


def run_case(case, n, options, timeout):
    cmd = [sys.executable, os.path.join(HERE, "cases.py"), case, str(n), json.dumps(options)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": tail[0][:160]}
    return json.loads(lines[-1])


def run_distill(n, timeout=1800):
    """benchmarks/bench_distill.py (its own subprocesses), as a row of the throughput table."""
    out = os.path.join(HERE, "distill_results.json")
    cmd = [sys.executable, os.path.join(HERE, "bench_distill.py"), "--n", str(n), "--small", str(max(1, n // 5)),
           "--out", out]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    if proc.returncode or not os.path.exists(out):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": tail[0][:160]}
    with open(out) as fh:
        run = json.load(fh)["runs"][str(n)]
    return {"seq_per_s": run["queries_per_s"], "peak_rss_mb": run["peak_rss_mb"], "n": n,
            "seconds": run["seconds"], "tracemalloc_peak_mb": run["tracemalloc_peak_mb"]}


def fmt(result):
    if "error" in result:
        return f"| n/a | n/a | {result['error']} |"
    notes = f"n = {result['n']}"
    if "convergence_max_rel" in result:  # attributions vs the output differences they explain
        notes += ("; convergence, relative error of Σ attributions vs mean Δf: "
                  f"max {result['convergence_max_rel']:.2g}, mean {result['convergence_mean_rel']:.2g}")
    return f"| {result['seq_per_s']:.2f} | {result['peak_rss_mb']:.0f} | {notes} |"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a quarter of the sequences")
    parser.add_argument("--out", default=os.path.join(REPO, "docs", "benchmarks.md"))
    parser.add_argument("--only", default=None, help="substring filter on case labels")
    parser.add_argument("--stream", type=int, default=100_000, help="sequences for the streaming case")
    parser.add_argument("--distill", type=int, default=50_000,
                        help="queries for the distillation case (benchmarks/bench_distill.py; 0 skips it)")
    args = parser.parse_args()
    results = {}
    plan = [p for p in PLAN if not args.only or args.only in p[0]]
    for i, (label, case, n, options) in enumerate(plan, 1):
        n = max(2, n // 4) if args.quick else n
        print(f"[{i}/{len(plan)}] {label} (n={n}) ...", flush=True)
        results[label] = run_case(case, n, options, timeout=1800)
        print("    ", results[label], flush=True)
    if args.stream and not args.only:
        print(f"[stream] keras_iml saliency streamed over {args.stream} sequences ...", flush=True)
        results["stream"] = run_case("stream", args.stream, {}, timeout=3600)
        print("    ", results["stream"], flush=True)
    if args.distill and not args.only:
        print(f"[distill] keras_iml.distill over {args.distill} queries ...", flush=True)
        results["distill"] = run_distill(args.distill)
        print("    ", results["distill"], flush=True)
    atomic_write(os.path.join(HERE, "results.json"),
                 lambda tmp: open(tmp, "w").write(json.dumps(results, indent=1)))
    write_markdown(args.out, results)
    print(f"Wrote {args.out}")


def write_markdown(path, results):
    tf_version = next((r.get("tf") for r in results.values() if r.get("tf")), "?")
    lines = [
        "# Benchmarks",
        "",
        "The attribution tables are produced by `make bench` (`python benchmarks/run.py`); the",
        "sections after them come from the other scripts in `benchmarks/`.",
        f"Measured {datetime.date.today()} on {os.cpu_count()} CPU cores, {platform.processor() or platform.machine()},",
        f"Python {platform.python_version()}, TensorFlow {tf_version}.",
        "",
        "Model: Basset-like CNN (Conv1D 64×19 ReLU, MaxPool 4, Conv1D 64×7 ReLU, GlobalMaxPool,",
        "Dense 1), 1,000-bp one-hot inputs, seeded weights; PyTorch peers run an identical twin with",
        "the same weights. tangermeme's DeepLIFT rules only see `nn.Module` nonlinearities, so its",
        "DeepLIFT-SHAP row runs an `nn.Sequential` twin; on the functional twin (`torch.relu`,",
        "`F.max_pool1d`) its rules are silently skipped, as the convergence figures in the notes show.",
        "Each case runs in its own process after one warm-up call on 2",
        "sequences; peak memory is that process's max RSS (TensorFlow's own ≈ 0.5–0.7 GB included).\nThroughput excludes that warm-up (tracing), for keras_iml and its peers alike.",
        "",
        "## Throughput and memory",
        "",
        "| case | sequences / s | peak RSS (MB) | notes |",
        "| --- | --- | --- | --- |",
    ]
    for label, _, _, _ in PLAN:
        if label in results:
            lines.append(f"| {label} {fmt(results[label])}")
    if "stream" in results:
        lines.append(f"| keras_iml saliency streamed (iter_explain over a tf.data generator) {fmt(results['stream'])}")
    if "distill" in results:
        lines.append(f"| keras_iml distill (queries / s; libraries generated, queried and fitted, streamed) "
                     f"{fmt(results['distill'])}")
    lines += ["", "## Ratios measured in the same run", "", "| comparison | ratio | target met |", "| --- | --- | --- |"]
    for title, ours, peer, target in RATIOS:
        a, b = results.get(ours, {}), results.get(peer, {})
        if "seq_per_s" in a and "seq_per_s" in b:
            r = a["seq_per_s"] / b["seq_per_s"]
            lines.append(f"| {title} | {r:.2f}× | {'yes' if r >= target else 'NO'} |")
        else:
            lines.append(f"| {title} | n/a | peer or method did not run |")
    lines.append("")
    # Sections below the marker come from the other benchmark scripts: keep them.
    kept = ""
    if os.path.exists(path):
        old = open(path).read()
        if MARKER in old:
            kept = old[old.index(MARKER):]
    atomic_write(path, lambda tmp: open(tmp, "w").write("\n".join(lines) + "\n" + kept))


if __name__ == "__main__":
    main()
