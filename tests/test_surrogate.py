"""Interpretable distillation (keras_iml.surrogate): libraries, surrogates and distill().

Oracles with a known mechanism: an additive model (its matrix must come back), a
PWM scanner (the local additive surrogate must find the PWM at the site) and a GC
counter (the k-mer surrogate must weight GC-rich k-mers)."""

import json

import numpy as np
import pytest

import keras
import keras_iml
from keras_iml.models.pwm import pwm_model
from keras_iml.motifs.pfm import log_odds
from keras_iml import testing
from keras_iml.surrogate import distill, libraries, models
from sklearn.linear_model import Ridge

from conftest import make_linear

L = 32
PFM = np.full((6, 4), 0.02)
PFM[np.arange(6), [0, 2, 3, 1, 1, 2]] = 0.94  # AGTCCG
MOTIFS = {"m1": PFM}


def _gc_model(length=L):
    """f(x) = number of G or C bases: a model that only counts GC."""
    model = keras.Sequential([keras.Input((length, 4)), keras.layers.Flatten(), keras.layers.Dense(1)])
    w = np.tile(np.array([0.0, 1.0, 1.0, 0.0], np.float32), length).reshape(-1, 1)
    model.set_weights([w, np.zeros(1, np.float32)])
    return model


@pytest.fixture(scope="module")
def linear_run():
    model = make_linear(L, seed=3)
    result = distill(model, n_queries=3000, motifs=MOTIFS, surrogates=("additive", "kmer", "pairwise"),
                     verbose=0, seed=0)
    return model, result


def test_additive_surrogate_recovers_the_additive_oracle(linear_run):
    model, result = linear_run
    w = model.get_weights()[0].reshape(L, 4)
    w = w - w.mean(1, keepdims=True)
    matrix = result.surrogates["additive"].matrix_
    assert matrix.shape == (L, 4)
    np.testing.assert_allclose(matrix.mean(1), 0, atol=1e-9)
    assert np.corrcoef(w.ravel(), matrix.ravel())[0, 1] >= 0.95
    additive = result.fidelity[result.fidelity.surrogate == "additive"].set_index("library")
    assert set(additive.index) == set(keras_iml.surrogate.DEFAULT_LIBRARIES)
    assert len(keras_iml.surrogate.DEFAULT_LIBRARIES) == 7
    assert (additive["r2"] > 0.99).all(), additive
    assert (additive["n"] > 0).all()
    # the responses hold the design, the model and every surrogate
    table = result.responses["implant"]
    assert {"motif", "copies", "position", "orientation", "spacing", "model", "additive", "kmer",
            "pairwise"} <= set(table.columns)


def test_local_additive_recovers_a_pwm_scanner_at_its_site():
    rng = np.random.default_rng(0)
    model = pwm_model(PFM, 40)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (3, 40))]
    x[1, 12:18] = np.eye(4)[PFM.argmax(1)]
    result = distill(model, x, libraries=["shuffle"], n_queries=200, verbose=0,
                     surrogates=[{"name": "local_additive", "parent": 1, "rate": 0.05, "n_queries": 1000}])
    site = result.surrogates["local_additive"].matrix_[12:18]
    truth = log_odds(PFM, base=np.e)
    truth -= truth.mean(1, keepdims=True)
    assert np.corrcoef(site.ravel(), truth.ravel())[0, 1] >= 0.95
    fid = result.fidelity.set_index("library")
    assert fid.loc["mutagenesis@1", "r2"] > 0.9  # faithful around its sequence...
    assert fid.loc["shuffle", "r2"] < 0.5  # ...and not elsewhere: a max is not additive
    assert (result.responses["mutagenesis@1"]["parent"] == 1).all()


def test_gc_counting_model_gives_gc_rich_kmers_and_faithful_additive():
    result = distill(_gc_model(), n_queries=3000, verbose=0, seed=1,
                     libraries=("mutagenesis", "shuffle", "gc_shift", "kmer_shift", "out_of_distribution"))
    weights = result.surrogates["kmer"].weights_
    top = weights.sort_values(ascending=False).index[:8]
    assert all(sum(b in "GC" for b in kmer) >= 3 for kmer in top), list(top)
    n_gc = np.array([sum(b in "GC" for b in kmer) for kmer in weights.index])
    assert np.corrcoef(n_gc, weights)[0, 1] > 0.9
    fid = result.fidelity.set_index(["library", "surrogate"])
    assert fid.loc[("gc_shift", "additive"), "r2"] > 0.95
    assert fid.loc[("gc_shift", "kmer"), "r2"] > 0.9
    assert "implant" not in result.libraries


def test_pairwise_surrogate_exposes_a_motif_pair_interaction():
    """f = relu(best m1 score) * relu(best m2 score): only the motif grammar is faithful."""
    pfm2 = np.full((6, 4), 0.02)
    pfm2[np.arange(6), [3, 3, 0, 2, 0, 1]] = 0.94  # TTAGAC
    kernel = np.stack([log_odds(PFM, base=np.e), log_odds(pfm2, base=np.e)], -1).astype("float32")
    inputs = keras.Input((40, 4))
    conv = keras.layers.Conv1D(2, 6, use_bias=False)
    h = keras.layers.ReLU()(keras.layers.GlobalMaxPooling1D()(conv(inputs)))
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: t[:, :1] * t[:, 1:])(h))
    conv.set_weights([kernel])
    result = distill(model, n_queries=3000, motifs={"m1": PFM, "m2": pfm2}, verbose=0, seed=0,
                     surrogates=("additive", "pairwise"),  # the model scans the + strand only
                     libraries=[{"name": "implant", "orientation": ("+",)}, "shuffle"])
    fid = result.fidelity.set_index(["library", "surrogate"])["r2"]
    assert fid["implant", "pairwise"] > 0.5 and fid["implant", "pairwise"] > fid["implant", "additive"] + 0.5
    top = result.surrogates["pairwise"].weights_.sort_values(ascending=False).index[:3]
    assert "pair:m1&m2" in top, list(top)


def test_same_seed_same_libraries_and_coefficients_any_batch_size():
    # (each library's own draws are checked by keras_iml.testing.library_checks below)
    model = make_linear(L, seed=1)
    kw = dict(n_queries=2500, motifs=MOTIFS, verbose=0, seed=7)
    r1 = distill(model, batch_size=512, **kw)
    r2 = distill(model, batch_size=37, **kw)
    for name in r1.responses:
        np.testing.assert_allclose(r1.responses[name]["model"], r2.responses[name]["model"], rtol=1e-5, atol=1e-5)
        assert r1.responses[name].drop(columns=["model", "additive", "kmer"]).equals(
            r2.responses[name].drop(columns=["model", "additive", "kmer"]))
    for key in ("additive", "kmer"):
        np.testing.assert_allclose(r1.surrogates[key].coef_, r2.surrogates[key].coef_, atol=1e-5)
    assert {n: v["seed"] for n, v in r1.libraries.items()} == {n: v["seed"] for n, v in r2.libraries.items()}
    r3 = distill(model, batch_size=512, **{**kw, "seed": 8})
    assert not np.allclose(r1.surrogates["kmer"].coef_, r3.surrogates["kmer"].coef_)


@pytest.mark.parametrize("name, options", [("additive", {}), ("kmer", {"k": 3}),
                                           ("pairwise", {"motifs": MOTIFS})])
def test_streaming_fit_equals_one_shot_sklearn_ridge(name, options):
    rng = np.random.default_rng(0)
    q = libraries.get("implant", motifs=MOTIFS).sample(None, 900, rng, length=L)
    y = rng.normal(size=900) + q.x[:, 5, 2] * 3 + q.x.sum((1,))[:, 1]
    streamed = models.get(name, alpha=0.05, **options).fit_stream(
        (q.x[i : i + 250], y[i : i + 250]) for i in range(0, 900, 250))
    features = streamed.features(q.x)
    # the relative penalty: alpha times the features' summed squared deviations per feature
    penalty = 0.05 * ((features - features.mean(0)) ** 2).sum() / features.shape[1]
    np.testing.assert_allclose(streamed.penalty_, penalty, rtol=1e-9)
    ridge = Ridge(alpha=penalty).fit(features, y)
    np.testing.assert_allclose(streamed.coef_, ridge.coef_, atol=1e-5)
    np.testing.assert_allclose(streamed.intercept_, ridge.intercept_, atol=1e-5)
    one_shot = models.get(name, alpha=0.05, **options).fit(q.x, y)
    np.testing.assert_allclose(one_shot.coef_, streamed.coef_, atol=1e-5)
    np.testing.assert_allclose(one_shot.predict(q.x), streamed.predict(q.x), atol=1e-5)
    assert set(one_shot.score(q.x, y)) == {"r2", "spearman"}


@pytest.mark.parametrize("call, match", [
    (lambda: libraries.get("mutagenesis", rate=1.5).sample(None, 5, np.random.default_rng(0), length=L),
     "Received: rate=1.5"),
    (lambda: distill(make_linear(L), libraries=[{"name": "mutagenesis", "rate": 1.5}], verbose=0),
     "Received: rate=1.5"),
    (lambda: distill(make_linear(L), holdout=1.5, verbose=0), "Received: holdout=1.5"),
    (lambda: distill(make_linear(L), n_queries=0, verbose=0), "Received: n_queries=0"),
    (lambda: distill(make_linear(L), surrogates=[{"name": "additive", "alpha": -1}], verbose=0),
     "Received: alpha=-1"),
    (lambda: distill(make_linear(L), libraries=["nope"], verbose=0), "Unknown library"),
    (lambda: libraries.get("gc_shift", gc_range=(0.9, 0.1)).sample(None, 5, np.random.default_rng(0), length=L),
     "Received: gc_range"),
    (lambda: libraries.get("implant", motifs=MOTIFS, copies=(9,)).sample(
        None, 5, np.random.default_rng(0), length=L), "Received: copies"),
    (lambda: libraries.get("out_of_distribution", kinds=("cats",)).sample(
        None, 5, np.random.default_rng(0), length=L), "Received: kinds"),
    (lambda: models.get("kmer", k=0).fit(np.eye(4)[np.zeros((3, L), int)], np.arange(3.0)), "Received: k=0"),
])
def test_bad_options_raise_value_error_naming_them(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_memory_flat_in_the_number_of_queries():
    model = make_linear(L, seed=2)
    small = distill(model, n_queries=600, max_responses=20, verbose=0)
    large = distill(model, n_queries=2400, max_responses=20, verbose=0)
    assert small.params["n_queried"] == 600 and large.params["n_queried"] == 2400
    for name in small.responses:
        assert len(small.responses[name]) == len(large.responses[name]) == 20
        assert large.libraries[name]["n_train"] == 2400 // len(large.libraries) - 20
    assert small.surrogates["additive"].coef_.shape == large.surrogates["additive"].coef_.shape


def test_implant_design_matches_the_sequences_and_missing_motifs_are_recorded():
    one_hot_pfm = np.eye(4)[[0, 2, 3, 1, 1, 2]]
    q = libraries.get("implant", motifs={"s": one_hot_pfm}, copies=(2,), spacing=(10,)).sample(
        None, 30, np.random.default_rng(0), length=L)
    for i, row in q.design.iterrows():
        site = q.codes[i, row.position : row.position + 6]
        second = q.codes[i, row.position + 10 : row.position + 16]
        expected = [0, 2, 3, 1, 1, 2] if row.orientation == "+" else [1, 2, 2, 0, 1, 3]
        assert list(site) == expected and list(second) == expected and row.spacing == 10
    result = distill(make_linear(L), n_queries=300, surrogates=("additive", "pairwise"), verbose=0)
    assert "implant" in result.reasons and "pairwise" in result.reasons
    assert "implant" not in result.libraries and set(result.surrogates) == {"additive"}


def test_references_given_or_generated_are_recorded():
    rng = np.random.default_rng(0)
    refs = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (5, L))]
    with_refs = libraries.get("mutagenesis", rate=0.2).sample(refs, 50, rng)
    assert (with_refs.design.source == "reference").all() and with_refs.design.parent.between(0, 4).all()
    n_mut = (with_refs.x != refs[with_refs.design.parent]).any(-1).sum(1)
    np.testing.assert_array_equal(n_mut, with_refs.design.n_mutations)
    generated = libraries.get("shuffle").sample(None, 10, rng, length=L)
    assert (generated.design.source == "generated").all() and (generated.design.parent == -1).all()
    result = distill(make_linear(L), n_queries=300, libraries=("shuffle",), verbose=0)
    assert result.params["references"].startswith("generated")


def test_wrapper_export_alphabet_and_json():
    model = make_linear(L, seed=4)
    base = keras_iml.wrap(model).distill(n_queries=600, libraries=("mutagenesis", "gc_shift"), verbose=0)
    assert keras_iml.distill is distill
    # the same model reading TGCA columns: same mechanism once the encoding is accounted for
    w = model.get_weights()[0].reshape(L, 4)
    order = ["ACGT".index(c) for c in "TGCA"]
    permuted = make_linear(L)
    permuted.set_weights([w[:, order].reshape(-1, 1), model.get_weights()[1]])
    other = keras_iml.wrap(permuted, alphabet="TGCA").distill(
        n_queries=600, libraries=("mutagenesis", "gc_shift"), verbose=0)
    np.testing.assert_allclose(base.surrogates["additive"].matrix_, other.surrogates["additive"].matrix_,
                               atol=1e-4)
    data = json.loads(json.dumps(base.to_dict(responses=True), allow_nan=False))
    assert {"fidelity", "summary", "surrogates", "libraries", "params", "reasons", "responses"} <= set(data)
    assert len(data["surrogates"]["additive"]["matrix"]) == L
    summary = base.summary()
    assert list(summary.surrogate) == ["additive", "kmer"] and summary.r2_mean.notna().all()


# -- every registered surrogate and library: the common checks of keras_iml.testing -------
SURROGATE_CHECKS = [(n, c, f) for n in models.names() for c, f in testing.surrogate_checks(n)]
LIBRARY_CHECKS = [(n, c, f) for n in libraries.names() for c, f in testing.library_checks(n)]


@pytest.mark.parametrize("name, check_name, check", SURROGATE_CHECKS,
                         ids=[f"{n}-{c}" for n, c, _ in SURROGATE_CHECKS])
def test_surrogate(name, check_name, check):
    check()


@pytest.mark.parametrize("name, check_name, check", LIBRARY_CHECKS,
                         ids=[f"{n}-{c}" for n, c, _ in LIBRARY_CHECKS])
def test_library(name, check_name, check):
    check()


def test_kmer_counts_pool_a_kmer_with_its_reverse_complement_as_counted_by_hand():
    from keras_iml.surrogate._features import KmerCounter

    x = keras_iml.dna.one_hot(["ACGTTA"])
    counter = KmerCounter(2)
    features = dict(zip(counter.names, counter(x)[0]))
    # 2-mers AC CG GT TT TA, each an occurrence on one strand of itself and on the
    # other of its complement; a palindrome occurs on both strands at once
    assert features["AC"] == 1 + 1  # AC, and GT (AC on the reverse strand)
    assert features["CG"] == 2 and features["TA"] == 2  # palindromes: both strands
    assert features["AA"] == 1  # TT is AA on the reverse strand
    assert features["AG"] == 0
    assert len(counter.names) == KmerCounter.n_features(2) == 10


def test_a_kmer_surrogate_over_the_memory_budget_is_refused_before_any_model_call():
    models.get("kmer", k=7).check()
    with pytest.raises(ValueError, match=r"32,896 features.*over the budget of 2,048 MB.*smaller k"):
        models.get("kmer", k=8).check()
    with pytest.raises(ValueError, match=r"16,384 features"):
        models.get("kmer", k=7, both_strands=False).check()
    calls = []

    class Counting(keras.Model):
        def call(self, x):
            calls.append(1)
            return keras.ops.sum(x[..., 0], axis=1, keepdims=True)

    with pytest.raises(ValueError, match=r"32,896 features"):
        distill(Counting(), keras_iml.dna.random_sequences(4, 50, rng=0), n_queries=20,
                surrogates=[models.get("kmer", k=8)])
    assert not calls
