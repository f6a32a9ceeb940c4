"""keras_iml.motifs: JASPAR loading, MEME I/O, TOMTOM q-values, TF-MoDISco discovery,
motif recovery and the tier-3 "motif_recovery" metric.

Discovery tests use sequences with planted JASPAR sites (CTCF as the true motif,
TP53 as the decoy) and PWM-scanning Keras models whose mechanism is known: the
"good" model scores CTCF only; the "confounded" one also scores TP53. Their
saliency is the motif's log-odds on the best-scoring window, the ideal
hypothetical contribution. Sizes are small (240 x 200 bp) to keep TF-MoDISco fast.
"""

import os

import keras
import numpy as np
import pandas as pd
import pytest

from keras_iml import dna, motifs
import keras_iml
from keras_iml.motifs.database import MotifDatabase
from keras_iml.motifs.resolve import resolve_motifs

N_SEQ, LENGTH = 240, 200
# Fewer nearest neighbours than TF-MoDISco's 500 halve its clustering time here.
MODISCO = {"nearest_neighbors_to_compute": 150}
CTCF_REGION, TP53_REGION = (10, 90), (110, 180)


# -- fixtures ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def db():
    return motifs.load_jaspar()


def _log_odds(pfm):
    return np.log2((pfm + 0.01) / 1.04 / 0.25)


def _plant(n, length, plan, rng):
    """Random sequences with sites sampled from PFMs; returns x and the site table."""
    x = dna.random_sequences(n, length, 0.5, rng)
    rows = []
    for label, pfm, rate, (lo, hi) in plan:
        for i in np.flatnonzero(rng.random(n) < rate):
            w = len(pfm)
            start = int(rng.integers(lo, hi - w))
            site = np.eye(4, dtype="float32")[[rng.choice(4, p=r) for r in pfm]]
            if rng.random() < 0.5:
                site = site[::-1, ::-1]
            x[i, start:start + w] = site
            rows.append((int(i), label, start, start + w))
    return x, pd.DataFrame(rows, columns=["seq", "motif", "start", "end"])


def _scanner(length, pfms):
    """f(x) = sum over motifs of the best log-odds window score (both strands)."""
    inp = keras.Input((length, 4))
    outs = []
    for pfm in pfms:
        w = _log_odds(pfm)
        conv = keras.layers.Conv1D(2, len(w), use_bias=False)
        h = keras.layers.GlobalMaxPooling1D()(keras.layers.Reshape((-1, 1))(conv(inp)))
        conv.set_weights([np.stack([w, w[::-1, ::-1]], -1).astype("float32")])
        outs.append(h)
    return keras.Model(inp, outs[0] if len(outs) == 1 else keras.layers.Add()(outs))


@pytest.fixture(scope="module")
def planted(db):
    ctcf = db.pfms[db.find("MA0139.2")[0]]
    tp53 = db.pfms[db.find("MA0106.3")[0]]
    x, sites = _plant(N_SEQ, LENGTH, [("CTCF", ctcf, 0.6, CTCF_REGION),
                                      ("TP53", tp53, 0.5, TP53_REGION)],
                      np.random.default_rng(0))
    return {"x": x, "sites": sites, "ctcf": ctcf, "tp53": tp53}


@pytest.fixture(scope="module")
def good(db, planted):
    model = _scanner(LENGTH, [planted["ctcf"]])
    attr = keras_iml.explain(model, planted["x"], "saliency", verbose=0)
    return motifs.discover(attr, database=db, expected=["MA0139"], decoys=["MA0106"],
                           modisco_options=MODISCO, n_threads=1, verbose=0)


@pytest.fixture(scope="module")
def confounded(planted):
    """keras_iml.validate with only the motif_recovery metric, on the confounded model."""
    model = _scanner(LENGTH, [planted["ctcf"], planted["tp53"]])
    attr = keras_iml.explain(model, planted["x"], "saliency", verbose=0)
    protocol = {"base": None, "n_bootstrap": 50,
                "metrics": {"motif_recovery": {"n_threads": 1, "modisco_options": MODISCO}}}
    # Expected motif from `motifs=`, the decoy from the instance table's "decoy" rows.
    table = planted["sites"].assign(
        motif_id=planted["sites"].motif.map({"CTCF": "MA0139.2", "TP53": "MA0106.3"}),
        role=planted["sites"].motif.map({"CTCF": "true", "TP53": "decoy"}), strand="+")
    report = keras_iml.validate(model, planted["x"], methods=["saliency"],
                                attributions={"saliency": attr}, motifs=["MA0139.2"],
                                ground_truth=table, protocol=protocol, verbose=0)
    return report


def _overlap(seqlets, sites):
    """Among seqlets of sequences holding a planted site, the fraction overlapping one.

    (In sequences without the motif the max-pooling model's gradient sits on the
    best-scoring random window, which TF-MoDISco may also pick up.)
    """
    seqlets = [s for s in seqlets if s[0] in set(sites.seq)]
    hit = 0
    for seq, start, end, _ in seqlets:
        s = sites[sites.seq == seq]
        hit += bool(((s.start < end) & (s.end > start)).any())
    return hit / max(len(seqlets), 1), len(seqlets)


# -- small pieces ---------------------------------------------------------------------
def test_load_jaspar_matches_pyjaspar_counts(db):
    from pyjaspar import jaspardb

    assert len(db) > 800 and len(set(db.ids)) == len(db)
    assert "2026" in db.source and "vertebrates" in db.source
    k = db.find("MA0139.2")[0]
    assert db.names[k] == "CTCF"
    motif = jaspardb().fetch_motif_by_id("MA0139.2")
    counts = np.array([motif.counts[b] for b in "ACGT"]).T
    np.testing.assert_allclose(db.pfms[k], counts / counts.sum(1, keepdims=True))
    assert all(np.allclose(p.sum(1), 1.0) for p in db.pfms)
    assert db.find("MA0139") == [k]  # base ID: every version present (only the latest here)
    assert db.find("ctcf") == [i for i, n in enumerate(db.names) if n.upper() == "CTCF"]


def test_meme_round_trip_and_independent_reader(tmp_path, db):
    from memelite.io import read_meme as memelite_read

    sub = db.subset(db.find("CTCF") + db.find("MA0106"))
    path = motifs.write_meme(tmp_path / "m.meme", sub)
    back = motifs.read_meme(path)
    assert back.ids == sub.ids and back.names == sub.names
    for a, b in zip(back.pfms, sub.pfms):
        np.testing.assert_allclose(a, b, atol=1e-6)
    other = memelite_read(str(path))  # memelite's reader: keys "ID NAME", (4, L)
    for i, n, p in sub:
        np.testing.assert_allclose(other[f"{i} {n}"].T, p, atol=1e-6)
    assert sorted(os.listdir(tmp_path)) == ["m.meme"]  # atomic: no temporary left
    bad = tmp_path / "bad.meme"
    bad.write_text("MEME version 4\n\nMOTIF x\nletter-probability matrix: w= 2\n0.1 0.2 0.3 0.4\n")
    with pytest.raises(ValueError, match="incomplete"):
        motifs.read_meme(bad)
    with pytest.raises(ValueError, match="whitespace"):
        motifs.write_meme(tmp_path / "y.meme", [np.eye(4)], ids=["a b"])


def test_meme_reader_round_trips_what_the_writer_wrote(tmp_path):
    pfms = [np.array([[4, 2, 1, 1], [0, 0, 8, 0], [1, 1, 1, 1]]), np.full((4, 6), 0.25),
            np.array([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]])]
    ids, names = ["m1", "m2", "m1"], ["TF one", "m2", "x"]  # repeated ID, spaced name
    path = motifs.write_meme(tmp_path / "w.meme", pfms, ids=ids, names=names,
                             nsites=[8, 3, 5])
    back = motifs.read_meme(path)
    assert back.ids == ids and back.names == names and len(back) == 3
    assert back.pfms[1].shape == (6, 4)  # a (4, L) matrix is written as (L, 4)
    for a, b in zip(back.pfms, pfms):
        np.testing.assert_allclose(a, motifs.as_pfm(b), atol=1e-6)
    again = motifs.read_meme(motifs.write_meme(tmp_path / "again.meme", back))
    assert (again.ids, again.names) == (back.ids, back.names)
    for a, b in zip(again.pfms, back.pfms):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_log_odds_base_2_and_base_e_differ_by_ln2():
    counts = np.array([[4, 2, 1, 1], [2, 2, 2, 2]])  # probabilities (1/2, 1/4, 1/8, 1/8), uniform
    bits = motifs.log_odds(counts, pseudocount=0.0, base=2)
    np.testing.assert_allclose(bits, [[1.0, 0.0, -1.0, -1.0], [0.0, 0.0, 0.0, 0.0]], atol=1e-12)
    nats = motifs.log_odds(counts, pseudocount=0.0, base=np.e)
    np.testing.assert_allclose(nats, bits * np.log(2), atol=1e-12)
    # With the default pseudocount: w = log((p + 0.01) / 1.04 / 0.25).
    other = np.array([[5, 3, 1, 1], [0, 0, 10, 0]])
    hand = np.log2((np.array([[0.5, 0.3, 0.1, 0.1], [0, 0, 1, 0]]) + 0.01) / 1.04 / 0.25)
    np.testing.assert_allclose(motifs.log_odds(other, base=2), hand, rtol=1e-12)
    with pytest.raises(TypeError, match="base"):
        motifs.log_odds(other)  # the base is always explicit
    ratio = motifs.log_odds(other, base=np.e) / motifs.log_odds(other, base=2)
    np.testing.assert_allclose(ratio, np.log(2), rtol=1e-12)
    skewed = motifs.log_odds(counts, background=(0.5, 0.25, 0.125, 0.125), pseudocount=0.0, base=2)
    np.testing.assert_allclose(skewed[0], 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="base"):
        motifs.log_odds(counts, base=1)
    with pytest.raises(ValueError, match="background"):
        motifs.log_odds(counts, background=(0.5, 0.5), base=2)


def test_log_odds_callers_keep_their_bases():
    from keras_iml.datasets import Motif
    from keras_iml.models.pwm import pwm_model

    pfm = motifs.as_pfm([[4, 2, 1, 1], [1, 1, 1, 5], [0, 3, 3, 2]])
    np.testing.assert_allclose(Motif("m", "m", pfm).log_odds(), motifs.log_odds(pfm, base=2))
    kernel = pwm_model(pfm, 10).get_layer("pwm_scan").get_weights()[0]  # natural log
    np.testing.assert_allclose(kernel[..., 0], motifs.log_odds(pfm, base=np.e), rtol=1e-6)


def test_as_pfm_is_the_one_validator():
    np.testing.assert_allclose(motifs.as_pfm([[1, 1, 2, 0]]), [[0.25, 0.25, 0.5, 0.0]])
    five = np.eye(4)[[0, 1, 2, 3, 0]]
    np.testing.assert_allclose(motifs.as_pfm(five.T), five)  # (4, L) is transposed
    with pytest.raises(ValueError, match=r"`site`.*shape \(L, 4\).*\(3, 5\)"):
        motifs.as_pfm(np.ones((3, 5)), "site")
    with pytest.raises(ValueError, match=r"`site`.*shape \(L, 4\)"):
        motifs.as_pfm(np.ones(4), "site")
    with pytest.raises(ValueError, match=r"`site`.*non-negative"):
        motifs.as_pfm([[0.5, 0.5, 0.5, -0.5]], "site")
    with pytest.raises(ValueError, match=r"`site`.*non-negative finite"):
        motifs.as_pfm([[np.nan, 1, 1, 1]], "site")
    with pytest.raises(ValueError, match=r"`site` has a position with no counts \(row 1\)"):
        motifs.as_pfm([[1, 0, 0, 0], [0, 0, 0, 0]], "site")
    with pytest.raises(ValueError, match="`site`"):
        motifs.as_pfm([["a", "b", "c", "d"]], "site")


def test_resolve_motifs_ids_versions_names_and_matrices(db):
    found, groups = resolve_motifs(["MA0139.1", "CTCF", np.eye(4)], db, "expected")
    assert groups["MA0139.1"] == ["MA0139.1"]  # older version: fetched from pyjaspar
    assert groups["CTCF"] == [db.ids[i] for i in db.find("CTCF")]
    assert "expected_2" in groups
    assert "MA0139.1" in found.ids and "MA0139.1" not in db.ids
    np.testing.assert_allclose(found.pfms[found.ids.index("expected_2")], np.eye(4))
    with pytest.raises(ValueError, match="names no known motif"):
        resolve_motifs(["NOT_A_TF_NAME"], db, "decoys")
    with pytest.raises(ValueError, match=r"shape \(L, 4\)"):
        MotifDatabase([np.ones((3, 5))], ["m"])


def test_tomtom_finds_sampled_ctcf_on_the_reverse_strand(db):
    rng = np.random.default_rng(1)
    ctcf = db.pfms[db.find("MA0139.2")[0]]
    sites = np.stack([np.eye(4)[[rng.choice(4, p=r) for r in ctcf]] for _ in range(60)])
    out = motifs.tomtom([sites.mean(0)[::-1, ::-1]], db, top_n=3)
    assert out.loc[0, "target_id"] == "MA0139.2" and out.loc[0, "strand"] == "-"
    assert out.loc[0, "q_value"] < 1e-3
    assert out["p_value"].is_monotonic_increasing and list(out["rank"]) == [0, 1, 2]


def test_match_rejects_random_and_flat_matrices_that_tomtom_alone_accepts(db):
    rng = np.random.default_rng(2)
    flat = rng.dirichlet(np.full(4, 50.0), size=12)
    randoms = [rng.dirichlet(np.ones(4), size=12) for _ in range(20)]
    tp53 = db.pfms[db.find("MA0106.3")[0]]
    sites = np.stack([np.eye(4)[[rng.choice(4, p=r) for r in tp53]] for _ in range(40)])
    raw = motifs.tomtom([flat, *randoms], db, top_n=1)
    assert (raw["q_value"] < 0.05).sum() >= 10  # TOMTOM's q alone: spurious "matches"
    assert motifs.information_content(flat) < 0.05
    assert motifs.information_content(np.eye(4)) == pytest.approx(2.0)
    out = motifs.match([flat, *randoms, sites.mean(0)], db, decoys=["TP53"], seed=0)
    # Columns of random matrices are exchangeable, so the shuffle control is an exact
    # permutation test: <= 2.5% false matches with 39 shuffles (P(>= 3 of 21) < 2%
    # under Bin(21, 0.025)).
    assert out.loc[0, "status"] == "unmatched" and out.loc[0, "shuffle_p"] > 0.05
    assert out["significant"].iloc[:-1].sum() <= 2
    assert set(out["status"].iloc[:-1]) <= {"unmatched", "known"}
    last = out.iloc[-1]
    assert last["status"] == "decoy" and last["decoy_match"] == "MA0106.3"
    assert last["q_value"] < 1e-6 and last["shuffle_p"] == pytest.approx(1 / 40)


def test_discover_input_errors(planted):
    x = planted["x"][:8]
    no_hyp = keras_iml.Attributions(np.zeros_like(x), method="my_method", inputs=x)
    with pytest.raises(ValueError, match="'my_method' does not define"):
        motifs.discover(no_hyp, database=None)
    with pytest.raises(ValueError, match="`x`"):
        motifs.discover(np.zeros_like(x), database=None)
    with pytest.raises(ValueError, match="x.shape"):
        motifs.discover(np.zeros_like(x), x[:, :50], database=None)
    with pytest.raises(ValueError, match="modisco_options"):
        motifs.discover(np.zeros_like(x), x, database=None, modisco_options={"nope": 1})
    with pytest.raises(ValueError, match="q_threshold"):
        motifs.discover(np.zeros_like(x), x, database=None, q_threshold=2)
    with pytest.raises(ValueError, match="database"):
        motifs.discover(np.zeros_like(x), x, database="JASPAR1999")
    with pytest.raises(ValueError, match="window"):
        motifs.discover(np.zeros_like(x), x, database=None, window=500)


# -- discovery on planted motifs ---------------------------------------------------------
def test_good_method_top_pattern_is_the_planted_motif(good, planted, db):
    top = good.iloc[0]
    assert top["pattern"] == "pos_patterns.pattern_0" and top["sign"] == "pos"
    assert top["best_match"] == "MA0139.2" and top["best_match_name"] == "CTCF"
    assert top["q_value"] < 0.05 and top["expected_q"] < 0.05
    assert top["status"] == "expected" and top["expected_match"] == "MA0139.2"
    # Seqlets are where CTCF was planted (coordinates in x, trimmed like the pattern).
    ctcf_sites = planted["sites"][planted["sites"].motif == "CTCF"]
    assert top["n_seqlets"] == len(top["seqlets"]) <= len(ctcf_sites)
    share, n_in = _overlap(top["seqlets"], ctcf_sites)
    assert share > 0.95 and n_in > 0.5 * len(ctcf_sites)
    assert all(end - start == top["length"] for _, start, end, _ in top["seqlets"])
    # The model ignores TP53, so no pattern matches the decoy.
    assert not (good["status"] == "decoy").any()
    # "MA0139" stands for CTCF: every CTCF matrix of the database counts.
    ctcf_ids = {db.ids[i] for i in db.find("CTCF")}
    assert good.attrs["expected"]["MA0139"][0] == "MA0139.2"
    assert set(good.attrs["expected"]["MA0139"]) == ctcf_ids and len(ctcf_ids) >= 2
    consensus = "".join("ACGT"[i] for i in np.argmax(top["pfm"], 1))
    ref = "".join("ACGT"[i] for i in planted["ctcf"].argmax(1))
    rc = ref[::-1].translate(str.maketrans("ACGT", "TGCA"))
    assert sum(a == b for a, b in zip(consensus, ref)) >= 12 or \
        sum(a == b for a, b in zip(consensus, rc)) >= 12


def test_confounded_model_reports_the_decoy(confounded, planted):
    pats = confounded.motifs
    assert set(pats["status"]) >= {"expected", "decoy"}
    decoy = pats[pats["status"] == "decoy"].iloc[0]
    assert decoy["decoy_match"] == "MA0106.3" and decoy["decoy_q"] < 0.05
    assert decoy["best_match_name"] == "TP53"
    share, n_in = _overlap(decoy["seqlets"], planted["sites"][planted["sites"].motif == "TP53"])
    assert share > 0.95 and n_in > 20
    # Per-sequence rows: motif_decoy_free is 0 exactly where a decoy-pattern seqlet lies.
    per = confounded.per_sequence
    assert set(per.loc[per.metric.str.startswith("motif_"), "method"]) == {"saliency"}  # no arms
    free = per[per.metric == "motif_decoy_free"].set_index("seq")["value"]
    decoy_seqs = {s[0] for s in decoy["seqlets"]}
    assert set(free.index[free == 0]) == decoy_seqs
    adverse = confounded.adverse_events
    flagged = set(adverse.loc[adverse.metric == "motif_decoy_free", "seq"])
    assert flagged == decoy_seqs
    assert adverse.loc[adverse.metric == "motif_decoy_free", "reason"].str.contains("decoy").all()
    summary = confounded.summary.set_index("metric")
    assert summary.loc["motif_decoy_free", "tier"] == 3
    assert summary.loc["motif_decoy_free", "value"] == pytest.approx(free.mean())
    recovered = confounded.tables["motif_recovery"].set_index("motif")
    assert bool(recovered.loc["MA0139.2", "recovered"])
    assert "MA1930.2" in recovered.loc["MA0139.2", "matrix_ids"]  # every CTCF matrix counts


def test_validation_report_round_trips_motif_table(confounded, tmp_path):
    path = confounded.to_json(tmp_path / "report.json")
    back = type(confounded).from_json(path)
    assert list(back.motifs["pattern"]) == list(confounded.motifs["pattern"])
    np.testing.assert_allclose(np.asarray(back.motifs["pfm"].iloc[0]),
                               np.asarray(confounded.motifs["pfm"].iloc[0]))


def test_motif_recovery_summary_and_adverse(good, confounded):
    result = motifs.motif_recovery(patterns={"good": good, "confounded": confounded.motifs},
                                   expected=["MA0139"])
    s = result.summary.set_index("method")
    assert s.loc["good", "recall"] == 1.0 and s.loc["confounded", "recall"] == 1.0
    assert s.loc["good", "top_pattern_status"] == "expected"
    assert s.loc["good", "n_decoy"] == 0 and s.loc["confounded", "n_decoy"] >= 1
    rec = result.recovery.set_index("method")
    assert rec.loc["good", "pattern"] == "pos_patterns.pattern_0"
    assert bool(rec.loc["good", "top_pattern"])
    bad = result.adverse[result.adverse.method == "confounded"]
    assert (bad["status"] == "decoy").any()
    assert bad.loc[bad.status == "decoy", "reason"].str.contains("MA0106.3").all()
    assert len(result.patterns) == len(good) + len(confounded.motifs)
    # A motif nobody recovers is reported as such, not dropped.
    missing = motifs.motif_recovery(patterns={"good": good}, expected=["MA0080"])
    assert not missing.recovery["recovered"].iloc[0]
    assert np.isnan(missing.recovery["q_value"].iloc[0])


def test_sequence_scores_by_hand():
    frame = pd.DataFrame({
        "seqlets": [[[0, 1, 5, "+"], [1, 3, 7, "-"]], [[1, 9, 13, "+"]], [[2, 0, 4, "+"]]],
        "status": ["expected", "decoy", "unmatched"],
    })
    out = motifs.recovery.sequence_scores(frame, 4)
    np.testing.assert_array_equal(out["motif_recovery"], [1.0, 0.5, 0.0, np.nan])
    np.testing.assert_array_equal(out["motif_decoy_free"], [1.0, 0.0, 1.0, np.nan])


def test_random_attributions_give_no_significant_match(db, planted):
    x = planted["x"]
    hyp = np.random.default_rng(5).normal(size=x.shape).astype("float32")
    attr = keras_iml.Attributions(hyp * x, method="random", hypothetical=hyp, inputs=x)
    result = motifs.motif_recovery({"random": attr}, database=db, expected=["MA0139"],
                                   modisco_options=MODISCO, n_threads=1, verbose=0)
    assert not result.patterns["significant"].any()
    assert set(result.patterns["status"]) <= {"unmatched"}
    summary = result.summary.iloc[0]
    assert summary["method"] == "random" and summary["n_expected"] == 1
    assert summary["recall"] == 0.0 and summary["n_known"] == 0
    assert not result.recovery["recovered"].any()
    assert len(result.adverse) == len(result.patterns)  # every pattern reported, none dropped


def test_constant_attributions_give_an_empty_table(planted):
    x = planted["x"][:20]
    frame = motifs.discover(np.zeros_like(x), x, database=None, verbose=0)
    assert len(frame) == 0 and list(frame.columns) == motifs.PATTERN_COLUMNS


def test_write_patterns_meme(good, tmp_path):
    path = motifs.write_patterns_meme(good, tmp_path / "patterns.meme")
    back = motifs.read_meme(path)
    assert back.ids == list(good["pattern"])
    assert back.names[0] == "MA0139.2 CTCF"
    np.testing.assert_allclose(back.pfms[0], np.asarray(good["pfm"].iloc[0]), atol=1e-5)


def test_metric_is_registered_lazily():
    from keras_iml import metrics

    assert "motif_recovery" in metrics.names()
    metric = metrics.get("motif_recovery", decoys=["MA0106"])
    assert metric.tier == 3 and metric.row_names() == ["motif_recovery", "motif_decoy_free"]
    assert metric.get_config()["decoys"] == ["MA0106"]
