"""Builds model_zoo/catalogue.tsv from the shared zoo files and pyjaspar (offline).

Usage (from the repository root):

    .venv/bin/python model_zoo/build_catalogue.py [--shared ../shared] [--out model_zoo]

Reads DeepBind's index (``zoo/deepbind/db.tsv``), its parameter files (md5, variant),
the Kipoi specifications in ``zoo/kipoi-models`` and ``zoo/weights/MANIFEST.tsv``,
maps every TF name to JASPAR motifs with pyjaspar's bundled database (by name, then
through the curated ``keras_iml.zoo.catalogue.ALIASES``), and measures for every
DeepBind TF model whether its TF's JASPAR consensus raises its score (about 1 min). Only the small TSV it writes is
committed; nothing from ../shared is copied.
"""

import argparse
import csv
import os
import pathlib
import re
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from keras_iml.zoo import catalogue  # noqa: E402
from keras_iml.zoo.families.deepbind import read_params  # noqa: E402
from keras_iml.zoo.families.deepbind.checks import deepbind_sweep, jaspar_consensus  # noqa: E402
from keras_iml.zoo.sources.spec import group_models, read_spec  # noqa: E402
from keras_iml.zoo.sources.store import md5sum  # noqa: E402

NOTES = {
    "ChIP-seq": "in vivo ChIP-seq model: may score co-factor or open-chromatin motifs besides its TF's",
    "SELEX": "in vitro HT-SELEX model: short high-affinity sites",
    "PBM": "in vitro PBM model: trained on ~35-bp probes",
}


def read_db(path):
    rows = [line.rstrip("\n").split("\t") for line in open(path, encoding="utf-8")
            if not line.startswith("#")]
    header = rows[0]
    return {r[0]: dict(zip(header, r)) for r in rows[1:] if r and r[0]}


def deepbind_rows(shared, jdb):
    source = shared / "zoo" / "kipoi-models"
    index = read_db(shared / "zoo" / "deepbind" / "db.tsv")
    out = []
    for name in group_models(source, "DeepBind"):
        model_id = re.search(r"D\d{5}\.\d{3}", name).group(0)
        meta = index[model_id]
        params_path = shared / "zoo" / "deepbind" / "params" / f"{model_id}.txt"
        params = read_params(params_path)
        ids, match = catalogue.jaspar_lookup(meta["Protein"], meta["Species"], jdb) if meta["Type"] == "TF" \
            else ([], "not a TF")
        notes = [NOTES.get(meta["Experiment"], "")]
        if meta["Type"] == "RBP":
            notes = ["RNA-binding protein (RNAcompete); not a TF-binding model"]
        elif not ids:
            notes.append("no JASPAR motif for this protein: Tier-3 checks cannot run")
        out.append({
            "name": name, "family": "DeepBind", "model_id": model_id, "tf": meta["Protein"],
            "type": meta["Type"], "species": meta["Species"].strip().capitalize(),
            "protein_family": meta["Family"], "experiment": meta["Experiment"],
            "input_length": 101, "alphabet": "ACGT", "weights_file": f"{model_id}.txt",
            "weights_md5": md5sum(params_path),
            "variant": (f"rc={int(params.reverse_complement)};avg={int(params.has_avg_pooling)};"
                        f"hidden={params.num_hidden};m={params.detector_len}"),
            "jaspar_ids": ";".join(ids), "jaspar_match": match, "license": "BSD-3-Clause",
            "citation": "https://doi.org/10.1038/nbt.3300", "supported": "yes",
            "notes": "; ".join(n for n in notes if n),
        })
    return out


def motif_checks(shared, rows):
    """Adds ``consensus_raise`` to DeepBind TF rows and flags weak responses in the notes."""
    todo = [r for r in rows if r["family"] == "DeepBind" and r["jaspar_ids"]]
    params_dir = shared / "zoo" / "deepbind" / "params"
    params = {r["model_id"]: read_params(params_dir / r["weights_file"]) for r in todo}
    sites = {r["model_id"]: jaspar_consensus(r["jaspar_ids"].split(";")[0]) for r in todo}
    result = deepbind_sweep(params, sites, n_backgrounds=50).set_index("model_id")["fraction_raised"]
    for r in todo:
        value = float(result[r["model_id"]])
        r["consensus_raise"] = f"{value:.2f}"
        if value < 0.9:
            first = r["jaspar_ids"].split(";")[0]
            r["notes"] = "; ".join(filter(None, [r["notes"], (
                f"weak response to the JASPAR consensus of {first} (raises the score in "
                f"{value:.0%} of random backgrounds): may have learned another motif")]))


def keras_rows(shared, jdb):
    source = shared / "zoo" / "kipoi-models"
    manifest = {}
    with open(shared / "zoo" / "weights" / "MANIFEST.tsv", newline="", encoding="utf-8") as h:
        for row in csv.DictReader(h, delimiter="\t"):
            manifest[(row["model"], row["arg"])] = (os.path.basename(row["file"]), row["md5"])
    specs = {
        "FactorNet/MAX/onePeak_Unique35_DGF": ("MAX", "TF"),
        "FactorNet/FOXA1/onePeak_DGF": ("FOXA1", "TF"),
        "MPRA-DragoNN/ConvModel": ("", "MPRA"),
        "kipoi-example/tal1": ("TAL1", "TF"),
    }
    notes = {
        "FactorNet/MAX/onePeak_Unique35_DGF": (
            "Keras 1.1, Theano-trained (kernels flipped); DNA input with extra per-base "
            "mappability (1.0) and DNase (0.1) channels, constant by default or per sequence "
            "with tracks=: predictions depend on them"),
        "FactorNet/FOXA1/onePeak_DGF": (
            "Keras 1.1, Theano-trained (kernels flipped); DNA input with an extra per-base "
            "DNase (0.1) channel, constant by default or per sequence with tracks=: "
            "predictions depend on them"),
        "MPRA-DragoNN": "MPRA regression (12 tasks), not TF binding; no JASPAR mapping",
        "kipoi-example": "Kipoi's small example model (Keras 2.1); not a published model",
    }
    out = []
    for name, (tf, kind) in specs.items():
        spec = read_spec(name, source)
        family = name.split("/")[0]
        ids, match = catalogue.jaspar_lookup(tf, "Homo sapiens", jdb) if tf else ([], "not a TF")
        wfile, md5 = manifest.get((name, "weights"), ("", ""))
        differs = spec.files.get("weights") and spec.files["weights"].md5 not in (None, md5)
        note = notes.get(name, notes.get(family, "")) + ("; weights md5 differs from Kipoi's (authors' release)" if differs else "")
        out.append({
            "name": name, "family": family, "model_id": name.split("/", 1)[1], "tf": tf,
            "type": kind, "species": "Homo sapiens", "protein_family": "",
            "experiment": "ChIP-seq" if kind == "TF" else "MPRA",
            "input_length": spec.input_length, "alphabet": "ACGT",
            "weights_file": wfile,
            "weights_md5": md5, "variant": "", "jaspar_ids": ";".join(ids), "jaspar_match": match,
            "license": spec.license or "MIT", "citation": spec.citation or "",
            "supported": "yes", "notes": note,
        })
    for name in group_models(source, "FactorNet"):
        if name in specs:
            continue
        out.append({**{k: "" for k in out[0]}, "name": name, "family": "FactorNet",
                    "model_id": name.split("/", 1)[1], "tf": name.split("/")[1], "type": "TF",
                    "input_length": 1002, "alphabet": "ACGT", "license": "MIT",
                    "supported": "weights-unavailable",
                    "notes": "weights only on Zenodo (not in ../shared); loads when downloaded"})
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=os.environ.get("KERAS_IML_SHARED", REPO.parent / "shared"))
    parser.add_argument("--out", default=REPO / "model_zoo")
    args = parser.parse_args(argv)
    from pyjaspar import jaspardb

    jdb = jaspardb()
    shared = pathlib.Path(args.shared)
    rows = deepbind_rows(shared, jdb)
    motif_checks(shared, rows)
    rows += keras_rows(shared, jdb)
    path = pathlib.Path(args.out) / "catalogue.tsv"
    catalogue.write_catalogue(rows, path, jaspar_release=jdb.release)
    print(f"Wrote {len(rows)} models to {path} (JASPAR release {jdb.release})")


if __name__ == "__main__":
    main()
