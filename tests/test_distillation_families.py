"""Confounders nobody named: the ``families`` library, its ``family:<name>`` rows and the
per-base out-of-distribution rows, on a PWM oracle and its twin that also leans on a
T run (an effect planted by construction, in motif units)."""

import numpy as np
import pytest

import keras
from keras_iml.models.pwm import pwm_model
from keras_iml.surrogate import distill, findings, libraries, truth
from keras_iml.surrogate.family_library import FAMILIES

from conftest import oracle_pfm, planted_sites

L = 80
KNOWN = truth.Truth([("TRUE", oracle_pfm())], [])
LIBS = ["shuffle", {"class_name": "implant", "config": {"copies": [0, 1]}}, "families", "out_of_distribution"]


def test_the_family_library_implants_what_it_says():
    q = libraries.get("families").sample(None, 400, np.random.default_rng(0), length=60)
    design = q.design
    assert set(design.family) == set(FAMILIES) and design.family.value_counts().min() == 50
    for row, codes in zip(design.itertuples(), q.codes):
        member = "".join("ACGT"[b] for b in codes[row.start:row.start + row.width])
        assert member == row.unit and 8 <= row.width <= 12
        bases = set(member)
        if row.family.startswith("poly_"):
            assert bases == {row.family[-1]}
        elif row.family == "gc_rich":
            assert bases <= {"G", "C"}
        elif row.family == "at_rich":
            assert bases <= {"A", "T"}
        else:
            period = 2 if row.family == "dinucleotide_repeat" else 3
            assert len(bases) > 1 and all(member[i] == member[i % period] for i in range(len(member)))
    again = libraries.get("families").sample(None, 400, np.random.default_rng(0), length=60)
    np.testing.assert_array_equal(q.codes, again.codes)


@pytest.mark.parametrize("config, match", [
    ({"families": ["poly_X"]}, r"families"),
    ({"width": (8, 100)}, r"`width` must not exceed the sequence length 60"),
])
def test_bad_family_options_are_named(config, match):
    with pytest.raises(ValueError, match=match):
        libraries.get({"class_name": "families", "config": config}).sample(
            None, 10, np.random.default_rng(0), length=60)


def _unit(d):
    return findings._Run(d, KNOWN, None, 0.05, 1000, None).unit


def _with_t_run(clean, scale):
    """``clean`` plus ``scale`` wherever the sequence holds a run of 8 T (forward strand)."""
    inputs = keras.Input((L, 4))
    detector = keras.layers.Conv1D(1, 8, activation="relu", name="t_run")
    hits = detector(inputs)
    detector.set_weights([np.tile(np.array([0.0, 0.0, 0.0, 1.0])[None, :, None], (8, 1, 1)), np.array([-7.0])])
    run = keras.layers.Rescaling(scale)(keras.layers.GlobalMaxPooling1D()(hits))
    return keras.Model(inputs, keras.layers.Add()([clean(inputs), run]))


def _distil(model, x):
    return distill(model, x, libraries=LIBS, surrogates=["additive"], motifs={"TRUE": oracle_pfm()},
                   n_queries=4000, holdout=0.5, seed=0, verbose=0)


def test_a_run_confounder_at_three_quarters_of_a_motif_is_found_and_the_clean_twin_stays_clean():
    x, _ = planted_sites(n=24, length=L, seed=0)
    clean = pwm_model(oracle_pfm(), L)
    d_clean = _distil(clean, x)
    unit = _unit(d_clean)
    d_run = _distil(_with_t_run(clean, 0.75 * unit), x)
    for name, d in (("clean", d_clean), ("run", d_run)):
        table = findings.confounders(d, KNOWN).set_index("feature")
        fam = table[table.index.str.startswith("family:")]
        assert sorted(fam.index) == sorted(f"family:{f}" for f in FAMILIES)
        assert fam.positive_control.all()  # each family could have been found
        found = sorted(fam.index[fam.finding])
        assert found == (["family:poly_T"] if name == "run" else []), (name, fam)
    table = findings.confounders(d_run, KNOWN).set_index("feature")
    assert table.loc["family:poly_T", "effect"] == pytest.approx(0.75, abs=0.05)
    assert table.loc["family:poly_T", "effect"] > table.loc["family:poly_T", "placebo_high"]
    blind = {name: findings.blind_spots(d, KNOWN).set_index("feature").effect
             for name, d in (("clean", d_clean), ("run", d_run))}
    assert {f"ood:homopolymer:{b}" for b in "ACGT"} <= set(blind["run"].index)
    # the run's own base, alone, moves; pooled over the four bases it was diluted
    assert blind["run"]["ood:homopolymer:T"] - blind["clean"]["ood:homopolymer:T"] > 0.5
    for base in "ACG":
        assert abs(blind["run"][f"ood:homopolymer:{base}"] - blind["clean"][f"ood:homopolymer:{base}"]) < 0.05


def test_a_family_the_truth_explains_is_not_a_confounder():
    x, _ = planted_sites(n=8, length=L, seed=1)
    d = _distil(pwm_model(oracle_pfm(), L), x)
    t_motif = np.tile([[0.01, 0.01, 0.01, 0.97]], (10, 1))
    with_t = truth.Truth([("TRUE", oracle_pfm()), ("TRUN", t_motif)], [])
    features = set(findings.confounders(d, with_t).feature)
    assert "family:poly_T" not in features and "family:poly_A" not in features  # T run on either strand
    assert "family:poly_C" in features
