"""The TF-binding benchmark generator: motifs, placement, masks, grammar and decoys."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from keras_iml import dna
from keras_iml.datasets import background, load_motif, make_tf_binding

N, L = 600, 200


@pytest.fixture(scope="module")
def mixed():
    return make_tf_binding(N, L, grammar="mixed", seed=3)


def _revcomp(site):
    return site[::-1].translate(str.maketrans("ACGT", "TGCA"))


# -- JASPAR ------------------------------------------------------------------------
def test_load_motif_offline():
    ctcf = load_motif("MA0139.2")
    assert (ctcf.motif_id, ctcf.name, ctcf.length) == ("MA0139.2", "CTCF", 15)
    np.testing.assert_allclose(ctcf.pfm.sum(1), 1.0)
    # the core of the CTCF consensus (JASPAR: ...CCAGCAGGGGGCGC...) is the GGGGGCG run
    assert "CCA" in ctcf.consensus and "GGGG" in ctcf.consensus
    assert load_motif("MA0139").motif_id.startswith("MA0139.")  # latest version


def test_unknown_jaspar_id_names_the_argument():
    with pytest.raises(ValueError, match=r"single_motif.*MA9999\.9"):
        make_tf_binding(10, 100, grammar="single", single_motif="MA9999.9")
    with pytest.raises(ValueError, match="decoys"):
        make_tf_binding(10, 100, grammar="single", decoys=["NOT_AN_ID"])
    with pytest.raises(ValueError, match="release"):
        load_motif("MA0139.2", release="JASPAR1999")


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match=r"single_motif.*15 bp.*length=10"):
        make_tf_binding(10, 10, grammar="single", decoys=())
    with pytest.raises(ValueError, match=r"gc=1\.3"):
        make_tf_binding(10, 100, gc=1.3)
    with pytest.raises(ValueError, match="gc_shift"):
        make_tf_binding(10, 100, gc=0.8, gc_shift=0.3)
    with pytest.raises(ValueError, match="grammar"):
        make_tf_binding(10, 100, grammar="xor")
    with pytest.raises(ValueError, match="orientation"):
        make_tf_binding(10, 100, grammar="and", orientation="sideways")
    with pytest.raises(ValueError, match="spacing"):
        make_tf_binding(10, 100, grammar="and", spacing=(5, 2))
    with pytest.raises(ValueError, match="spacing"):
        make_tf_binding(10, 100, grammar="and", spacing=4)
    with pytest.raises(ValueError, match="decoy_rate"):
        make_tf_binding(10, 100, decoy_rate=1.5)
    with pytest.raises(ValueError, match="length"):  # fits alone, not all together
        make_tf_binding(20, 40, grammar="dose", dose=3, decoy_rate=1.0)


# -- determinism -------------------------------------------------------------------
def test_deterministic_under_seed(mixed):
    again = make_tf_binding(N, L, grammar="mixed", seed=3)
    np.testing.assert_array_equal(again.x, mixed.x)
    np.testing.assert_array_equal(again.y, mixed.y)
    pd.testing.assert_frame_equal(again.instances, mixed.instances)
    other = make_tf_binding(N, L, grammar="mixed", seed=4)
    assert not np.array_equal(other.x, mixed.x)


# -- placement, strands and masks ---------------------------------------------------
def test_every_instance_at_its_position_and_strand(mixed):
    seqs = dna.decode(mixed.x)
    table = mixed.instances
    assert len(table) > N  # decoys + grammar sites
    for row in table.itertuples():
        planted = seqs[row.seq][row.start : row.end]
        expected = row.site if row.strand == "+" else _revcomp(row.site)
        assert planted == expected, row
        motif = mixed.motifs[row.motif_id]
        assert row.end - row.start == motif.length
        # the recorded score is the PWM log-odds of the bases read on the recorded strand
        codes = dna.one_hot(planted)[0]
        if row.strand == "-":
            codes = dna.reverse_complement(codes)
        assert np.isclose((codes * motif.log_odds()).sum(), row.score, atol=1e-4)


def test_strand_is_where_the_pfm_scans_best():
    """An independent check of strand and start: scan CTCF's PWM over both strands."""
    data = make_tf_binding(300, 150, grammar="single", decoys=(), seed=11)
    pwm = data.motifs["MA0139.2"].log_odds()
    w = pwm.shape[0]
    hits = 0
    rows = data.instances
    for row in rows.itertuples():
        x = data.x[row.seq]
        windows = np.lib.stride_tricks.sliding_window_view(x, (w, 4))[:, 0]
        fwd = (windows * pwm).sum((1, 2))
        rev = (windows * pwm[::-1, ::-1]).sum((1, 2))
        best = np.unravel_index(np.argmax(np.stack([fwd, rev])), (2, len(fwd)))
        hits += (best[1] == row.start) and ("+-"[best[0]] == row.strand)
    assert len(rows) == int(data.y.sum()) == 150
    assert hits / len(rows) >= 0.97


def test_masks_match_the_instance_table(mixed):
    true = np.zeros_like(mixed.true_mask)
    decoy = np.zeros_like(mixed.decoy_mask)
    for row in mixed.instances.itertuples():
        (true if row.role == "true" else decoy)[row.seq, row.start : row.end] = True
    np.testing.assert_array_equal(true, mixed.true_mask)
    np.testing.assert_array_equal(decoy, mixed.decoy_mask)
    assert not (mixed.true_mask & mixed.decoy_mask).any()  # sites never overlap
    gt = mixed.ground_truth
    assert set(np.unique(gt)) == {0, 1, 2}
    np.testing.assert_array_equal(gt == 1, mixed.true_mask)
    assert set(mixed.instances.role) == {"true", "decoy"}


def test_subset_renumbers_consistently(mixed):
    idx = np.array([5, 1, 42])
    sub = mixed.subset(idx)
    np.testing.assert_array_equal(sub.x, mixed.x[idx])
    for new, old in enumerate(idx):
        a = sub.instances[sub.instances.seq == new].drop(columns="seq").reset_index(drop=True)
        b = mixed.instances[mixed.instances.seq == old].drop(columns="seq").reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)


# -- grammar and decoys -------------------------------------------------------------
def _pair_ok(sites, spacing=(2, 8), orientation="same"):
    """Whether SPI1 then IRF8 sit at an allowed gap in the allowed orientation."""
    a = sites[sites.motif_id == "MA0080.7"]
    b = sites[sites.motif_id == "MA0652.2"]
    for ra in a.itertuples():
        for rb in b.itertuples():
            same = ra.strand == rb.strand
            if same != (orientation == "same"):
                continue
            gap = rb.start - ra.end if ra.strand == "+" else ra.start - rb.end
            if spacing[0] <= gap <= spacing[1]:
                return True
    return False


def test_labels_follow_the_grammar(mixed):
    table = mixed.instances[mixed.instances.role == "true"]
    expected = np.zeros(N)
    for i in range(N):
        sites = table[table.seq == i]
        single = (sites.motif_id == "MA0139.2").any()
        dose = (sites.motif_id == "MA0138.3").sum() >= 2
        expected[i] = single or dose or _pair_ok(sites)
    np.testing.assert_array_equal(expected, mixed.y)
    assert mixed.y.mean() == 0.5
    # negatives carry near misses of every kind, so the rules are not trivial
    rules = set(table.loc[mixed.y[table.seq] == 0, "rule"])
    assert rules == {"and_partial", "and_misarranged", "dose_below"}
    assert set(table.loc[mixed.y[table.seq] == 1, "rule"]) == {"single", "and", "dose"}


def test_opposite_orientation_grammar():
    data = make_tf_binding(200, 150, grammar="and", orientation="opposite", spacing=(0, 3),
                           decoys=(), seed=5)
    table = data.instances
    for i in range(len(data)):
        assert _pair_ok(table[table.seq == i], (0, 3), "opposite") == bool(data.y[i])


def test_decoys_are_planted_at_equal_rates_in_both_classes():
    data = make_tf_binding(3000, 120, grammar="single", decoy_rate=0.4, seed=0)
    decoys = data.instances[data.instances.role == "decoy"]
    for motif_id in ("MA0035.4", "MA0058.3"):
        carriers = np.zeros(len(data), dtype=bool)
        carriers[decoys.loc[decoys.motif_id == motif_id, "seq"]] = True
        table = [[np.sum(carriers & (data.y == c)), np.sum(~carriers & (data.y == c))] for c in (0, 1)]
        rate_neg, rate_pos = (t[0] / sum(t) for t in table)
        assert abs(rate_neg - 0.4) < 0.04 and abs(rate_pos - 0.4) < 0.04
        assert stats.fisher_exact(table).pvalue > 0.01  # no association with the label


def test_confounders_shift_gc_and_decoy_position():
    data = make_tf_binding(800, 200, grammar="single", decoys=("MA0058.3",), decoy_rate=1.0,
                           gc=0.4, gc_shift=0.2, positional_bias=1.0, seed=2)
    bg = ~(data.true_mask | data.decoy_mask)
    gc = np.where(bg[..., None], data.x, 0)[..., 1:3].sum((1, 2)) / bg.sum(1)
    assert abs(gc[data.y == 1].mean() - 0.6) < 0.01 and abs(gc[data.y == 0].mean() - 0.4) < 0.01
    decoys = data.instances[data.instances.role == "decoy"]
    positive = data.y[decoys.seq] == 1
    assert (decoys.end[positive] <= 100).all() and (decoys.start[~positive] >= 100).all()


# -- backgrounds --------------------------------------------------------------------
def test_iid_and_markov_backgrounds_have_the_set_composition():
    rng = np.random.default_rng(0)
    codes = background.iid_codes(500, 200, 0.3, rng)
    assert abs(np.isin(codes, (1, 2)).mean() - 0.3) < 0.01
    codes = background.markov_codes(1000, 300, 0.45, rng, cpg_ratio=0.2)
    c, g = (codes == 1).mean(), (codes == 2).mean()
    cpg = ((codes[:, :-1] == 1) & (codes[:, 1:] == 2)).mean()
    assert abs(c + g - 0.45) < 0.01
    assert abs(cpg / (c * g) - 0.2) < 0.03


def test_dinuc_background_keeps_the_source_dinucleotides():
    rng = np.random.default_rng(1)
    source = dna.random_sequences(5, 80, gc=0.6, rng=rng)
    out = background.dinuc_codes(20, 80, rng, source=source)
    src_codes = source.argmax(-1)
    counts = lambda c: np.bincount(c[:-1] * 4 + c[1:], minlength=16)  # noqa: E731
    source_counts = {tuple(counts(s)) for s in src_codes}
    assert all(tuple(counts(o)) in source_counts for o in out)
    assert not any((o == s).all() for o in out for s in src_codes)
    data = make_tf_binding(50, 80, grammar="single", background="dinuc", background_source=source,
                           decoys=(), seed=0)
    assert data.x.shape == (50, 80, 4)
    with pytest.raises(ValueError, match="background_source"):
        make_tf_binding(10, 81, background="dinuc", background_source=source)


def test_custom_matrices_plant_their_exact_site():
    """A 0/1 matrix has one possible site: every planted instance must read it."""
    pfm = dna.one_hot("GATTACAGG")[0] * 10
    decoy = dna.one_hot("CCCCTTTT")[0]
    data = make_tf_binding(60, 50, grammar="single", single_motif=pfm, decoys=decoy, seed=1)
    seqs = dna.decode(data.x)
    assert set(data.instances.motif_id) == {"custom_0", "custom_100"}
    for row in data.instances.itertuples():
        site = "GATTACAGG" if row.role == "true" else "CCCCTTTT"
        assert row.site == site
        expected = site if row.strand == "+" else _revcomp(site)
        assert seqs[row.seq][row.start : row.end] == expected
    assert {"+", "-"} <= set(data.instances.strand)
