"""The splicing benchmark: designed exons whose sites are known by construction, a small
splicing model trained on them, and the validation tiers on one of its per-position
targets."""

import numpy as np
import pytest

import keras

import keras_iml
from keras_iml import dna
from keras_iml.datasets import make_splicing

CLASSES = ["none", "acceptor", "donor"]


def _text(data, i, start, end):
    return dna.decode(data.x[i:i + 1])[0][start:end]


def test_the_design_holds_by_construction():
    data = make_splicing(n=40, length=200, exon_length=80, seed=3)
    assert (data.acceptor, data.donor) == (60, 139) and data.x.shape == (40, 200, 4)
    assert 0 < data.spliced.sum() < 40
    for i in range(len(data)):
        ag = _text(data, i, data.acceptor - 2, data.acceptor)
        gt = _text(data, i, data.donor + 1, data.donor + 3)
        assert (ag, gt) == (("AG", "GT") if data.spliced[i] else ("AC", "CT"))
        assert _text(data, i, data.donor - 1, data.donor + 1) == "AG"  # the exon ends in MAG
        assert _text(data, i, data.donor + 3, data.donor + 7) in ("AAGT", "GAGT")
    rows = data.elements
    for row in rows.itertuples():
        assert _text(data, row.seq, row.start, row.end) == row.bases
    enh = rows[rows.element == "enhancer"]
    assert (enh.bases == "GAAGAA").all() and len(enh) == 2 * len(data)
    assert (enh.start >= data.acceptor).all() and (enh.end <= data.donor - 2).all()
    tract = rows[rows.element == "polypyrimidine"].bases
    assert tract.map(lambda s: set(s) <= {"C", "T"} and len(s) == 15).all()
    labels = data.labels()
    assert (labels[data.spliced, data.acceptor] == 1).all() and (labels[data.spliced, data.donor] == 2).all()
    assert labels[~data.spliced].sum() == 0 and (labels > 0).sum() == 2 * data.spliced.sum()
    masks = {site: data.mask(site) for site in ("acceptor", "donor", "exon")}
    assert masks["donor"].sum(1).tolist() == [9] * len(data)  # MAG + GTRAGT
    assert not (masks["acceptor"] & masks["donor"]).any()


def test_seeded_and_flanked():
    a, b = make_splicing(n=8, seed=5), make_splicing(n=8, seed=5)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, make_splicing(n=8, seed=6).x)
    long = make_splicing(n=3, length=200, flank=100, seed=5)
    assert long.x.shape == (3, 400, 4) and long.acceptor == 160 and long.context == 200
    assert long.target("donor") == ("donor", long.donor - 100)
    assert long.target("acceptor", window=2) == ("acceptor", slice(58, 63))
    assert long.labels().shape == (3, 200)
    assert (long.labels()[long.spliced, long.acceptor - 100] == 1).all()


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 0}, r"`n` must be an int >= 1. Received: n=0"),
    ({"exon_length": 10}, r"exon_length=10"),
    ({"length": 100, "exon_length": 80}, r"need 160 bases.*length=100"),
    ({"decoy_fraction": 1.5}, r"decoy_fraction=1.5"),
    ({"flank": -1}, r"flank=-1"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_splicing(**kwargs)


def test_bad_sites_are_named():
    data = make_splicing(n=2)
    with pytest.raises(ValueError, match=r"site='branch'"):
        data.mask("branch")
    with pytest.raises(ValueError, match=r"'acceptor' or 'donor'. Received: site='exon'"):
        data.target("exon")


@pytest.fixture(scope="module")
def splicer():
    """A small splicing CNN (receptive field 31 bases) trained on the benchmark."""
    keras.utils.set_random_seed(0)
    data = make_splicing(n=3000, length=200, seed=0)
    inp = keras.Input((None, 4))
    h = keras.layers.Conv1D(16, 11, padding="same", activation="relu")(inp)
    h = keras.layers.Conv1D(16, 11, padding="same", activation="relu", dilation_rate=2)(h)
    out = keras.layers.Conv1D(3, 1, activation="softmax")(h)
    model = keras.Model(inp, out)
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    weights = np.where(data.labels() > 0, 50.0, 1.0).astype("float32")  # 2 sites in 200 positions
    model.fit(data.x, data.labels(), sample_weight=weights, epochs=6, batch_size=64, verbose=0)
    return keras_iml.wrap(model, metadata={"classes": CLASSES})


def test_the_small_splicer_calls_the_designed_sites_and_not_the_decoys(splicer):
    test = make_splicing(n=200, seed=1)
    p = splicer.predict(test.x, verbose=0)
    assert p[test.spliced, test.donor, 2].mean() > 0.8 > 0.2 > p[~test.spliced, test.donor, 2].mean()
    assert p[test.spliced, test.acceptor, 1].mean() > 0.8 > 0.2 > p[~test.spliced, test.acceptor, 1].mean()


def test_the_donor_target_is_localised_on_the_donor_site_above_placebo(splicer):
    test = make_splicing(n=64, seed=2, decoy_fraction=0.0)
    attr = splicer.explain(test.x, "saliency", target=test.target("donor"))
    mass = np.abs(attr.values).sum(-1)
    donor, acceptor = test.mask("donor"), test.mask("acceptor")
    assert (mass * donor).sum() / mass.sum() > 5 * donor.mean()  # 9 of 200 bases: 4.5 %
    assert (mass * acceptor).sum() == 0  # 79 bases away: outside the model's 31-base field
    report = splicer.validate(test.x, ground_truth=donor, target=test.target("donor"),
                              methods=["saliency", "ism"], verbose=0, seed=0)
    s = report.summary.set_index(["metric", "method"])
    for method in ("saliency", "ism"):
        row = s.loc[("localisation_auroc", method)]
        assert row.value > 0.9 and bool(row.beats_placebo) and bool(row.passed), row
