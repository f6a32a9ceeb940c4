"""FactorNet (Quang & Xie 2019) as a Keras 3 model of DNA alone.

FactorNet's published models (Keras 1.1, trained with Theano) take two inputs, the
sequence and its reverse complement, each with extra per-base channels after the four
DNA columns (in the order of Kipoi's dataloader: mappability when the model name says
``Unique35``, then DNase), and average the two predictions. Some variants take a third
input of cell-type features.

:func:`build_factornet` converts the legacy files (flipping the Theano convolution
kernels, Keras-1 ``hard_sigmoid`` in the LSTM) and wraps the result in a model taking
one-hot DNA ``(N, 1002, 4)`` only: a :class:`FactorNetInputs` layer appends constant
tracks and builds the reverse-complement input, so attribution methods explain the
DNA. Predictions depend strongly on the DNase level (with 0 every site is unbound);
the defaults (mappability 1.0, DNase 0.1) put random backgrounds mid-range for MAX.
The :class:`FactorNet` family loads ``FactorNet/<TF>/<variant>`` zoo names this way.
"""

import numpy as np

import keras
from keras_iml.zoo.families.base import Family, fixed_length, kipoi_files, register
from keras_iml.zoo.sources.legacy import model_from_legacy

__all__ = ["FactorNet", "FactorNetInputs", "ConstantFeatures", "build_factornet", "track_names",
           "DEFAULT_TRACKS"]

#: Constant values of the extra tracks when none are given.
DEFAULT_TRACKS = {"mappability": 1.0, "dnase": 0.1}


@keras.saving.register_keras_serializable(package="keras_iml")
class FactorNetInputs(keras.layers.Layer):
    """DNA ``(N, L, 4)`` -> ``[forward, reverse complement]``, each ``(N, L, 4 + k)``.

    Args:
        values: the constant value of each extra track, in channel order.
    """

    def __init__(self, values=(1.0, 0.1), **kwargs):
        super().__init__(**kwargs)
        self.values = [float(v) for v in values]

    def _with_tracks(self, x):
        if not self.values:
            return x
        ones = keras.ops.ones_like(x[..., :1])
        return keras.ops.concatenate([x] + [ones * v for v in self.values], axis=-1)

    def call(self, x):
        return [self._with_tracks(x), self._with_tracks(keras.ops.flip(x, axis=(1, 2)))]

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[:-1]) + (input_shape[-1] + len(self.values),)
        return [shape, shape]

    def get_config(self):
        return {**super().get_config(), "values": self.values}


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


def build_factornet(arch, weights, *, model_name="", tracks=None, meta_features=None,
                    theano_kernels=True):
    """A Keras 3 FactorNet taking one-hot DNA ``(N, 1002, 4)``.

    Args:
        arch: the legacy architecture (JSON path, text or dict).
        weights: the HDF5 weights path.
        model_name: the zoo name (tells which extra tracks exist).
        tracks: dict track name -> constant value, or a list in channel order
            (default :data:`DEFAULT_TRACKS`).
        meta_features: values of the third input of models that take cell-type
            features (required for those).
        theano_kernels: flip convolution kernels (True for the published files).

    Returns:
        ``(model, info)``: the wrapped ``keras.Model`` and a dict of the constants used.

    Example:
        >>> model, info = build_factornet("model.json", "best_model.hdf5",
        ...                               model_name="FactorNet/MAX/onePeak_Unique35_DGF")
    """
    legacy = model_from_legacy(arch, weights, theano_kernels=theano_kernels)
    shape = legacy.inputs[0].shape
    n_extra = int(shape[-1]) - 4
    if isinstance(tracks, (list, tuple)):
        if len(tracks) != n_extra:
            raise ValueError(f"`tracks` must hold {n_extra} values. Received: tracks={tracks!r}")
        values, names = [float(v) for v in tracks], [f"track{i}" for i in range(n_extra)]
    else:
        names = track_names(model_name, n_extra)
        given = dict(tracks or {})
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise ValueError(f"Unknown track(s) {unknown}; this model has {names}.")
        values = [float(given.get(n, DEFAULT_TRACKS[n])) for n in names]
    inp = keras.Input((shape[1], 4), name="seq")
    fwd, rev = FactorNetInputs(values, name="factornet_inputs")(inp)
    args = [fwd, rev]
    if len(legacy.inputs) == 3:
        width = int(legacy.inputs[2].shape[-1])
        if meta_features is None or np.size(meta_features) != width:
            raise ValueError(f"This FactorNet model takes {width} cell-type features; pass "
                             f"`meta_features` with {width} values. Received: {meta_features!r}")
        args.append(ConstantFeatures(np.ravel(meta_features), name="meta_features")(inp))
    elif len(legacy.inputs) != 2:
        raise ValueError(f"Unexpected FactorNet inputs: {len(legacy.inputs)}.")
    out = legacy(args)
    model = keras.Model(inp, out, name="factornet")
    return model, {"tracks": dict(zip(names, values)), "theano_kernels": bool(theano_kernels)}


@register
class FactorNet(Family):
    """``FactorNet/<TF>/<variant>``: 1,002 bp; options ``tracks`` and ``meta_features``
    (see :func:`build_factornet`)."""

    name = "FactorNet"
    options = ("tracks", "meta_features")

    def resolve(self, request):
        return kipoi_files(request)

    def build(self, request, files):
        fixed_length(request, 1002)
        model, info = build_factornet(
            files["arch"][0], files["weights"][0], model_name=request.name,
            tracks=request.options.get("tracks"), meta_features=request.options.get("meta_features"))
        return model, {**info, "output": "binding probability (average of both strands)"}
