"""Benchmark of the zoo: the DeepBind motif sweep and batch validation of DeepBind TF models.

Two parts (both read ../shared/zoo; set KERAS_IML_SHARED to move it):

* ``sweep``: for every DeepBind TF model with a JASPAR motif for its TF, the share of
  50 random 101-bp backgrounds whose score rises when the consensus of the TF's
  primary JASPAR motif is inserted at the centre, and the same for a shuffled
  consensus (a null with the same bases). One compiled model per architecture
  variant; weights swapped per model. Writes ``benchmarks/zoo_sweep.csv``.
* ``batch``: ``keras-iml zoo validate`` on the DeepBind TF models (``--limit``) with
  the default protocol, the local executor and ``--workers`` processes; reports the
  wall time, the per-model CPU seconds and the per-stage / per-method / per-metric
  breakdown, and extrapolates to all 683 models.

Target (issue 5): all 683 DeepBind TF models validated with the default protocol in
< 30 minutes on 2 CPU cores with the local executor.

Usage: ``python benchmarks/bench_zoo.py [sweep|batch|all] [--limit 20] [--workers 2]``.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def shared_dir():
    path = os.environ.get("KERAS_IML_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
    if not os.path.isdir(path):
        sys.exit(f"../shared is absent ({path}); set KERAS_IML_SHARED.")
    return path


def sweep(args):
    import numpy as np

    from keras_iml.zoo import list_models
    from keras_iml.zoo.families.deepbind import read_params
    from keras_iml.zoo.families.deepbind.checks import deepbind_sweep, jaspar_consensus

    params_dir = os.path.join(shared_dir(), "zoo", "deepbind", "params")
    table = list_models(family="DeepBind", type="TF")
    table = table[table["jaspar_ids"] != ""]
    t0 = time.perf_counter()
    params = {r.model_id: read_params(os.path.join(params_dir, r.weights_file)) for r in table.itertuples()}
    rng = np.random.default_rng(0)
    sites, nulls = {}, {}
    for r in table.itertuples():
        consensus = jaspar_consensus(r.jaspar_ids.split(";")[0])
        sites[r.model_id], nulls[r.model_id] = consensus, "".join(rng.permutation(list(consensus)))
    t1 = time.perf_counter()
    real = deepbind_sweep(params, sites, n_backgrounds=50)
    null = deepbind_sweep(params, nulls, n_backgrounds=50)
    t2 = time.perf_counter()
    real["null_fraction_raised"] = null["fraction_raised"].to_numpy()
    real = real.merge(table[["model_id", "tf", "experiment", "jaspar_ids"]], on="model_id")
    real.to_csv(os.path.join(REPO, "benchmarks", "zoo_sweep.csv"), index=False)
    passed = real["fraction_raised"] >= 0.9
    out = {
        "models": int(len(real)), "seconds_setup": round(t1 - t0, 1), "seconds_sweep": round(t2 - t1, 1),
        "share_models_raised_in_90pct": round(float(passed.mean()), 3),
        "share_null_raised_in_90pct": round(float((real["null_fraction_raised"] >= 0.9).mean()), 3),
        "median_fraction_raised": float(real["fraction_raised"].median()),
        "median_null_fraction_raised": float(real["null_fraction_raised"].median()),
        "share_consensus_beats_null": round(float((real["fraction_raised"] > real["null_fraction_raised"]).mean()), 3),
        "by_experiment": real.assign(passed=passed).groupby("experiment")["passed"].mean().round(3).to_dict(),
    }
    print(json.dumps(out, indent=2))
    return out


def batch(args):
    from keras_iml.zoo import list_models
    from keras_iml.zoo.batch import BatchSettings
    from keras_iml.zoo.batch import run_batch

    names = list_models(family="DeepBind", type="TF")["name"].tolist()[: args.limit]
    out_dir = args.out_dir or tempfile.mkdtemp(prefix="bench_zoo_")
    settings = BatchSettings(source=os.path.join(shared_dir(), "zoo", "kipoi-models"),
                             n_sequences=args.n_sequences, protocol=args.protocol,
                             cache_dir=os.path.join(out_dir, "cache"), offline=True)
    t0 = time.perf_counter()
    frame = run_batch(names, settings, out_dir, n_workers=args.workers, resume=True,
                      progress=lambda d, t, r: print(f"\r{d}/{t}", end="", flush=True))
    wall = time.perf_counter() - t0
    print()
    ok = frame[frame["status"] == "ok"]
    stage = {c: round(float(ok[c].median()), 2) for c in ok.columns
             if c.startswith(("seconds_", "t_explain|", "t_metrics|")) and ok[c].notna().any()}
    cpu = float(frame["cpu_seconds"].sum())
    out = {
        "models": int(len(frame)), "status": frame["status"].value_counts().to_dict(),
        "workers": args.workers, "n_sequences": args.n_sequences, "protocol": args.protocol or "default",
        "wall_seconds": round(wall, 1), "wall_seconds_per_model": round(wall / max(1, len(frame)), 2),
        "cpu_seconds_per_model_median": round(float(frame["cpu_seconds"].median()), 2),
        "cpu_seconds_total": round(cpu, 1),
        "extrapolated_683_wall_minutes": round(wall / max(1, len(frame)) * 683 / 60, 1),
        "extrapolated_683_minutes_on_2_idle_cores": round(cpu / max(1, len(frame)) * 683 / 2 / 60, 1),
        "median_seconds_by_stage": stage, "load_average": os.getloadavg(),
    }
    print(json.dumps(out, indent=2))
    print(f"results table: {out_dir}/results.sqlite, summary: {out_dir}/summary.html")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", default="all", choices=("sweep", "batch", "all"))
    parser.add_argument("--limit", type=int, default=683, help="DeepBind TF models to validate")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--n-sequences", type=int, default=16)
    parser.add_argument("--protocol", default=None, help="None = the default protocol")
    parser.add_argument("--out-dir", default=None, help="batch output (resumable)")
    parser.add_argument("--json", default=os.path.join(REPO, "benchmarks", "zoo_results.json"))
    args = parser.parse_args(argv)
    results = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                           "platform": platform.platform()}}
    if args.part in ("sweep", "all"):
        results["sweep"] = sweep(args)
    if args.part in ("batch", "all"):
        results[f"batch_{args.protocol or 'default'}"] = batch(args)
    previous = {}
    if os.path.exists(args.json):
        with open(args.json, encoding="utf-8") as handle:
            previous = json.load(handle)
    previous.update(results)
    tmp = f"{args.json}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(previous, handle, indent=2, default=str)
    os.replace(tmp, args.json)


if __name__ == "__main__":
    main()
