"""The scientific result of a zoo batch run with control arms, as Markdown for docs/zoo.md.

Reads a batch output directory (``results.sqlite`` from ``keras-iml zoo validate`` or
``benchmarks/bench_zoo.py batch --out-dir``) and prints, per method and tier, the share
of models that pass, that do not beat placebo, that fail a threshold, that cannot be
decided and that did not run; the same for the control arms; which metrics were
uninformative on how many models; how often each method beats its placebo per metric;
and the method x method Spearman agreement averaged over the models. Writes the numbers
as JSON too (``--json``).

Usage: ``python benchmarks/zoo_findings.py OUT_DIR [--json benchmarks/zoo_findings.json]``.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def _pct(part, whole):
    if not whole or part != part:  # no models, or NaN (the metric does not apply)
        return "—"
    return f"{100.0 * part / whole:.0f} %"


def _metric_of(row):
    """The registered metric of a summary row (``localisation_recall@5``,
    ``jaccard_top10_vs_consensus``...)."""
    name = row.split("@")[0].removesuffix("_vs_consensus")
    return "jaccard" if name.startswith("jaccard_top") else name


def reasons(metrics):
    """Per judged metric row and method: in how many models it missed its threshold, and
    in how many it met the threshold without beating placebo."""
    import numpy as np
    import pandas as pd

    from keras_iml import metrics as registry

    rows = metrics[(metrics["arm"] == "method") & metrics["threshold"].notna()
                   & (metrics["informative"] != False) & metrics["value"].notna()]  # noqa: E712
    higher = rows["metric"].map(lambda r: registry.get_class(_metric_of(r)).higher_is_better)
    meets = np.where(higher, rows["value"] >= rows["threshold"], rows["value"] <= rows["threshold"])
    rows = rows.assign(missed=~meets, below_placebo=meets & (rows["beats_placebo"] == False))  # noqa: E712
    out = rows.groupby(["metric", "method"])[["missed", "below_placebo"]].sum().astype(int)
    out = out[(out["missed"] > 0) | (out["below_placebo"] > 0)].reset_index()
    return pd.DataFrame(out, columns=["metric", "method", "missed", "below_placebo"]).rename(
        columns={"missed": "models missing the threshold",
                 "below_placebo": "models meeting it without beating placebo"})


def _markdown(frame):
    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *rows])


def findings(out_dir):
    import pandas as pd

    from keras_iml.zoo.batch import ResultsStore
    from keras_iml.zoo.batch.summary import OUTCOMES, agreement_across_models, verdict_counts

    store = ResultsStore(os.path.join(out_dir, "results.sqlite"))
    models, metrics, verdicts = store.models(), store.metrics(), store.verdicts()
    ok = models[models["status"] == "ok"]
    result = {"models": int(len(models)), "ok": int(len(ok))}
    tables = {}
    for prefix in ("verdict", "control"):
        counts = verdict_counts(verdicts, models, arms=prefix == "control")
        shares = counts[["method", "tier", "n"]].copy()
        for outcome in OUTCOMES:
            shares[outcome] = [_pct(v, n) for v, n in zip(counts[outcome], counts["n"])]
        tables[prefix] = shares
        result[prefix] = counts.drop(columns=[counts.columns[-1]]).to_dict("records")  # the model list
    weak = ok["uninformative"].fillna("").str.split(";").explode()
    weak = weak[weak != ""].value_counts()
    tables["uninformative"] = pd.DataFrame({"metric": weak.index, "models": weak.to_numpy(),
                                            "share": [_pct(v, len(ok)) for v in weak.to_numpy()]})
    result["uninformative"] = weak.to_dict()
    judged = metrics[(metrics["arm"] == "method") & metrics["beats_placebo"].notna()]
    beats = (judged.assign(beats=judged["beats_placebo"].astype(bool))
             .pivot_table(index="metric", columns="method", values="beats", aggfunc="mean"))
    tables["beats"] = beats.map(lambda v: _pct(v, 1.0)).reset_index()
    result["beats_placebo_share"] = beats.round(3).to_dict()
    why = reasons(metrics)
    tables["reasons"] = why
    result["reasons"] = why.to_dict("records")
    matrix = agreement_across_models(metrics)
    if matrix is not None:
        tables["agreement"] = matrix.round(2).reset_index().rename(columns={"index": "method"})
        result["mean_spearman"] = matrix.round(3).to_dict()
    return result, tables


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--json", default=os.path.join(HERE, "zoo_findings.json"))
    args = parser.parse_args(argv)
    result, tables = findings(args.out_dir)
    titles = {"verdict": "Verdicts of the methods (share of models)",
              "control": "Verdicts of the control arms (share of models)",
              "uninformative": "Metrics flagged uninformative",
              "beats": "Share of models where the method beats its placebo, per metric row",
              "reasons": "Why a method does not pass: per metric row, models missing the threshold "
                         "or meeting it without beating placebo",
              "agreement": "Mean Spearman agreement between methods across models"}
    print(f"{result['ok']} of {result['models']} models validated\n")
    for key, title in titles.items():
        if key in tables:
            print(f"### {title}\n\n{_markdown(tables[key])}\n")
    from keras_iml.io import atomic_write

    atomic_write(args.json, lambda tmp: open(tmp, "w").write(json.dumps(result, indent=2, default=str)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
