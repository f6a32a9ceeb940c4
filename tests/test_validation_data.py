"""Oracle data for the validation tests (planted JASPAR sites, PWM models, test-only
methods), and tests of the PWM tools themselves.

Imported by the other test_validation*/test_metrics* modules.
"""

import functools

import numpy as np
import pytest

from keras_iml import dna
from keras_iml.datasets.planting import sample_site
from keras_iml.methods.base import AttributionMethod
from keras_iml.models.pwm import (
    best_match,
    load_motifs,
    pwm_model,
    scan,
    score_threshold,
)
from keras_iml.motifs.pfm import log_odds

TRUE_ID, DECOY_ID = "MA0139.2", "MA0035.4"  # CTCF 15 bp, GATA1 11 bp


@functools.lru_cache(maxsize=None)
def pfms():
    return {label.split()[0]: pfm for label, pfm in load_motifs([TRUE_ID, DECOY_ID])}


@functools.lru_cache(maxsize=None)
def planted(n=40, length=100, seed=0):
    """Random sequences with one CTCF site (mask 1) and one GATA1 decoy (mask 2) each."""
    rng = np.random.default_rng(seed)
    x = dna.random_sequences(n, length, rng=rng)
    mask = np.zeros((n, length), dtype=np.int8)
    true_pfm, decoy_pfm = pfms()[TRUE_ID], pfms()[DECOY_ID]
    for i in range(n):
        a = rng.integers(0, length - len(true_pfm) + 1)
        while True:
            b = rng.integers(0, length - len(decoy_pfm) + 1)
            if b + len(decoy_pfm) <= a or b >= a + len(true_pfm):
                break
        x[i, a : a + len(true_pfm)] = _consensus_like(true_pfm, rng)
        x[i, b : b + len(decoy_pfm)] = _consensus_like(decoy_pfm, rng)
        mask[i, a : a + len(true_pfm)] = 1
        mask[i, b : b + len(decoy_pfm)] = 2
    x.setflags(write=False)
    mask.setflags(write=False)
    return x, mask


def _consensus_like(pfm, rng):
    """A strong site: sampled from the PFM sharpened towards its consensus."""
    sharp = pfm**4 / (pfm**4).sum(1, keepdims=True)
    return sample_site(sharp, rng)


@functools.lru_cache(maxsize=None)
def true_model(length=100):
    return pwm_model(pfms()[TRUE_ID], length, name="ctcf_scanner")


@functools.lru_cache(maxsize=None)
def decoy_model(length=100):
    """A 'confounded' model: it scans the decoy motif instead of the true one."""
    return pwm_model(pfms()[DECOY_ID], length, name="gata_scanner")


class InputCopy(AttributionMethod):
    """Test-only: an 'attribution' that ignores the model (the input, weighted per base)."""

    name = "input_copy"

    def __init__(self):
        pass

    def attribute(self, function, x, rngs):
        return {"values": x * np.array([1.0, 2.0, 3.0, 4.0], np.float32)}


class RandomNoise(AttributionMethod):
    """Test-only: independent Gaussian noise (a stochastic method that explains nothing)."""

    name = "random_noise"
    stochastic = True

    def __init__(self):
        pass

    def attribute(self, function, x, rngs):
        return {"values": np.stack([r.standard_normal(x.shape[1:]) for r in rngs]).astype(np.float32)}


# -- tests of the PWM tools ----------------------------------------------------------------
def test_pwm_model_equals_numpy_scan_and_best_match():
    x, _ = planted()
    model = true_model()
    w = log_odds(pfms()[TRUE_ID], base=np.e)
    expected = scan(x, w).reshape(len(x), -1).max(1)
    np.testing.assert_allclose(model.predict(x, verbose=0)[:, 0], expected, rtol=1e-5, atol=1e-4)
    # Hand-computed score of one window on the forward strand.
    i, start = 3, 10
    hand = sum(w[j, x[i, start + j].argmax()] for j in range(len(w)))
    np.testing.assert_allclose(scan(x[i : i + 1], w)[0, start, 0], hand, rtol=1e-10)
    # Reverse strand: the reverse-complemented kernel scores the reverse complement.
    rc = dna.reverse_complement(x[i : i + 1])
    np.testing.assert_allclose(scan(x[i : i + 1], w)[0, :, 1], scan(rc, w)[0, ::-1, 0], rtol=1e-10)


def test_planted_sites_are_the_best_matches():
    x, mask = planted()
    start, _, _ = best_match(x, log_odds(pfms()[TRUE_ID], base=np.e))
    true_start = (mask == 1).argmax(1)
    assert (start == true_start).mean() >= 0.95


def test_score_threshold_has_the_stated_false_positive_rate():
    w = log_odds(pfms()[DECOY_ID], base=np.e)
    thr = score_threshold(w, pvalue=1e-3)
    background = dna.random_sequences(1000, 110, rng=5)
    rate = (scan(background, w, both_strands=False) >= thr).mean()
    assert 0.5e-3 < rate < 1.6e-3
    assert thr <= w.max(1).sum()


def test_score_threshold_of_a_short_motif_lets_the_best_site_count():
    # Three near-certain columns: a perfect match has probability 1/64 under a uniform
    # background, far above 1e-4, so the threshold is the best score itself; rounding
    # used to put it above the best score, so no site ever counted.
    w = np.log2(np.array([[0.97, 0.01, 0.01, 0.01]] * 3) / 0.25)
    thr = score_threshold(w, pvalue=1e-4)
    assert thr == w.max(1).sum()
    site = np.eye(4, dtype=np.float32)[[0, 0, 0]][None]
    assert scan(site, w, both_strands=False).max() >= thr - 1e-6


def test_load_motifs_forms_and_errors(tmp_path):
    from memelite.io import write_meme

    arr = np.full((6, 4), 0.25)
    assert load_motifs(arr)[0][1].shape == (6, 4)
    assert [k for k, _ in load_motifs({"a": arr, "b": TRUE_ID})] == ["a", "b"]
    path = tmp_path / "m.meme"
    write_meme(str(path), {"m1 test": pfms()[DECOY_ID].T})
    loaded = load_motifs(str(path))
    np.testing.assert_allclose(loaded[0][1], pfms()[DECOY_ID], atol=1e-3)
    with pytest.raises(ValueError, match="motifs"):
        load_motifs(np.ones((5, 3)))
    with pytest.raises(ValueError, match="JASPAR"):
        load_motifs(["not_a_motif"])
    with pytest.raises(ValueError, match="length"):
        pwm_model(arr, 3)


def test_plant_site_puts_a_draw_of_the_matrix_where_it_says():
    from keras_iml.datasets import plant_site

    rng = np.random.default_rng(5)
    x = dna.one_hot(["".join(rng.choice(list("ACGT"), 60)) for _ in range(40)])
    pfm = np.zeros((6, 4))
    pfm[np.arange(6), [0, 1, 2, 3, 3, 1]] = 1.0  # a certain site: ACGTTC
    planted, starts, strands = plant_site(x, pfm, np.random.default_rng(1))
    assert np.array_equal(x, dna.one_hot(dna.decode(x)))  # the input is not modified
    for seq, start, strand, before in zip(dna.decode(planted), starts, strands, dna.decode(x)):
        assert seq[start:start + 6] == ("GAACGT" if strand else "ACGTTC")
        assert seq[:start] + seq[start + 6:] == before[:start] + before[start + 6:]
    assert 0 < strands.sum() < 40 and len(set(starts)) > 10  # both strands, many places
    with pytest.raises(ValueError, match="x.shape"):
        plant_site(x[:, :, :3], pfm, rng)
    with pytest.raises(ValueError, match="longer than"):
        plant_site(x[:, :4], pfm, rng)
