"""DeepBind's rows of the zoo catalogue: every model of DeepBind's index, its parameter
file's md5 and variant, its TF's JASPAR motifs, and whether the TF's JASPAR consensus
raises its score (the one check that runs every model: about a minute)."""

import pathlib
import re

from keras_iml.zoo import catalogue
from keras_iml.zoo.families.deepbind.checks import deepbind_sweep, jaspar_consensus
from keras_iml.zoo.families.deepbind.params import read_params
from keras_iml.zoo.sources.spec import group_models
from keras_iml.zoo.sources.store import md5sum

__all__ = ["deepbind_rows"]

NOTES = {
    "ChIP-seq": "in vivo ChIP-seq model: may score co-factor or open-chromatin motifs besides its TF's",
    "SELEX": "in vitro HT-SELEX model: short high-affinity sites",
    "PBM": "in vitro PBM model: trained on ~35-bp probes",
}


def _read_index(path):
    rows = [line.rstrip("\n").split("\t") for line in open(path, encoding="utf-8")
            if not line.startswith("#")]
    header = rows[0]
    return {r[0]: dict(zip(header, r)) for r in rows[1:] if r and r[0]}


def deepbind_rows(shared, jaspar_db):
    """The catalogue rows of every DeepBind model in the shared Kipoi descriptions."""
    shared = pathlib.Path(shared)
    index = _read_index(shared / "zoo" / "deepbind" / "db.tsv")
    out = []
    for name in group_models(shared / "zoo" / "kipoi-models", "DeepBind"):
        model_id = re.search(r"D\d{5}\.\d{3}", name).group(0)
        meta = index[model_id]
        params_path = shared / "zoo" / "deepbind" / "params" / f"{model_id}.txt"
        params = read_params(params_path)
        ids, match = catalogue.jaspar_lookup(meta["Protein"], meta["Species"], jaspar_db) \
            if meta["Type"] == "TF" else ([], "not a TF")
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
    _motif_checks(shared, out)
    return out


def _motif_checks(shared, rows):
    """Adds ``consensus_raise`` to the TF rows and flags weak responses in the notes."""
    todo = [r for r in rows if r["jaspar_ids"]]
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
