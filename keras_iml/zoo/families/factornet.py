"""FactorNet (Quang & Xie 2019) as a Keras 3 model of DNA (and, optionally, its tracks).

FactorNet's published models (Keras 1.1, trained with Theano) take two inputs, the
sequence and its reverse complement, each with extra per-base channels after the four
DNA columns (in the order of Kipoi's dataloader: mappability when the model name says
``Unique35``, then DNase), and average the two predictions. Some variants take a third
input of cell-type features.

:func:`build_factornet` converts the legacy files (flipping the Theano convolution
kernels, Keras-1 ``hard_sigmoid`` in the LSTM) and wraps the result in a model taking
one-hot DNA ``(N, 1002, 4)``: a :class:`FactorNetInputs` layer appends the tracks and
builds the reverse-complement input (tracks reversed along the sequence, as Kipoi's
dataloader does), so attribution methods explain the DNA. Each track is either a
constant (the defaults: mappability 1.0, DNase 0.1, which put random backgrounds
mid-range for MAX) or, given per sequence, an input of the model named after the
track, ``(N, 1002, 1)``, held fixed while the DNA is attributed (``aux=``).
Predictions depend strongly on the DNase level (with 0 every site is unbound).
The :class:`FactorNet` family loads ``FactorNet/<TF>/<variant>`` zoo names this way.
"""

import pathlib

import numpy as np

import keras
from keras_iml.zoo.families.base import Family, fixed_length, kipoi_files, register
from keras_iml.zoo.sources.legacy import model_from_legacy

__all__ = ["FactorNet", "FactorNetInputs", "ConstantFeatures", "build_factornet", "track_names",
           "per_sequence_values", "DEFAULT_TRACKS", "INPUT"]

#: Constant values of the extra tracks when none are given.
DEFAULT_TRACKS = {"mappability": 1.0, "dnase": 0.1}

#: A track (or ``meta_features``) value saying "a model input, given per sequence with ``aux=``".
INPUT = "input"

_LABELS = {"dnase": "DNase", "mappability": "mappability"}


@keras.saving.register_keras_serializable(package="keras_iml")
class FactorNetInputs(keras.layers.Layer):
    """DNA ``(N, L, 4)`` (and per-sequence tracks) -> ``[forward, reverse complement]``.

    Each output is ``(N, L, 4 + k)``: the DNA then the ``k`` tracks in channel order.
    The reverse complement flips the DNA along both axes and the tracks along the
    sequence only.

    Args:
        values: one entry per track, in channel order: its constant value, or None
            for a track given per sequence (the layer's inputs after the DNA, in order,
            each ``(N, L, 1)``).
        length: the sequence length, restored as a static shape (the engine traces
            with a free length, and oneDNN's MaxPool1D kernel fails at run time on the
            pooled shape inferred without it).
    """

    def __init__(self, values=(1.0, 0.1), length=None, **kwargs):
        super().__init__(**kwargs)
        self.values = [None if v is None else float(v) for v in values]
        self.length = None if length is None else int(length)

    def call(self, inputs):
        if isinstance(inputs, (list, tuple)):
            x, given = inputs[0], list(inputs[1:])
        else:
            x, given = inputs, []
        if self.length is not None:
            x = keras.ops.reshape(x, (-1, self.length, 4))
            given = [keras.ops.reshape(t, (-1, self.length, 1)) for t in given]
        ones = keras.ops.ones_like(x[..., :1])
        tracks = []
        for value in self.values:
            tracks.append(given.pop(0) if value is None else ones * value)
        rc = keras.ops.flip(x, axis=(1, 2))
        return [keras.ops.concatenate([x] + tracks, axis=-1),
                keras.ops.concatenate([rc] + [keras.ops.flip(t, axis=1) for t in tracks], axis=-1)]

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        shape = tuple(input_shape[:-1]) + (input_shape[-1] + len(self.values),)
        return [shape, shape]

    def get_config(self):
        return {**super().get_config(), "values": self.values, "length": self.length}


@keras.saving.register_keras_serializable(package="keras_iml")
class ConstantFeatures(keras.layers.Layer):
    """A constant feature vector ``(N, k)`` for every sequence of a batch."""

    def __init__(self, values=(), **kwargs):
        super().__init__(**kwargs)
        self.values = [float(v) for v in values]

    def call(self, x):
        row = keras.ops.convert_to_tensor(np.asarray(self.values, dtype="float32")[None])
        return keras.ops.ones_like(x[:, :1, 0])[:, :1] * row

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.values))

    def get_config(self):
        return {**super().get_config(), "values": self.values}


def track_names(model_name, n_extra):
    """Names of the extra channels of a FactorNet model, in channel order."""
    names = (["mappability"] if "Unique35" in str(model_name) else []) + ["dnase"]
    if len(names) != n_extra:
        raise ValueError(
            f"FactorNet model {model_name!r} has {n_extra} extra channels but its name implies "
            f"{names}; pass `tracks=` as a list of {n_extra} values.")
    return names


def _is_input(value):
    return isinstance(value, str) and value == INPUT


def _track_array(value, what, length):
    """A per-sequence track as float32 ``(N, length, 1)``, or None for a constant."""
    if _is_input(value):
        return None
    if isinstance(value, str) or np.ndim(value) == 0:
        try:
            if not np.isfinite(float(value)):
                raise ValueError
        except (TypeError, ValueError):
            raise ValueError(f"`{what}` must be a number, {INPUT!r} or an array (N, {length}) / "
                             f"(N, {length}, 1). Received: {what}={value!r}") from None
        return None
    arr = np.asarray(value, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[1:] != (length, 1) or not len(arr):
        raise ValueError(f"`{what}` must be a number, {INPUT!r} or an array (N, {length}) / "
                         f"(N, {length}, 1). Received: {what}.shape={np.shape(value)}")
    if not np.isfinite(arr).all():
        raise ValueError(f"`{what}` contains NaN or inf values.")
    return arr


def _tracks(model_name, n_extra, tracks):
    """``[(name, value)]`` in channel order; value a float, or :data:`INPUT` (per sequence)."""
    if isinstance(tracks, (list, tuple)):
        if len(tracks) != n_extra:
            raise ValueError(f"`tracks` must hold {n_extra} values. Received: tracks={tracks!r}")
        pairs = [(f"track{i}", v) for i, v in enumerate(tracks)]
    else:
        if tracks is not None and not isinstance(tracks, dict):
            raise TypeError(f"`tracks` must be a dict track name -> value or a list. "
                            f"Received: tracks of type {type(tracks).__name__}")
        names = track_names(model_name, n_extra)
        given = dict(tracks or {})
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise ValueError(f"Unknown track(s) {unknown}; this model has {names}. "
                             f"Received: tracks keys {sorted(given)}")
        pairs = [(n, given.get(n, DEFAULT_TRACKS[n])) for n in names]
    out = []
    for name, value in pairs:
        per_sequence = _is_input(value) or _track_array(value, f"tracks[{name!r}]", 1002) is not None
        out.append((name, INPUT if per_sequence else float(value)))
    return out


def _meta(meta_features, width):
    """``(kind, row)``: ``("constant", values)`` or ``("input", None)`` for per-sequence features."""
    if _is_input(meta_features):
        return INPUT, None
    if meta_features is not None and np.ndim(meta_features) == 2:
        arr = np.asarray(meta_features, np.float32)
        if arr.shape[1] != width or not len(arr):
            raise ValueError(f"`meta_features` per sequence must be (N, {width}). "
                             f"Received: meta_features.shape={arr.shape}")
        return INPUT, None
    if meta_features is None or np.size(meta_features) != width:
        raise ValueError(f"This FactorNet model takes {width} cell-type features; pass "
                         f"`meta_features` with {width} values (or (N, {width}) per sequence, or "
                         f"{INPUT!r}). Received: {meta_features!r}")
    return "constant", np.ravel(meta_features).astype(float)


def per_sequence_values(model_name, tracks=None, meta_features=None):
    """The per-sequence arrays given at load: dict input name -> float32 array.

    Tracks given as arrays become ``(N, 1002, 1)``; ``meta_features`` given as a 2-D
    array ``(N, k)`` is kept as it is. Returns None when none were given as arrays.

    Raises:
        ValueError: a mis-shaped array, or arrays of different numbers of sequences.
    """
    out = {}
    if isinstance(tracks, dict):
        items = tracks.items()
    elif isinstance(tracks, (list, tuple)):
        items = ((f"track{i}", v) for i, v in enumerate(tracks))
    else:
        items = ()
    for name, value in items:
        arr = _track_array(value, f"tracks[{name!r}]", 1002)
        if arr is not None:
            out[name] = arr
    if meta_features is not None and not _is_input(meta_features) and np.ndim(meta_features) == 2:
        out["meta_features"] = np.asarray(meta_features, np.float32)
    sizes = {k: len(v) for k, v in out.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"Per-sequence tracks must all hold the same number of sequences. "
                         f"Received: {sizes}")
    return out or None


def _notes(tracks, meta_kind):
    parts = []
    for name, value in tracks:
        label = _LABELS.get(name, name)
        parts.append(f"{label} per sequence (model input {name!r}, aux= or tracks= arrays)"
                     if _is_input(value) else f"{label} {value:g} (constant)")
    note = "extra per-base channels: " + ", ".join(parts) + "; predictions depend on them"
    if meta_kind == INPUT:
        note += "; cell-type features per sequence (model input 'meta_features')"
    return note


def build_factornet(arch, weights, *, model_name="", tracks=None, meta_features=None,
                    theano_kernels=True, catalogue_notes=None):
    """A Keras 3 FactorNet taking one-hot DNA ``(N, 1002, 4)`` (and per-sequence tracks).

    Args:
        arch: the legacy architecture (JSON path, text or dict).
        weights: the HDF5 weights path.
        model_name: the zoo name (tells which extra tracks exist).
        tracks: dict track name -> value, or a list in channel order (default
            :data:`DEFAULT_TRACKS`). A value is a number (a constant track), or
            ``"input"`` or an array ``(N, 1002)`` / ``(N, 1002, 1)`` (the track is then
            an input of the model named after it, ``(N, 1002, 1)``, given per
            sequence with ``aux=``; see :func:`per_sequence_values` for the arrays).
        meta_features: values of the third input of models that take cell-type
            features (required for those): ``k`` numbers (constant), or ``"input"`` /
            an array ``(N, k)`` (an input named ``meta_features``).
        theano_kernels: flip convolution kernels (True for the published files).
        catalogue_notes: the catalogue's notes on the model; the part about the
            tracks is replaced by the values used here.

    Returns:
        ``(model, info)``: the wrapped ``keras.Model`` and a dict of what was used:
        ``tracks`` (name -> constant value, or ``"input"``), ``aux_inputs`` (the names
        of the model's per-sequence inputs) and ``notes``.

    Example:
        >>> model, info = build_factornet("model.json", "best_model.hdf5",
        ...                               model_name="FactorNet/MAX/onePeak_Unique35_DGF",
        ...                               tracks={"dnase": "input"})
        >>> [t.name for t in model.inputs], info["tracks"]
        (['seq', 'dnase'], {'mappability': 1.0, 'dnase': 'input'})
    """
    legacy = model_from_legacy(arch, weights, theano_kernels=theano_kernels)
    shape = legacy.inputs[0].shape
    used = _tracks(model_name, int(shape[-1]) - 4, tracks)
    inp = keras.Input((shape[1], 4), name="seq")
    track_inputs = [keras.Input((shape[1], 1), name=name) for name, v in used if _is_input(v)]
    layer = FactorNetInputs([None if _is_input(v) else v for _, v in used], length=int(shape[1]),
                            name="factornet_inputs")
    fwd, rev = layer([inp] + track_inputs if track_inputs else inp)
    args, inputs, meta_kind = [fwd, rev], [inp] + track_inputs, None
    if len(legacy.inputs) == 3:
        width = int(legacy.inputs[2].shape[-1])
        meta_kind, row = _meta(meta_features, width)
        if meta_kind == INPUT:
            meta = keras.Input((width,), name="meta_features")
            inputs.append(meta)
            args.append(meta)
        else:
            args.append(ConstantFeatures(row, name="meta_features")(inp))
    elif len(legacy.inputs) != 2:
        raise ValueError(f"Unexpected FactorNet inputs: {len(legacy.inputs)}.")
    out = legacy(args)
    model = keras.Model(inputs if len(inputs) > 1 else inp, out, name="factornet")
    kept = [p for p in str(catalogue_notes or "").split("; ")
            if p and "DNase" not in p and "mappability" not in p and "predictions depend" not in p]
    notes = "; ".join(kept[:1] + [_notes(used, meta_kind)] + kept[1:])
    info = {"tracks": dict(used), "aux_inputs": [t.name for t in inputs[1:]],
            "theano_kernels": bool(theano_kernels), "notes": notes}
    return model, info


@register
class FactorNet(Family):
    """``FactorNet/<TF>/<variant>``: 1,002 bp; options ``tracks`` and ``meta_features``
    (see :func:`build_factornet`; arrays given per sequence become the returned model's
    default ``aux=``)."""

    name = "FactorNet"
    example = "FactorNet/MAX/onePeak_Unique35_DGF"
    options = ("tracks", "meta_features")
    catalogue_models = {
        "FactorNet/MAX/onePeak_Unique35_DGF": {"tf": "MAX", "note": (
            "Keras 1.1, Theano-trained (kernels flipped); DNA input with extra per-base "
            "mappability (1.0) and DNase (0.1) channels, constant by default or per sequence "
            "with tracks=: predictions depend on them")},
        "FactorNet/FOXA1/onePeak_DGF": {"tf": "FOXA1", "note": (
            "Keras 1.1, Theano-trained (kernels flipped); DNA input with an extra per-base "
            "DNase (0.1) channel, constant by default or per sequence with tracks=: "
            "predictions depend on them")},
    }

    def catalogue_rows(self, shared, jaspar_db):
        """The two models with weights in the shared files, then every other FactorNet
        model Kipoi describes (weights only on Zenodo: listed as unavailable)."""
        from keras_iml.zoo.sources.spec import group_models

        rows = super().catalogue_rows(shared, jaspar_db)
        for name in group_models(pathlib.Path(shared) / "zoo" / "kipoi-models", "FactorNet"):
            if name not in self.catalogue_models:
                rows.append({"name": name, "family": "FactorNet", "model_id": name.split("/", 1)[1],
                             "tf": name.split("/")[1], "type": "TF", "input_length": 1002,
                             "alphabet": "ACGT", "license": "MIT", "supported": "weights-unavailable",
                             "notes": "weights only on Zenodo (not in ../shared); loads when downloaded"})
        return rows

    def resolve(self, request):
        return kipoi_files(request)

    def build(self, request, files):
        fixed_length(request, 1002)
        model, info = build_factornet(
            files["arch"][0], files["weights"][0], model_name=request.name,
            tracks=request.options.get("tracks"), meta_features=request.options.get("meta_features"),
            catalogue_notes=(request.row or {}).get("notes"))
        return model, {**info, "output": "binding probability (average of both strands)"}

    def aux_values(self, request):
        return per_sequence_values(request.name, request.options.get("tracks"),
                                   request.options.get("meta_features"))
