"""Legacy Keras 1/2 files -> Keras 3: real zoo files against NumPy, synthetic files, bad input."""

import json

import h5py
import numpy as np
import pytest

from keras_iml import dna
from keras_iml.zoo import UnsupportedLayerError, load
from keras_iml.zoo.families.factornet import build_factornet
from keras_iml.zoo.sources.legacy import model_from_legacy


def _conv_valid(x, kernel, bias):
    """Cross-correlation of ``(L, C)`` with ``(k, C, F)``, valid padding."""
    k = kernel.shape[0]
    frames = np.stack([x[i : i + k] for i in range(len(x) - k + 1)])
    return np.einsum("ikc,kcf->if", frames, kernel) + bias


def _h5(path, layer, name):
    with h5py.File(path, "r") as f:
        g = f["model_weights"][layer] if "model_weights" in f else f[layer]
        return np.asarray(g[name], dtype=np.float64)


# -- real zoo files ---------------------------------------------------------------------
def test_mpra_dragonn_matches_numpy_forward(shared_dir, tmp_path):
    weights = shared_dir / "zoo" / "weights" / "MPRA-DragoNN" / "ConvModel" / "pretrained.hdf5"
    model = load("MPRA-DragoNN/ConvModel", source=shared_dir / "zoo" / "kipoi-models",
                 cache_dir=tmp_path, offline=True)
    assert model.metadata["input_length"] == 145 and len(model.metadata["outputs"]) == 12
    x = dna.random_sequences(3, 145, rng=0)
    got = np.asarray(model(x))
    for n in range(3):
        h = x[n].astype(np.float64)
        for i in (1, 2, 3):
            c, b = f"conv1d_{i}", f"batch_normalization_{i}"
            h = np.maximum(_conv_valid(h, _h5(weights, c, f"{c}/kernel:0"), _h5(weights, c, f"{c}/bias:0")), 0)
            gamma, beta = _h5(weights, b, f"{b}/gamma:0"), _h5(weights, b, f"{b}/beta:0")
            mean, var = _h5(weights, b, f"{b}/moving_mean:0"), _h5(weights, b, f"{b}/moving_variance:0")
            h = gamma * (h - mean) / np.sqrt(var + 1e-3) + beta
        want = h.reshape(-1) @ _h5(weights, "dense_1", "dense_1/kernel:0") + _h5(weights, "dense_1", "dense_1/bias:0")
        np.testing.assert_allclose(got[n], want, rtol=1e-4, atol=1e-4)


def test_tal1_matches_numpy_forward(shared_dir, tmp_path):
    weights = shared_dir / "zoo" / "weights" / "kipoi-example" / "tal1" / "weights.hdf5"
    model = load("kipoi-example/tal1", source=shared_dir / "zoo" / "kipoi-models", cache_dir=tmp_path)
    x = dna.random_sequences(4, 500, rng=1)
    kernel, bias = _h5(weights, "conv1d_1", "conv1d_1/kernel:0"), _h5(weights, "conv1d_1", "conv1d_1/bias:0")
    w, b = _h5(weights, "dense_1", "dense_1/kernel:0"), _h5(weights, "dense_1", "dense_1/bias:0")
    want = [1 / (1 + np.exp(-(np.maximum(_conv_valid(s, kernel, bias), 0).max(0) @ w + b))) for s in x]
    np.testing.assert_allclose(np.asarray(model(x)), np.array(want), rtol=1e-5, atol=1e-6)


def test_factornet_max_needs_the_theano_flip(shared_dir, tmp_path):
    """Inserting the MAX E-box CACGTG raises P(bound) strongly only with flipped kernels."""
    folder = shared_dir / "zoo" / "weights" / "FactorNet" / "MAX" / "onePeak_Unique35_DGF"
    name = "FactorNet/MAX/onePeak_Unique35_DGF"
    flipped = load(name, source=shared_dir / "zoo" / "kipoi-models", cache_dir=tmp_path)
    assert flipped.metadata["tracks"] == {"mappability": 1.0, "dnase": 0.1}
    unflipped, _ = build_factornet(folder / "model.json", folder / "best_model.hdf5",
                                   model_name=name, theano_kernels=False)
    x = dna.random_sequences(10, 1002, gc=0.42, rng=2)
    xi = x.copy()
    xi[:, 498:504] = dna.one_hot("CACGTG")[0]
    rise = np.asarray(flipped(xi))[:, 0] - np.asarray(flipped(x))[:, 0]
    rise_unflipped = np.asarray(unflipped(xi))[:, 0] - np.asarray(unflipped(x))[:, 0]
    assert (rise > 0).all() and np.median(rise) > 0.15
    assert np.median(rise_unflipped) < 0.05 and np.median(rise) > 5 * np.median(rise_unflipped)
    # the two strands are averaged by the model: reverse-complement invariant
    rc = np.ascontiguousarray(dna.reverse_complement(x[:4]))
    np.testing.assert_allclose(np.asarray(flipped(x[:4])), np.asarray(flipped(rc)), atol=1e-5)


# -- synthetic legacy files --------------------------------------------------------------
def _write_weights(path, layers, attrs=None):
    """Keras 1/2 HDF5 layout: ``layer_names`` and per-layer ``weight_names``."""
    with h5py.File(path, "w") as f:
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
        f.attrs["layer_names"] = [n.encode() for n in layers]
        for name, arrays in layers.items():
            g = f.create_group(name)
            g.attrs["weight_names"] = [w.encode() for w, _ in arrays]
            for w, a in arrays:
                g.create_dataset(w, data=np.asarray(a, dtype=np.float32))
    return path


def _keras1_conv_seq(conv_cls="Convolution1D"):
    return {"class_name": "Sequential", "keras_version": "1.2.0", "config": [
        {"class_name": conv_cls, "config": {"name": "conv", "nb_filter": 3, "filter_length": 4,
                                            "batch_input_shape": [None, 12, 4], "activation": "relu",
                                            "border_mode": "valid", "subsample_length": 1, "bias": True}},
        {"class_name": "MaxPooling1D", "config": {"name": "pool", "pool_length": 3, "stride": 3,
                                                  "border_mode": "valid"}},
        {"class_name": "Flatten", "config": {"name": "flat"}},
        {"class_name": "Dense", "config": {"name": "out", "output_dim": 2, "activation": "linear"}}]}


def _keras1_conv_weights(rng):
    return {"conv": [("conv_W", rng.normal(size=(4, 1, 4, 3))), ("conv_b", rng.normal(size=3))],
            "pool": [], "flat": [],
            "out": [("out_W", rng.normal(size=(9, 2))), ("out_b", rng.normal(size=2))]}


def _numpy_conv_seq(x, w, flip):
    kernel = w["conv"][0][1][:, 0][::-1] if flip else w["conv"][0][1][:, 0]
    h = np.maximum(_conv_valid(x, kernel, w["conv"][1][1]), 0)
    h = h[:9].reshape(3, 3, 3).max(1).reshape(-1)
    return h @ w["out"][0][1] + w["out"][1][1]


@pytest.mark.parametrize("backend", ["tensorflow", "theano"])
def test_keras1_sequential_list_kernel_layout_and_theano_flip(tmp_path, backend):
    rng = np.random.default_rng(0)
    weights = _keras1_conv_weights(rng)
    path = _write_weights(tmp_path / "w.h5", weights, {"backend": backend})
    model = model_from_legacy(json.dumps(_keras1_conv_seq()), path)
    x = dna.random_sequences(3, 12, rng=4)
    want = [_numpy_conv_seq(s, weights, flip=backend == "theano") for s in x]
    np.testing.assert_allclose(np.asarray(model(x)), want, rtol=1e-5, atol=1e-5)


def _lstm_numpy(x, w, units):
    def hs(v):
        return np.clip(0.2 * v + 0.5, 0, 1)  # Keras 1/2 hard_sigmoid

    h, c = np.zeros(units), np.zeros(units)
    for t in range(len(x)):
        i = hs(x[t] @ w["W_i"] + h @ w["U_i"] + w["b_i"])
        f = hs(x[t] @ w["W_f"] + h @ w["U_f"] + w["b_f"])
        o = hs(x[t] @ w["W_o"] + h @ w["U_o"] + w["b_o"])
        c = f * c + i * np.tanh(x[t] @ w["W_c"] + h @ w["U_c"] + w["b_c"])
        h = o * np.tanh(c)
    return h


def test_keras1_functional_shared_layers_lstm_and_merge(tmp_path):
    """Two inputs through a shared Keras-1 LSTM (12 gate arrays), averaged by a Merge."""
    units, rng = 3, np.random.default_rng(1)
    gates = {f"{k}_{g}": rng.normal(scale=0.7, size=(4 if k == "W" else units, units) if k != "b" else units)
             for k in "WUb" for g in "icfo"}
    arch = {"class_name": "Model", "config": {"name": "m", "layers": [
        {"class_name": "InputLayer", "name": "a", "inbound_nodes": [],
         "config": {"name": "a", "batch_input_shape": [None, 6, 4]}},
        {"class_name": "InputLayer", "name": "b", "inbound_nodes": [],
         "config": {"name": "b", "batch_input_shape": [None, 6, 4]}},
        {"class_name": "LSTM", "name": "lstm", "inbound_nodes": [[["a", 0, 0]], [["b", 0, 0]]],
         "config": {"name": "lstm", "output_dim": units, "inner_activation": "hard_sigmoid",
                    "activation": "tanh", "return_sequences": False, "consume_less": "cpu"}},
        {"class_name": "Merge", "name": "avg", "inbound_nodes": [[["lstm", 0, 0], ["lstm", 1, 0]]],
         "config": {"name": "avg", "mode": "ave", "mode_type": "raw"}}],
        "input_layers": [["a", 0, 0], ["b", 0, 0]], "output_layers": [["avg", 0, 0]]}}
    order = [f"{k}_{g}" for g in "icfo" for k in "WUb"]  # Keras 1 stored order: i, c, f, o
    path = _write_weights(tmp_path / "w.h5", {"a": [], "b": [], "avg": [],
                                              "lstm": [(f"lstm_{n}", gates[n]) for n in order]})
    model = model_from_legacy(arch, path)
    xa, xb = dna.random_sequences(2, 6, rng=5), dna.random_sequences(2, 6, rng=6)
    got = np.asarray(model([xa, xb]))
    want = [(_lstm_numpy(a, gates, units) + _lstm_numpy(b, gates, units)) / 2 for a, b in zip(xa, xb)]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert len([layer for layer in model.layers if layer.name == "lstm"]) == 1  # shared, not copied


def test_keras2_sequential_dict_form(tmp_path):
    rng = np.random.default_rng(2)
    arch = {"class_name": "Sequential", "keras_version": "2.2.4", "config": {"name": "s", "layers": [
        {"class_name": "Conv1D", "config": {"name": "c", "filters": 2, "kernel_size": [3], "strides": [1],
                                            "padding": "valid", "activation": "relu", "use_bias": True,
                                            "batch_input_shape": [None, 8, 4]}},
        {"class_name": "GlobalMaxPooling1D", "config": {"name": "g"}},
        {"class_name": "Dense", "config": {"name": "d", "units": 1, "activation": "sigmoid"}}]}}
    k, b, w, c = rng.normal(size=(3, 4, 2)), rng.normal(size=2), rng.normal(size=(2, 1)), rng.normal(size=1)
    path = _write_weights(tmp_path / "w.h5", {"c": [("c/kernel:0", k), ("c/bias:0", b)], "g": [],
                                              "d": [("d/kernel:0", w), ("d/bias:0", c)]})
    model = model_from_legacy(arch, path)
    x = dna.random_sequences(3, 8, rng=7)
    want = [1 / (1 + np.exp(-(np.maximum(_conv_valid(s, k, b), 0).max(0) @ w + c))) for s in x]
    np.testing.assert_allclose(np.asarray(model(x)), want, rtol=1e-5, atol=1e-6)


# -- bad input -----------------------------------------------------------------------------
def test_lambda_and_code_are_refused_without_execution(tmp_path):
    arch = _keras1_conv_seq()
    arch["config"].insert(1, {"class_name": "Lambda", "config": {
        "name": "evil", "function": ["4wAAAAAAAAA=", None, None], "function_type": "lambda"}})
    with pytest.raises(UnsupportedLayerError, match="'evil' is a Lambda layer.*never executes"):
        model_from_legacy(arch)
    merge = _keras1_conv_seq()
    merge["config"][3] = {"class_name": "Merge", "config": {"name": "m", "mode": ["code"],
                                                            "mode_type": "lambda"}}
    with pytest.raises(UnsupportedLayerError, match="serialized code"):
        model_from_legacy(merge)
    custom = _keras1_conv_seq()
    custom["config"][3]["config"]["activation"] = "my_custom_act"
    with pytest.raises(UnsupportedLayerError, match="my_custom_act"):
        model_from_legacy(custom)


def test_unknown_layer_class_is_named(tmp_path):
    arch = _keras1_conv_seq()
    arch["config"][2] = {"class_name": "Highway", "config": {"name": "hw"}}
    with pytest.raises(UnsupportedLayerError, match="'hw' has class 'Highway'"):
        model_from_legacy(arch)


def test_weight_shape_mismatch_and_missing_layer(tmp_path):
    rng = np.random.default_rng(3)
    weights = _keras1_conv_weights(rng)
    weights["out"][0] = ("out_W", rng.normal(size=(10, 2)))
    path = _write_weights(tmp_path / "w.h5", weights)
    with pytest.raises(ValueError, match=r"Weight-shape mismatch in layer 'out'.*\(9, 2\).*\(10, 2\)"):
        model_from_legacy(_keras1_conv_seq(), path)
    weights = _keras1_conv_weights(rng)
    del weights["out"]
    path = _write_weights(tmp_path / "w2.h5", weights)
    with pytest.raises(ValueError, match="no weights for layer 'out'"):
        model_from_legacy(_keras1_conv_seq(), path)


def test_corrupt_hdf5_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(200)))
    with pytest.raises(ValueError, match="Cannot read HDF5 weights file"):
        model_from_legacy(_keras1_conv_seq(), bad)
    with h5py.File(tmp_path / "empty.h5", "w") as f:
        f.create_dataset("x", data=[1])
    with pytest.raises(ValueError, match="not a Keras weights file"):
        model_from_legacy(_keras1_conv_seq(), tmp_path / "empty.h5")


def test_full_model_hdf5_without_arch_and_kipoi_expect(tmp_path):
    """A full-model HDF5 (``model_config`` + ``model_weights``, as Kipoi's PWM models) loads
    with ``arch=None``; ``check_expect`` compares it with stored predictions."""
    from keras_iml.zoo.batch import check_expect

    rng = np.random.default_rng(4)
    arch = {"class_name": "Sequential", "keras_version": "2.1.5", "config": [
        {"class_name": "Conv1D", "config": {"name": "pwm", "filters": 1, "kernel_size": [5],
                                            "use_bias": False, "activation": "linear",
                                            "batch_input_shape": [None, None, 4]}},
        {"class_name": "GlobalMaxPooling1D", "config": {"name": "best"}}]}
    kernel = rng.normal(size=(5, 4, 1))
    path = tmp_path / "full.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(arch)
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [b"pwm", b"best"]
        g.create_group("best").attrs["weight_names"] = []
        p = g.create_group("pwm")
        p.attrs["weight_names"] = [b"pwm/kernel:0"]
        p.create_dataset("pwm/kernel:0", data=kernel.astype(np.float32))
    model = model_from_legacy(None, path)
    x = dna.random_sequences(3, 30, rng=8)
    want = np.array([[_conv_valid(s, kernel, 0.0).max()] for s in x])
    np.testing.assert_allclose(np.asarray(model(x)), want, rtol=1e-5, atol=1e-5)
    expect = tmp_path / "expect.h5"
    with h5py.File(expect, "w") as f:
        f.create_dataset("inputs", data=x)
        f.create_dataset("preds", data=want)
    assert check_expect(model, expect)[0]
    with h5py.File(expect, "a") as f:
        f["preds"][0, 0] += 0.1
    ok, diff = check_expect(model, expect)
    assert not ok and diff == pytest.approx(0.1, abs=1e-4)
