"""Models with auxiliary inputs (issue #15 item 3): per-sequence values held fixed while the
DNA is attributed, attributed themselves on request, through the Python API, validate, the
CLI (``--aux``, data ``.npz`` arrays, BED + ``--genome`` + ``--track``) and the zoo loader
(FactorNet ``tracks=`` per sequence); the zoo wrapper forwards the Keras model's attributes."""

import io as _io
import contextlib

import numpy as np
import pytest

import keras
from keras_iml import cli, dna
import keras_iml
from keras_iml.attributions import Attributions
from keras_iml.zoo import ZooModel

L = 24
W = 0.7  # weight of the track in the additive model


def additive_model(length=L):
    """``f(x, t) = sum(conv(x)) + W * sum(t)``: the DNA and the track add up."""
    seq = keras.Input((length, 4), name="seq")
    track = keras.Input((length, 1), name="dnase")
    conv = keras.layers.Conv1D(1, 3, padding="same", name="conv")(seq)
    dna_part = keras.layers.Dense(1, use_bias=False, name="sum_dna")(keras.layers.Flatten()(conv))
    track_part = keras.layers.Dense(1, use_bias=False, name="w")(keras.layers.Flatten()(track))
    model = keras.Model([seq, track], keras.layers.Add()([dna_part, track_part]), name="additive")
    rng = np.random.default_rng(0)
    model.get_layer("conv").set_weights([rng.normal(0, 1, (3, 4, 1)).astype("float32"),
                                         np.array([0.1], "float32")])
    model.get_layer("sum_dna").set_weights([np.ones((length, 1), "float32")])
    model.get_layer("w").set_weights([np.full((length, 1), W, "float32")])
    return model


def interaction_model(length=L, seed=1):
    """``f(x, t) = sum_i g(x)_i * t_i``: the track scales each position's DNA effect."""
    seq = keras.Input((length, 4), name="seq")
    track = keras.Input((length, 1), name="dnase")
    h = keras.layers.Conv1D(4, 5, padding="same", activation="relu")(seq)
    h = keras.layers.Dense(1)(h)
    out = keras.layers.Dense(1)(keras.layers.Flatten()(keras.layers.Multiply()([h, track])))
    model = keras.Model([seq, track], out, name="interaction")
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    return model


def tracks(n, seed=2, length=L):
    return np.random.default_rng(seed).uniform(0.0, 2.0, (n, length)).astype("float32")


@pytest.fixture(scope="module")
def data():
    return dna.random_sequences(7, L, rng=3), tracks(7)


# -- the Python API -------------------------------------------------------------------------
def test_dna_saliency_ignores_an_additive_track_and_predictions_shift_by_w_times_delta(data):
    x, t = data
    model = additive_model()
    explainer = keras_iml.Explainer(model)
    t2 = t + np.linspace(-1, 1, L, dtype="float32")
    a = keras_iml.explain(model, x, "saliency", aux={"dnase": t}, verbose=0)
    b = keras_iml.explain(model, x, "saliency", aux={"dnase": t2}, verbose=0)
    np.testing.assert_array_equal(a.values, b.values)
    delta = explainer.predict(x, aux={"dnase": t2}) - explainer.predict(x, aux={"dnase": t})
    np.testing.assert_allclose(delta, W * (t2 - t).sum(1), rtol=1e-5, atol=1e-5)
    # the DNA saliency is the convolution's taps summed over the windows covering a base
    kernel = model.get_layer("conv").get_weights()[0][..., 0]  # (3, 4)
    expected = np.zeros((L, 4), "float32")
    for i in range(L):
        for k in range(3):
            if 0 <= i + 1 - k < L:
                expected[i] += kernel[k]
    np.testing.assert_allclose(a.values, np.broadcast_to(expected, x.shape), rtol=1e-5, atol=1e-5)


def test_per_sequence_aux_gives_each_sequence_its_own_prediction_and_attribution(data):
    x, t = data
    model = interaction_model()
    explainer = keras_iml.Explainer(model)
    want = model.predict([x, t[..., None]], verbose=0)[:, 0]
    np.testing.assert_allclose(explainer.predict(x, aux={"dnase": t}, batch_size=3), want,
                               rtol=1e-5, atol=1e-5)
    for method, opts in (("saliency", {}), ("integrated_gradients", {"steps": 8}), ("ism", {}),
                         ("deeplift_shap", {"n_references": 4, "seed": 0})):
        attr = explainer.run(method, x, aux={"dnase": t}, batch_size=4, verbose=0, **opts)
        batch = attr.values
        if method == "deeplift_shap":  # its rules see each sequence's own track: complete
            np.testing.assert_allclose(attr.convergence_delta, 0, atol=1e-4)
        for i in (0, 5):
            alone = explainer.run(method, x[i : i + 1], aux={"dnase": t[i : i + 1]}, verbose=0, **opts)
            np.testing.assert_allclose(batch[i], alone.values[0], rtol=1e-5, atol=1e-5)
        other = explainer.run(method, x[5:6], aux={"dnase": t[:1]}, verbose=0, **opts).values[0]
        assert not np.allclose(batch[5], other, atol=1e-3)  # sequence 0's track gives another map


def test_attribute_aux_gives_the_track_weight_and_sums_to_its_effect(data):
    x, t = data
    model = additive_model()
    sal = keras_iml.explain(model, x, "saliency", aux={"dnase": t}, attribute_aux=True, verbose=0,
                            batch_size=3)
    assert set(sal.aux) == {"dnase"} and sal.aux["dnase"].shape == (7, L, 1)
    np.testing.assert_allclose(sal.aux["dnase"], W, rtol=1e-6)
    ixg = keras_iml.explain(model, x, "input_x_gradient", aux={"dnase": t}, attribute_aux=True, verbose=0)
    np.testing.assert_allclose(ixg.aux["dnase"][..., 0], W * t, rtol=1e-5)
    # on the interaction model IG of the track sums to f(x, t) - f(x, 0), the DNA held fixed
    inter = interaction_model()
    ig = keras_iml.explain(inter, x, "integrated_gradients", aux={"dnase": t}, attribute_aux=True,
                           steps=16, verbose=0)
    f = keras_iml.Explainer(inter).predict
    gain = f(x, aux={"dnase": t}) - f(x, aux={"dnase": np.zeros_like(t)})
    np.testing.assert_allclose(ig.aux["dnase"].sum((1, 2)), gain, rtol=1e-4, atol=1e-4)
    # one shared row: every sequence gets its own gradient at that row
    shared = keras_iml.explain(inter, x, "saliency", aux={"dnase": t[:1]}, attribute_aux=True, verbose=0)
    first = keras_iml.explain(inter, x[:1], "saliency", aux={"dnase": t[:1]}, attribute_aux=True, verbose=0)
    np.testing.assert_allclose(shared.aux["dnase"][:1], first.aux["dnase"], rtol=1e-5, atol=1e-6)
    assert not np.allclose(shared.aux["dnase"][1], shared.aux["dnase"][0])
    with pytest.raises(ValueError, match=r"attribute_aux=True.*gradient methods.*Received: method='ism'"):
        keras_iml.explain(model, x, "ism", aux={"dnase": t}, attribute_aux=True, verbose=0)
    only_dna = keras.Sequential([keras.Input((L, 4)), keras.layers.Flatten(), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="auxiliary.*Received: a model whose only input is the DNA"):
        keras_iml.explain(only_dna, x, "saliency", attribute_aux=True, verbose=0)


def test_batch_size_invariance_with_aux(data):
    x, t = data
    model = interaction_model()
    for method, opts in (("saliency", {}), ("integrated_gradients", {"steps": 6}),
                         ("deeplift_shap", {"n_references": 3, "seed": 0})):
        runs = [keras_iml.explain(model, x, method, aux={"dnase": t}, batch_size=b, verbose=0,
                                  attribute_aux=method != "deeplift_shap", **opts) for b in (1, 3, 7)]
        for other in runs[1:]:
            np.testing.assert_allclose(other.values, runs[0].values, rtol=1e-5, atol=1e-6)
            if other.aux is not None:
                np.testing.assert_allclose(other.aux["dnase"], runs[0].aux["dnase"], rtol=1e-5, atol=1e-6)
    whole = keras_iml.explain(model, x, "saliency", aux={"dnase": t}, attribute_aux=True, verbose=0)
    streamed = list(keras_iml.iter_explain(model, x, "saliency", aux={"dnase": t}, batch_size=3,
                                           attribute_aux=True, verbose=0))
    assert [len(p) for p in streamed] == [3, 3, 1]
    joined = Attributions.concatenate(streamed)
    np.testing.assert_allclose(joined.aux["dnase"], whole.aux["dnase"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(joined.values, whole.values, rtol=1e-5, atol=1e-6)


def test_aux_attributions_survive_selection_and_npz(data, tmp_path):
    x, t = data
    attr = keras_iml.explain(additive_model(), x, "input_x_gradient", aux={"dnase": t},
                             attribute_aux=True, verbose=0)
    np.testing.assert_array_equal(attr[[2, 4]].aux["dnase"], attr.aux["dnase"][[2, 4]])
    back = Attributions.from_npz(attr.to_npz(tmp_path / "a.npz"))
    np.testing.assert_array_equal(back.aux["dnase"], attr.aux["dnase"])
    assert Attributions.from_npz(keras_iml.explain(additive_model(), x, aux={"dnase": t}, verbose=0)
                                 .to_npz(tmp_path / "b.npz")).aux is None


def test_aux_errors_name_the_argument(data):
    x, t = data
    explainer = keras_iml.Explainer(additive_model())
    with pytest.raises(ValueError, match=r"\['dnase'\].*Received: aux keys \['mappability'\]"):
        explainer.run("saliency", x, aux={"mappability": t}, verbose=0)
    with pytest.raises(ValueError, match=r"Received: aux\['dnase'\].shape=\(3, 100\)"):
        explainer.run("saliency", x, aux={"dnase": np.ones((3, 100))}, verbose=0)
    with pytest.raises(ValueError, match=r"one row per sequence \(N=7\).*Received: aux\['dnase'\].shape=\(3, 24, 1\)"):
        explainer.run("saliency", x, aux={"dnase": t[:3]}, verbose=0)
    with pytest.raises(ValueError, match=r"Received: aux=None"):
        explainer.run("saliency", x, verbose=0)
    with pytest.raises(ValueError, match=r"Received: attribute_aux='yes'"):
        explainer.run("saliency", x, aux={"dnase": t}, attribute_aux="yes", verbose=0)
    # (N, L) and (N, L, 1) are the same track
    np.testing.assert_array_equal(explainer.predict(x, aux={"dnase": t}),
                                  explainer.predict(x, aux={"dnase": t[..., None]}))


# -- validate -------------------------------------------------------------------------------
PROTOCOL = {"methods": ["saliency"], "metrics": ["deletion", "ism_agreement", "randomisation"],
            "controls": False, "n_bootstrap": 20}


def _scores(report):
    frame = report.per_sequence
    frame = frame[frame.arm == "method"]
    return {m: g.sort_values("seq")["value"].to_numpy() for m, g in frame.groupby("metric")}


def test_validate_reruns_the_model_with_each_sequences_aux():
    x, t = dna.random_sequences(10, L, rng=4), tracks(10, seed=5)
    model = interaction_model()
    report = keras_iml.validate(model, x, aux={"dnase": t}, protocol=PROTOCOL, seed=0, verbose=0)
    scores = _scores(report)
    assert {"deletion", "ism_agreement", "randomisation"} <= set(scores)
    np.testing.assert_allclose(report.model_info["output_mean"],
                               model.predict([x, t[..., None]], verbose=0).mean(), rtol=1e-5)
    order = np.random.default_rng(0).permutation(10)
    permuted = _scores(keras_iml.validate(model, x[order], aux={"dnase": t[order]}, protocol=PROTOCOL,
                                          seed=0, verbose=0))
    for metric in ("deletion", "ism_agreement", "randomisation"):
        np.testing.assert_allclose(permuted[metric], scores[metric][order], rtol=1e-4, atol=1e-6)
    mismatched = _scores(keras_iml.validate(model, x, aux={"dnase": t[::-1]}, protocol=PROTOCOL,
                                            seed=0, verbose=0))
    assert not np.allclose(mismatched["ism_agreement"], scores["ism_agreement"])


# -- the command line -----------------------------------------------------------------------
def _run(argv):
    err = _io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, err.getvalue()


def test_cli_explain_with_aux_npz_equals_the_python_api(data, tmp_path):
    x, t = data
    model = interaction_model()
    model.save(tmp_path / "m.keras")
    np.savez(tmp_path / "x.npz", x=x)
    np.savez(tmp_path / "aux.npz", dnase=t)
    out = tmp_path / "attr.npz"
    code, err = _run(["explain", str(tmp_path / "m.keras"), str(tmp_path / "x.npz"), "--method",
                      "integrated_gradients", "--aux", str(tmp_path / "aux.npz"), "--attribute-aux",
                      "--out", str(out)])
    assert code == 0, err
    got = Attributions.from_npz(out)
    want = keras_iml.explain(model, x, "integrated_gradients", aux={"dnase": t}, seed=0,
                             attribute_aux=True, verbose=0)
    np.testing.assert_allclose(got.values, want.values, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.aux["dnase"], want.aux["dnase"], rtol=1e-5, atol=1e-6)
    # the track as an extra array of the data .npz, with names
    np.savez(tmp_path / "xd.npz", x=x, dnase=t, names=np.array([f"s{i}" for i in range(7)]))
    code, err = _run(["explain", str(tmp_path / "m.keras"), str(tmp_path / "xd.npz"), "--method",
                      "integrated_gradients", "--out", str(tmp_path / "d.npz")])
    assert code == 0, err
    second = Attributions.from_npz(tmp_path / "d.npz")
    np.testing.assert_allclose(second.values, want.values, rtol=1e-5, atol=1e-6)
    assert second.names == [f"s{i}" for i in range(7)]
    # wrong names, wrong rows, nothing given: exit 2, the message lists the expected inputs
    np.savez(tmp_path / "bad.npz", mappability=t)
    code, err = _run(["explain", str(tmp_path / "m.keras"), str(tmp_path / "x.npz"), "--aux",
                      str(tmp_path / "bad.npz"), "--out", str(tmp_path / "e.npz")])
    assert code == 2 and "['dnase']" in err and "Received" in err and "mappability" in err
    np.savez(tmp_path / "short.npz", dnase=t[:3])
    code, err = _run(["explain", str(tmp_path / "m.keras"), str(tmp_path / "x.npz"), "--aux",
                      str(tmp_path / "short.npz"), "--out", str(tmp_path / "e.npz")])
    assert code == 2 and "N=7" in err and "(3, 24)" in err
    code, err = _run(["explain", str(tmp_path / "m.keras"), str(tmp_path / "x.npz"),
                      "--out", str(tmp_path / "e.npz")])
    assert code == 2 and "['dnase']" in err and "--aux" in err
    assert not (tmp_path / "e.npz").exists()


def _write_bigwig(path, chroms, values):
    pyBigWig = pytest.importorskip("pyBigWig")
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader(list(chroms.items()))
    for chrom, vals in values.items():
        bw.addEntries(chrom, 0, values=[float(v) for v in vals], span=1, step=1)
    bw.close()


def test_cli_reads_bed_intervals_from_a_genome_with_bigwig_tracks(tmp_path):
    pytest.importorskip("pyfaidx")
    rng = np.random.default_rng(6)
    genome = {"chr1": "".join(rng.choice(list("ACGT"), 300)), "chr2": "".join(rng.choice(list("ACGT"), 200))}
    (tmp_path / "g.fa").write_text("".join(f">{c}\n{s}\n" for c, s in genome.items()))
    signal = {c: np.round(rng.uniform(0, 2, len(s)), 3) for c, s in genome.items()}
    _write_bigwig(tmp_path / "dnase.bw", {c: len(s) for c, s in genome.items()}, signal)
    bed = [("chr1", 10, 10 + L, "peak_a"), ("chr2", 150, 150 + L, "peak_b"), ("chr1", 200, 200 + L, None)]
    (tmp_path / "peaks.bed").write_text("".join(
        f"{c}\t{s}\t{e}" + (f"\t{n}" if n else "") + "\n" for c, s, e, n in bed))
    model = interaction_model()
    model.save(tmp_path / "m.keras")
    out = tmp_path / "attr.npz"
    code, err = _run(["explain", str(tmp_path / "m.keras"), str(tmp_path / "peaks.bed"),
                      "--genome", str(tmp_path / "g.fa"), "--track", f"dnase={tmp_path / 'dnase.bw'}",
                      "--method", "saliency", "--attribute-aux", "--out", str(out)])
    assert code == 0, err
    x = dna.one_hot([genome[c][s:e] for c, s, e, _ in bed])
    t = np.stack([signal[c][s:e] for c, s, e, _ in bed]).astype("float32")
    want = keras_iml.explain(model, x, "saliency", aux={"dnase": t}, attribute_aux=True, verbose=0)
    got = Attributions.from_npz(out)
    assert got.names == ["peak_a", "peak_b", f"chr1:200-{200 + L}"]
    np.testing.assert_array_equal(got.inputs, x)
    np.testing.assert_allclose(got.values, want.values, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.aux["dnase"], want.aux["dnase"], rtol=1e-5, atol=1e-6)
    # a track the model does not take, and a malformed --track
    code, err = _run(["explain", str(tmp_path / "m.keras"), str(tmp_path / "peaks.bed"), "--genome",
                      str(tmp_path / "g.fa"), "--track", f"atac={tmp_path / 'dnase.bw'}"])
    assert code == 2 and "['dnase']" in err and "['atac']" in err
    code, err = _run(["explain", str(tmp_path / "m.keras"), str(tmp_path / "peaks.bed"), "--genome",
                      str(tmp_path / "g.fa"), "--track", "dnase"])
    assert code == 2 and "NAME=FILE.bw" in err
    # validate takes the same inputs
    code, err = _run(["validate", str(tmp_path / "m.keras"), str(tmp_path / "peaks.bed"), "--genome",
                      str(tmp_path / "g.fa"), "--track", f"dnase={tmp_path / 'dnase.bw'}", "--quiet",
                      "--no-html", "--methods", "saliency", "--protocol", "quick",
                      "--out", str(tmp_path / "val")])
    assert code in (cli.EXIT_OK, cli.EXIT_FAILED, cli.EXIT_INCONCLUSIVE), err  # a verdict, no error
    assert (tmp_path / "val" / "report.json").is_file()


# -- the zoo --------------------------------------------------------------------------------
def test_wrapper_forwards_the_keras_models_attributes(tmp_path):
    model = additive_model()
    iml = keras_iml.wrap(model)
    assert [t.name for t in iml.inputs] == ["seq", "dnase"]
    assert iml.outputs == model.outputs and iml.input_shape == model.input_shape
    assert iml.output_shape == (None, 1) and iml.get_layer("conv") is model.get_layer("conv")
    lines = []
    iml.summary(print_fn=lambda line, **_: lines.append(line))
    assert "conv" in "\n".join(lines) and "dnase" in "\n".join(lines)
    iml.save(tmp_path / "iml.keras")  # saving and loading are unchanged by the forwarding
    back = keras.saving.load_model(tmp_path / "iml.keras")
    x, t = dna.random_sequences(2, L, rng=0), tracks(2)
    np.testing.assert_allclose(np.asarray(back([x, t[..., None]])), np.asarray(model([x, t[..., None]])),
                               rtol=1e-6)


def test_zoo_model_uses_the_values_given_at_load_as_default_aux(data):
    x, t = data
    model = interaction_model()
    zoo_model = ZooModel(model, aux={"dnase": t})
    np.testing.assert_array_equal(zoo_model.explain(x, "saliency", verbose=0).values,
                                  keras_iml.explain(model, x, "saliency", aux={"dnase": t}, verbose=0).values)
    with pytest.raises(ValueError, match=r"N=3.*Received: aux\['dnase'\].shape=\(7, 24, 1\)"):
        zoo_model.explain(x[:3], "saliency", verbose=0)


FACTORNET = "FactorNet/MAX/onePeak_Unique35_DGF"


def test_factornet_takes_dnase_per_sequence_and_records_the_values(shared_dir, tmp_path):
    from keras_iml import zoo

    source = shared_dir / "zoo" / "kipoi-models"
    x = dna.random_sequences(3, 1002, gc=0.42, rng=2)
    levels = np.array([0.05, 0.1, 0.5], "float32")
    dnase = np.repeat(levels[:, None], 1002, axis=1)
    model = zoo.load(FACTORNET, source=source, cache_dir=tmp_path, tracks={"dnase": dnase})
    assert isinstance(model, ZooModel) and [t.name for t in model.inputs] == ["seq", "dnase"]
    assert model.metadata["tracks"] == {"mappability": 1.0, "dnase": "input"}
    assert model.metadata["aux_inputs"] == ["dnase"]
    assert model.metadata["aux_values"]["dnase"]["shape"] == [3, 1002, 1]
    np.testing.assert_allclose(model.metadata["aux_values"]["dnase"]["mean"], levels.mean(), rtol=1e-6)
    assert "DNase per sequence" in model.metadata["notes"] and "0.1" not in model.metadata["notes"]
    np.testing.assert_array_equal(model.aux["dnase"][..., 0], dnase)
    per_sequence = np.asarray(model([x, dnase[..., None]]))[:, 0]
    # each sequence gets the prediction of a model built with its DNase level as a constant
    for i, level in enumerate(levels):
        const = zoo.load(FACTORNET, source=source, cache_dir=tmp_path, tracks={"dnase": float(level)})
        assert const.metadata["tracks"] == {"mappability": 1.0, "dnase": float(level)}
        assert f"DNase {level:g} (constant)" in const.metadata["notes"]
        np.testing.assert_allclose(per_sequence[i], np.asarray(const(x[i : i + 1]))[0, 0], rtol=1e-5, atol=1e-6)
    same_x = np.repeat(x[:1], 3, axis=0)
    assert np.ptp(np.asarray(model([same_x, dnase[..., None]]))[:, 0]) > 0.1  # the track matters
    # a per-base track is reversed with the reverse-complement strand: RC invariance holds
    ramp = np.linspace(0.0, 0.4, 1002, dtype="float32")[None].repeat(3, 0)
    rc = np.ascontiguousarray(dna.reverse_complement(x))
    np.testing.assert_allclose(np.asarray(model([x, ramp[..., None]])),
                               np.asarray(model([rc, ramp[:, ::-1, None]])), atol=1e-5)
    # the arrays do not key the cache: one converted file per track layout
    again = zoo.load(FACTORNET, source=source, cache_dir=tmp_path, tracks={"dnase": dnase[:2]})
    assert again.metadata["aux_values"]["dnase"]["shape"] == [2, 1002, 1]
    assert len(list(tmp_path.rglob("*.keras"))) == 1 + len(levels)
    with pytest.raises(ValueError, match=r"Received: tracks\['dnase'\].shape=\(3, 100\)"):
        zoo.load(FACTORNET, source=source, cache_dir=tmp_path, tracks={"dnase": np.ones((3, 100))})
    with pytest.raises(ValueError, match=r"Unknown track.*Received: tracks keys \['atac'\]"):
        zoo.load(FACTORNET, source=source, cache_dir=tmp_path / "other", tracks={"atac": 1.0})
