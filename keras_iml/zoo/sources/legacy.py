"""Legacy Keras 1/2 models (architecture JSON + HDF5 weights) rebuilt as native Keras 3.

Keras 3's ``model_from_json`` rejects Keras 1/2 files and Kipoi's ``KerasModel`` uses
Keras-2 APIs, so this module translates the files itself:

* **Architecture**: ``Sequential`` (config as a list, Keras <= 2.1, or a dict with
  ``layers``) and functional ``Model`` graphs (``inbound_nodes`` in the Keras 1 and 2
  forms), including shared layers (one Keras 3 layer called once per node). Layer
  configs are translated by :mod:`keras_iml.zoo.sources.legacy_layers` (Keras-1
  argument names, Keras-1 kernel layouts, Keras 1/2 ``hard_sigmoid``).
* **Weights**: read with h5py, layer by layer by name, in stored order, with a shape
  check for every array (the whole file is checked before anything is assigned).
* **Theano**: Theano convolves with flipped kernels; TensorFlow cross-correlates. When
  the file says its backend was Theano, or ``theano_kernels=True`` is given (FactorNet
  files record no backend), convolution kernels are flipped along their length.
* **Safety**: JSON and YAML are parsed as data only; Lambda layers and any serialized
  code are refused; no code from a model file is ever executed.
"""

import json
import os

import h5py
import numpy as np

import keras
from keras_iml.zoo.sources.legacy_layers import translate

__all__ = ["load_legacy", "model_from_legacy", "read_arch", "read_hdf5_weights"]


def read_arch(arch):
    """Parses a legacy architecture: a dict, a JSON string, or a path to a JSON file."""
    if isinstance(arch, dict):
        return arch
    if isinstance(arch, (str, os.PathLike)) and os.path.exists(arch):
        try:
            with open(arch, encoding="utf-8") as handle:
                return json.load(handle)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"`arch` file {os.fspath(arch)!r} is not valid JSON: {err}") from None
    if isinstance(arch, str):
        try:
            return json.loads(arch)
        except json.JSONDecodeError as err:
            raise ValueError(f"`arch` is neither a file nor valid JSON: {err}. "
                             f"Received: arch={arch[:60]!r}") from None
    raise TypeError(f"`arch` must be a dict, JSON text or a path. Received: {type(arch).__name__}")


def _attr_list(attrs, key):
    """A list-valued HDF5 attribute, joining Keras' chunked ``key0, key1, ...`` form."""
    if key in attrs:
        values = list(attrs[key])
    else:
        values, i = [], 0
        while f"{key}{i}" in attrs:
            values.extend(attrs[f"{key}{i}"])
            i += 1
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def read_hdf5_weights(path):
    """Reads legacy HDF5 weights: ``({layer: [(weight name, array), ...]}, attrs)``.

    Layers are in stored order, each layer's arrays in stored order.

    Raises:
        ValueError: the file is not readable HDF5 or lacks Keras weight metadata.
    """
    try:
        handle = h5py.File(path, "r")
    except (OSError, ValueError) as err:
        raise ValueError(f"Cannot read HDF5 weights file {os.fspath(path)!r}: {err}") from None
    with handle:
        attrs = {k: (v.decode("utf8") if isinstance(v, bytes) else v) for k, v in handle.attrs.items()
                 if isinstance(v, (str, bytes))}
        group = handle["model_weights"] if "model_weights" in handle else handle
        attrs.update({k: (v.decode("utf8") if isinstance(v, bytes) else v)
                      for k, v in group.attrs.items() if isinstance(v, (str, bytes))})
        names = _attr_list(group.attrs, "layer_names")
        if not names:
            raise ValueError(f"HDF5 file {os.fspath(path)!r} holds no Keras `layer_names`: "
                             "it is not a Keras weights file.")
        layers = {}
        try:
            for name in names:
                g = group[name]
                layers[name] = [(w, np.asarray(g[w])) for w in _attr_list(g.attrs, "weight_names")]
        except (KeyError, OSError) as err:
            raise ValueError(f"HDF5 weights file {os.fspath(path)!r} is damaged or incomplete "
                             f"(layer {name!r}): {err}") from None
    return layers, attrs


def _layer_entries(arch):
    cfg = arch.get("config")
    if arch.get("class_name") == "Sequential":
        layers = cfg if isinstance(cfg, list) else (cfg or {}).get("layers", [])
        return "Sequential", layers
    if arch.get("class_name") in ("Model", "Functional"):
        return "Model", cfg.get("layers", [])
    raise ValueError(f"Unsupported model class {arch.get('class_name')!r}: expected "
                     "'Sequential', 'Model' or 'Functional'.")


def _input_shape(cfg, ctx=None):
    shape = cfg.get("batch_input_shape") or cfg.get("batch_shape")
    if shape is None:
        raise ValueError(f"The first layer {cfg.get('name')!r} declares no input shape.")
    shape = list(shape[1:])
    length = (ctx or {}).get("input_length")
    if length is not None and len(shape) >= 2:
        shape[0] = int(length)
    return tuple(shape)


def _build_sequential(entries, ctx):
    translated, model_layers = {}, []
    shape = _input_shape(entries[0]["config"], ctx)
    if entries[0]["class_name"] == "InputLayer":
        entries = entries[1:]
    for entry in entries:
        tr = translate(entry["class_name"], dict(entry["config"]), ctx)
        translated[tr.layer.name] = tr
        model_layers.append(tr.layer)
    model = keras.Sequential([keras.Input(shape)] + model_layers)
    return model, translated


def _node_inputs(node):
    """``[(layer, node_index, tensor_index), ...]`` of one inbound node (Keras 1/2/3 forms)."""
    if isinstance(node, dict):  # Keras 3 style {"args": [...]} is not a legacy form
        raise ValueError("Keras 3 node format in a legacy architecture is not supported.")
    return [(item[0], int(item[1]), int(item[2])) for item in node]


def _build_functional(arch, entries, ctx):
    tensors, translated, calls = {}, {}, {}
    pending = []
    for entry in entries:
        cfg = dict(entry["config"])
        cfg.setdefault("name", entry.get("name"))
        name = entry.get("name", cfg["name"])
        if entry["class_name"] == "InputLayer":
            tensors[(name, 0)] = [keras.Input(_input_shape(cfg, ctx), name=name)]
            continue
        tr = translate(entry["class_name"], cfg, ctx)
        translated[name] = tr
        for index, node in enumerate(entry.get("inbound_nodes", [])):
            pending.append((name, index, _node_inputs(node)))
    while pending:
        progressed = []
        for item in pending:
            name, index, inputs = item
            if not all((src, node) in tensors for src, node, _ in inputs):
                continue
            args = [tensors[(src, node)][t] for src, node, t in inputs]
            out = translated[name].layer(args if len(args) > 1 else args[0])
            tensors[(name, index)] = list(out) if isinstance(out, (list, tuple)) else [out]
            calls[name] = calls.get(name, 0) + 1
            progressed.append(item)
        if not progressed:
            missing = sorted({n for n, _, _ in pending})
            raise ValueError(f"The architecture graph cannot be resolved at layers {missing}.")
        pending = [p for p in pending if p not in progressed]
    cfg = arch["config"]

    def pick(refs):
        return [tensors[(n, int(i))][int(t)] for n, i, t in refs]

    inputs, outputs = pick(cfg["input_layers"]), pick(cfg["output_layers"])
    model = keras.Model(inputs if len(inputs) > 1 else inputs[0],
                        outputs if len(outputs) > 1 else outputs[0], name=cfg.get("name"))
    return model, translated


def _assign_weights(translated, stored, source):
    """Checks every array against the Keras 3 layers, then assigns them all."""
    plan = []
    with_weights = {name: tr for name, tr in translated.items() if tr.layer.weights}
    extra = [n for n, arrays in stored.items() if arrays and n not in with_weights]
    if extra:
        raise ValueError(f"{source} holds weights for layers {extra} that the architecture "
                         "does not have.")
    for name, tr in with_weights.items():
        if name not in stored or not stored[name]:
            raise ValueError(f"{source} holds no weights for layer {name!r}.")
        names = [w for w, _ in stored[name]]
        arrays = tr.convert([a for _, a in stored[name]], names)
        targets = tr.layer.weights
        if len(arrays) != len(targets):
            raise ValueError(
                f"Layer {name!r} ({type(tr.layer).__name__}) needs {len(targets)} weight arrays; "
                f"{source} holds {len(arrays)} ({names}).")
        for var, arr in zip(targets, arrays):
            if tuple(var.shape) != tuple(np.shape(arr)):
                raise ValueError(
                    f"Weight-shape mismatch in layer {name!r} ({type(tr.layer).__name__}), "
                    f"weight {var.path!r}: the architecture needs {tuple(var.shape)}; {source} "
                    f"holds {tuple(np.shape(arr))}.")
            plan.append((var, arr))
    for var, arr in plan:
        var.assign(np.asarray(arr, dtype=var.dtype))


def model_from_legacy(arch, weights=None, *, theano_kernels=None, input_length=None):
    """Builds a native Keras 3 model from a Keras 1/2 architecture and HDF5 weights.

    Args:
        arch: the architecture (dict, JSON text or JSON path); None reads it from the
            ``model_config`` attribute of a full-model HDF5 ``weights`` file.
        weights: path to the HDF5 weights (or full model) file, or None.
        theano_kernels: flip convolution kernels (models trained with Theano). None
            flips only when the file records the Theano backend.
        input_length: replaces the sequence length of every input (for architectures
            whose weights do not depend on it).

    Returns:
        A ``keras.Model`` (Sequential or functional).

    Raises:
        UnsupportedLayerError: a Lambda layer, serialized code or an unknown layer.
        ValueError: a damaged HDF5 file or weights that do not fit the architecture.

    Example:
        >>> model = model_from_legacy("arch.json", "weights.hdf5")
    """
    stored, attrs = (read_hdf5_weights(weights) if weights is not None else ({}, {}))
    if arch is None:
        if "model_config" not in attrs:
            raise ValueError(f"`arch` is None and {weights!r} holds no `model_config`.")
        arch = attrs["model_config"]
    arch = read_arch(arch)
    if theano_kernels is None:
        theano_kernels = attrs.get("backend") == "theano" or arch.get("backend") == "theano"
    ctx = {"theano_kernels": bool(theano_kernels), "input_length": input_length}
    kind, entries = _layer_entries(arch)
    if not entries:
        raise ValueError("The architecture has no layers.")
    if kind == "Sequential":
        model, translated = _build_sequential(entries, ctx)
    else:
        model, translated = _build_functional(arch, entries, ctx)
    if weights is not None:
        _assign_weights(translated, stored, f"weights file {os.path.basename(os.fspath(weights))!r}")
    return model


def load_legacy(arch_path, weights_path, *, theano_kernels=None, input_length=None):
    """Alias of :func:`model_from_legacy` taking two paths."""
    return model_from_legacy(arch_path, weights_path, theano_kernels=theano_kernels,
                             input_length=input_length)
