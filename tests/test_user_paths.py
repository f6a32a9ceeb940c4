"""What broke for new users (round three): fixed-length graphs, exit codes that mean one
thing, runs that say when nothing was decided, nothing computed and then lost, and
numbers and messages that do not mislead. Each test fails on the old behaviour."""

import os
import subprocess
import sys

import numpy as np
import pytest

import keras
from keras_iml import cli, io
import keras_iml
from keras_iml.attributions import Attributions

from test_validation_data import planted, true_model


def _time_distributed_model(length=40):
    """``TimeDistributed(Dense)`` then ``MaxPooling1D``: Keras runs it; a length-free
    trace of it did not."""
    inp = keras.Input((length, 4))
    h = keras.layers.Conv1D(6, 5, activation="relu")(inp)
    h = keras.layers.TimeDistributed(keras.layers.Dense(5, activation="relu"))(h)
    h = keras.layers.MaxPooling1D(4)(h)
    h = keras.layers.Flatten()(h)
    model = keras.Model(inp, keras.layers.Dense(1)(h))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    return model


def _x(n, length, seed=0):
    return np.eye(4, dtype="float32")[np.random.default_rng(seed).integers(0, 4, (n, length))]


def test_time_distributed_then_pooling_explains_with_right_values():
    import tensorflow as tf

    model, x = _time_distributed_model(), _x(5, 40)
    sal = keras_iml.explain(model, x, "saliency", verbose=0).values
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = tf.reduce_sum(model(xt, training=False))
    np.testing.assert_allclose(sal, tape.gradient(out, xt).numpy(), rtol=1e-5, atol=1e-6)
    ism = keras_iml.explain(model, x, "ism", verbose=0).values  # the fast path
    n, length = x.shape[:2]
    mutants = np.repeat(x[:, None, None], length, axis=1).repeat(4, axis=2)  # (n, L, 4, L, 4)
    for i in range(length):
        mutants[:, i, :, i] = np.eye(4, dtype="float32")
    f = model.predict(mutants.reshape(-1, length, 4), verbose=0, batch_size=1024)[:, 0]
    brute = f.reshape(n, length, 4) - model.predict(x, verbose=0)[:, 0][:, None, None]
    np.testing.assert_allclose(ism, brute, atol=1e-4)
    for method in ("integrated_gradients", "deeplift_shap"):
        attr = keras_iml.explain(model, x, method, seed=0, verbose=0)
        assert np.isfinite(attr.values).all()


def test_functions_are_traced_at_the_declared_length():
    from keras_iml.engine.function import ModelFunction

    assert ModelFunction(_time_distributed_model(40)).x_spec[0] == (None, 40, 4)
    free = keras.Sequential([keras.Input((None, 4)), keras.layers.Conv1D(2, 3),
                             keras.layers.GlobalMaxPooling1D()])
    assert ModelFunction(free).x_spec[0] == (None, None, 4)


def test_legacy_time_distributed_dense_becomes_dense():
    from keras_iml.zoo.sources.legacy_layers import translate

    cfg = {"name": "td", "layer": {"class_name": "Dense",
                                   "config": {"name": "inner", "output_dim": 3, "activation": "relu"}}}
    layer = translate("TimeDistributed", cfg, {}).layer
    assert type(layer) is keras.layers.Dense and layer.name == "td" and layer.units == 3
    wrapped = keras.layers.TimeDistributed(keras.layers.Dense(3, activation="relu"))
    x = np.random.default_rng(0).normal(size=(2, 7, 4)).astype("float32")
    wrapped(x), layer(x)
    weights = [np.random.default_rng(1).normal(size=w.shape).astype("float32") for w in wrapped.get_weights()]
    wrapped.set_weights(weights)
    layer.set_weights(weights)
    # the same products, summed in another order per time step: equal to float32 rounding
    np.testing.assert_allclose(layer(x), wrapped(x), rtol=1e-5, atol=1e-6)


def test_a_backend_error_is_reworded(monkeypatch):
    import tensorflow as tf

    from keras_iml.methods.saliency import Saliency

    def broken(self, function, x, rngs):
        raise tf.errors.AbortedError(None, None, "could not create a descriptor\n[[{{node x}}]]")

    monkeypatch.setattr(Saliency, "attribute", broken)
    with pytest.raises(RuntimeError, match="'saliency' failed inside the tensorflow runtime.*"
                                           "could not create a descriptor"):
        keras_iml.explain(_time_distributed_model(), _x(2, 40), "saliency", verbose=0)


# -- the command line ----------------------------------------------------------------

@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("paths")
    x, mask = planted()
    model = root / "model.keras"
    true_model().save(model)
    small = root / "small.npz"
    np.savez(small, x=x[:7], mask=mask[:7])
    return root, model, small, x, mask


def test_the_cli_checks_out_before_any_work(files, capsys):
    root, _, small, _, _ = files
    (root / "a_file").write_text("x")
    # the model does not exist either: the --out error comes first, before any loading
    assert cli.main(["explain", str(root / "absent.keras"), str(small),
                     "--out", str(root / "a_file" / "such" / "a.npz")]) == cli.EXIT_USAGE
    assert "--out" in capsys.readouterr().err
    assert cli.main(["validate", str(root / "absent.keras"), str(small),
                     "--out", str(root / "a_file")]) == cli.EXIT_USAGE
    assert "existing file" in capsys.readouterr().err
    assert cli.main(["demo", "--out", str(root / "a_file")]) == cli.EXIT_USAGE
    assert cli.main(["report", str(root), "--out", str(root / "a_file" / "r.html")]) == cli.EXIT_USAGE
    assert "--out" in capsys.readouterr().err


def test_results_that_cannot_be_written_are_rescued(files, capsys, monkeypatch):
    root, model, small, _, _ = files
    out = root / "wanted.npz"
    original = io.NpzStream.finish

    def failing(self, path):
        if os.fspath(path) == os.fspath(out):
            raise OSError(28, "No space left on device")
        return original(self, path)

    monkeypatch.setattr(io.NpzStream, "finish", failing)
    assert cli.main(["explain", str(model), str(small), "--out", str(out)]) == cli.EXIT_NOT_WRITTEN
    err = capsys.readouterr().err
    rescued = err.split("saved to '")[1].split("'")[0]
    assert Attributions.from_npz(rescued).values.shape == (7, 100, 4)
    assert not out.exists()
    assert not [p for p in os.listdir(root) if p.startswith(".tmp-")]  # nothing left behind


def test_the_cli_streams_the_same_file_as_to_npz(files, tmp_path):
    root, model, _, x, _ = files
    names = [f"s{i}" for i in range(9)]
    data = tmp_path / "d.npz"
    np.savez(data, x=x[:9], names=np.array(names))
    for method in ("saliency", "integrated_gradients"):
        out = tmp_path / f"{method}.npz"
        assert cli.main(["explain", str(model), str(data), "--method", method, "--batch-size", "4",
                         "--out", str(out)]) == 0
        streamed = Attributions.from_npz(out)
        whole = keras_iml.explain(keras.models.load_model(model), x[:9], method, seed=0, verbose=0)
        np.testing.assert_allclose(streamed.values, whole.values, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(streamed.hypothetical, whole.hypothetical, rtol=1e-5, atol=1e-7)
        np.testing.assert_array_equal(streamed.inputs, x[:9])
        assert streamed.names == names and streamed.method == method
        with np.load(out) as arrays:
            assert ("hypothetical" in arrays.files) == (method != "saliency")
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]


def test_an_unexpected_error_has_its_own_exit_code(files, capsys, monkeypatch):
    root, model, small, _, _ = files
    import keras_iml.explanations as explanations

    monkeypatch.setattr(explanations, "iter_explain", lambda *a, **k: iter([1 / 0]))
    assert cli.main(["explain", str(model), str(small), "--out", str(root / "b.npz")]) == cli.EXIT_BUG
    assert "ZeroDivisionError" in capsys.readouterr().err


def test_too_little_evidence_is_inconclusive_not_passed(files, capsys):
    root, model, small, _, _ = files
    out = root / "weak"
    code = cli.main(["validate", str(model), str(small), "--protocol", "quick", "--quiet",
                     "--out", str(out)])
    text = capsys.readouterr().out
    assert code == cli.EXIT_INCONCLUSIVE, text
    assert "INCONCLUSIVE" in text and "PASSED" not in text
    from keras_iml.validation import ValidationReport

    report = ValidationReport.from_json(out / "report.json")
    assert report.outcome == "inconclusive" and not report.passed and len(report.undecided)
    html = (out / "report.html").read_text()
    assert "Inconclusive" in html and "Every thresholded metric" not in html


def test_report_facts_for_people(files):
    _, _, _, x, mask = files
    report = keras_iml.validate(true_model(), x[:24], ground_truth=mask[:24], protocol="quick",
                                verbose=0, seed=0)
    items = report.examples["items"]
    planted_rows = [item for item in items if item["sites"]]
    assert planted_rows
    seq = planted_rows[0]["seq"]
    start, end, kind = planted_rows[0]["sites"][0]
    assert kind in ("motif", "decoy") and mask[seq, start:end].all() and end > start
    from keras_iml.report import html_string

    html = html_string(report)
    assert "not evidence: tier 1 cannot tell a trained model from a random one" in html
    assert "{&#39;" not in html and "{'" not in html  # no raw Python dicts
    # metrics scored on a subsample say so in their captions
    per_seq = report.per_sequence
    for metric in per_seq["metric"].unique():
        scored = per_seq[(per_seq.metric == metric) & (per_seq.arm == "method")]
        n_scored = scored.loc[scored.value.notna(), "seq"].nunique()
        if n_scored < 24 and n_scored:
            assert f"{metric}: {n_scored} of 24 sequences scored" in html


def test_cli_method_options_alphabet_and_bed_coordinates(files, tmp_path, capsys):
    root, model, _, x, _ = files
    pytest.importorskip("pyfaidx")
    bases = "".join("ACGT"[i] for i in x[:3].argmax(-1).ravel())
    genome = tmp_path / "g.fa"
    genome.write_text(">chr1\n" + bases + "\n")
    bed = tmp_path / "p.bed"
    bed.write_text("chr1\t0\t100\tp1\t0\t+\nchr1\t100\t200\tp2\t0\t-\n")
    out = tmp_path / "a.npz"
    assert cli.main(["explain", str(model), str(bed), "--genome", str(genome), "--method",
                     "integrated_gradients", "--option", "steps=4", "--out", str(out)]) == 0
    with np.load(out) as data:
        assert data["chrom"].tolist() == ["chr1", "chr1"] and data["start"].tolist() == [0, 100]
        assert data["end"].tolist() == [100, 200] and data["strand"].tolist() == ["+", "-"]
    attr = Attributions.from_npz(out)
    assert attr.params["steps"] == 4 and attr.names == ["p1", "p2"]
    rna = tmp_path / "r.fa"
    rna.write_text(">r\n" + bases[:100].replace("T", "U") + "\n")
    assert cli.main(["explain", str(model), str(rna), "--alphabet", "ACGU",
                     "--out", str(tmp_path / "r.npz")]) == 0
    np.testing.assert_array_equal(Attributions.from_npz(tmp_path / "r.npz").inputs[0], x[0])
    assert cli.main(["explain", str(model), str(rna), "--alphabet", "ACGU", "--option", "stepz=4",
                     "--out", str(tmp_path / "s.npz")]) == cli.EXIT_USAGE
    assert "stepz" in capsys.readouterr().err


def test_help_does_not_load_tensorflow():
    code = ("import sys, keras_iml.cli as c; c.build_parser().format_help(); "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# -- inputs and outputs ----------------------------------------------------------------

def test_y_must_be_finite_numbers():
    from keras_iml.validation.arguments import check_y

    with pytest.raises(ValueError, match=r"`y` must be finite: 1 of 3 rows.*index 1"):
        check_y([0.0, np.nan, 1.0], 3)
    with pytest.raises(TypeError, match=r"`y` must hold numbers.*y.dtype=<U"):
        check_y(["a", "b", "c"], 3)
    assert check_y([0, 1, 1], 3).tolist() == [0, 1, 1]


def test_write_errors_name_the_users_file(tmp_path):
    target = tmp_path / "report.json"

    def write(tmp):
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="report.json") as info:
        io.atomic_write(target, write)
    assert ".tmp-" not in str(info.value)
    assert os.listdir(tmp_path) == []


def test_an_npz_of_objects_names_the_array_and_file(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=_x(2, 10), names=np.array(["a", None], dtype=object))
    with pytest.raises(ValueError, match=r"array 'names'.*Python objects.*d\.npz"):
        io.load_sequences(path)


def test_a_per_position_output_error_shows_the_users_shape():
    inp = keras.Input((64, 4))
    h = keras.layers.MaxPooling1D(16)(keras.layers.Conv1D(8, 5, padding="same")(inp))
    model = keras.Model(inp, keras.layers.Conv1D(3, 1)(h))
    with pytest.raises(ValueError, match=r"shape \(N, 4, 3\); choose a class and a position"):
        keras_iml.explain(model, _x(3, 64), "saliency", verbose=0)


def test_saliency_npz_stores_values_once(tmp_path):
    model, x = _time_distributed_model(), _x(4, 40)
    attr = keras_iml.explain(model, x, "saliency", verbose=0)
    attr.to_npz(tmp_path / "s.npz")
    with np.load(tmp_path / "s.npz") as data:
        assert "hypothetical" not in data.files
    back = Attributions.from_npz(tmp_path / "s.npz")
    np.testing.assert_array_equal(back.hypothetical, attr.values)
    ig = keras_iml.explain(model, x, "integrated_gradients", steps=4, verbose=0)
    ig.to_npz(tmp_path / "ig.npz")
    np.testing.assert_array_equal(Attributions.from_npz(tmp_path / "ig.npz").hypothetical, ig.hypothetical)


def test_module_explain_reuses_its_traces():
    from keras_iml import explanations

    keras_iml.clear_cache()
    model, x = _time_distributed_model(), _x(3, 40)
    keras_iml.explain(model, x, "saliency", verbose=0)
    first = explanations._RECENT.get(model).explainer(model).function()
    keras_iml.explain(model, x[:2], "saliency", verbose=0)
    assert explanations._RECENT.get(model).explainer(model).function() is first
    for _ in range(explanations.RECENT_MODELS):
        keras_iml.explain(_time_distributed_model(), x, "saliency", verbose=0)
    assert explanations._RECENT.get(model).explainer(model)._function is None  # dropped: bounded
    keras_iml.clear_cache()


def test_the_cli_prints_no_tensorflow_start_up_lines(files, tmp_path):
    root, model, small, _, _ = files
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, "-m", "keras_iml", "explain", str(model), str(small),
                           "--out", str(tmp_path / "a.npz")], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    for noise in ("cpu_feature_guard", "absl::InitializeLog", "oneDNN", "I0000", "retracing"):
        assert noise not in proc.stderr + proc.stdout, noise


def test_fast_paths_survive_a_save_and_reload(tmp_path):
    """A Sequential loaded back from .keras is still a chain: ISM's receptive-field path
    and IG's affine split are taken, with the original's values."""
    from keras_iml.engine.function import ModelFunction
    from keras_iml.methods._fast_ism import FastISM
    from keras_iml.methods.integrated_gradients import build_path_function
    from keras_iml.methods.ism import ISM

    model = keras.Sequential([keras.Input((50, 4)), keras.layers.Conv1D(6, 7, activation="relu"),
                              keras.layers.MaxPooling1D(2), keras.layers.Conv1D(4, 3, activation="relu"),
                              keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(1)])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    x = _x(3, 50)
    for m in (model, loaded):
        function = ModelFunction(m)
        assert isinstance(ISM().runner(function, x), FastISM)
        assert build_path_function(function, True)[0] == "affine_first_layer"
    for method in ("ism", "integrated_gradients"):
        np.testing.assert_allclose(keras_iml.explain(loaded, x, method, verbose=0).values,
                                   keras_iml.explain(model, x, method, verbose=0).values, atol=1e-5)


def test_chunk_sizes_follow_from_the_memory_budget(monkeypatch):
    from keras_iml.engine import memory
    from keras_iml.methods import integrated_gradients as ig

    model = keras.Sequential([keras.Input((10, 4)), keras.layers.Conv1D(3, 5),
                              keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(1)])
    assert memory.activation_floats(model, 10) == 6 * 3 + 3 + 1  # by hand
    free = keras.Sequential([keras.Input((None, 4)), keras.layers.Conv1D(3, 5, padding="same"),
                             keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(1)])
    assert memory.activation_floats(free, 50) == 50 * 3 + 3 + 1  # a free length read as 50
    # 22 floats x 4 bytes x 3 passes = 264 bytes a row
    assert memory.rows_per_call(model, 10, upper=64, budget_mb=264 * 5 / 2**20) == 5
    assert memory.rows_per_call(model, 10, upper=64) == 64
    x = _x(3, 10)
    seen = []
    original = ig.path_gradients

    def spy(function, xs, refs, alphas, weights, chunk_size=64, fast=True):
        seen.append(chunk_size)
        return original(function, xs, refs, alphas, weights, chunk_size, fast)

    wide = keras_iml.explain(model, x, "integrated_gradients", steps=8, verbose=0).values
    monkeypatch.setattr(ig, "path_gradients", spy)
    monkeypatch.setattr(memory, "CALL_BUDGET_MB", 264 * 2 / 2**20)  # two rows a call
    keras_iml.clear_cache()
    narrow = keras_iml.explain(model, x, "integrated_gradients", steps=8, verbose=0).values
    assert seen == [2]
    np.testing.assert_allclose(narrow, wide, rtol=1e-5, atol=1e-6)
    keras_iml.clear_cache()


def test_npz_stream_matches_savez_and_checks_its_rows(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(7, 3, 2)).astype("float32"), rng.integers(0, 9, 7)
    stream = io.NpzStream(tmp_path, 7)
    for start in (0, 3, 5):
        stream.rows("a", start, a[start : start + {0: 3, 3: 2, 5: 2}[start]])
        stream.rows("b", start, b[start : start + {0: 3, 3: 2, 5: 2}[start]])
    stream.whole("names", np.array(["x", "y"]))
    np.testing.assert_array_equal(stream.read("a", 4), a[:4])
    with pytest.raises(ValueError, match="must come in order"):
        stream.rows("a", 2, a[:1])
    stream.finish(tmp_path / "s.npz")
    stream.close()
    with np.load(tmp_path / "s.npz") as data:
        np.testing.assert_array_equal(data["a"], a)
        np.testing.assert_array_equal(data["b"], b)
        assert data["names"].tolist() == ["x", "y"]
    assert os.listdir(tmp_path) == ["s.npz"]
    short = io.NpzStream(tmp_path, 7)
    short.rows("a", 0, a[:2])
    with pytest.raises(ValueError, match="holds 2 of 7 rows"):
        short.finish(tmp_path / "t.npz")
    short.close()
    assert not (tmp_path / "t.npz").exists()
