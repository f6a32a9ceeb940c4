"""`keras_iml.zoo.load`: a published zoo model as a native Keras 3 :class:`IMLModel`.

The family registered under the first component of the name
(:mod:`keras_iml.zoo.families`) resolves the model's files and builds it; this module
adds the metadata and keeps the converted model as ``.keras`` in the cache.
"""

import hashlib
import json
import os
import pathlib
import re

import numpy as np

import keras
from keras_iml.io import atomic_write
from keras_iml.wrapper import IMLModel, wrap
from keras_iml.zoo.catalogue import catalogue_row, jaspar_lookup
from keras_iml.zoo.families import Request, family_of
from keras_iml.zoo.sources.spec import read_spec
from keras_iml.zoo.sources.store import WeightStore

__all__ = ["load", "ZooModel", "FORMAT_VERSION"]

#: Bumped whenever converted models change, so stale ``.keras`` files are not reused.
FORMAT_VERSION = 3  # 3: TimeDistributed(Dense) translated to Dense


@keras.saving.register_keras_serializable(package="keras_iml")
class ZooModel(IMLModel):
    """An :class:`~keras_iml.IMLModel` whose auxiliary inputs have default values.

    :func:`load` returns one when per-sequence values were given at load (FactorNet
    ``tracks={"dnase": array}``): ``explain`` and ``validate`` use them as ``aux=``
    unless given another, so ``x`` must then hold the same ``N`` sequences, in the
    same order. ``predict`` and ``__call__`` take every input, as Keras models do.
    The values are not saved with the model.

    Attributes:
        aux: dict input name -> array with one row per sequence, or None.
    """

    def __init__(self, model, alphabet="ACGT", metadata=None, aux=None, **kwargs):
        super().__init__(model, alphabet=alphabet, metadata=metadata, **kwargs)
        object.__setattr__(self, "_iml_aux", None if aux is None else dict(aux))  # untracked

    @property
    def aux(self):
        return self.__dict__.get("_iml_aux")

    def explain(self, x, method="saliency", **kwargs):
        """Attributions for ``x`` (default ``aux``: the values given at load)."""
        if self.aux is not None:
            kwargs.setdefault("aux", self.aux)
        return super().explain(x, method, **kwargs)

    def validate(self, x, y=None, **kwargs):
        """Tiered validation (default ``aux``: the values given at load)."""
        if self.aux is not None:
            kwargs.setdefault("aux", self.aux)
        return super().validate(x, y, **kwargs)


def _structure(value):
    """An option as it shapes the model: per-sequence arrays (2-D or more) become
    ``"input"``, so loads that differ only in those values share a cache entry."""
    if isinstance(value, dict):
        return {str(k): _structure(v) for k, v in value.items()}
    if isinstance(value, str):
        return value
    try:
        if np.ndim(value) >= 2:
            return "input"
    except ValueError:  # ragged: look inside
        pass
    if isinstance(value, (list, tuple)):
        return [_structure(v) for v in value]
    return value


def _summary(aux):
    """What the per-sequence values given at load were, for the metadata (JSON)."""
    return {name: {"shape": list(a.shape), "mean": float(np.mean(a)), "min": float(np.min(a)),
                   "max": float(np.max(a))} for name, a in aux.items()}


def _tf_name(name, row, spec):
    """TF names when the family gives none: the catalogue's, else ``<group>/<TF>/...``
    for a description tagged as binding."""
    if row and row.get("tf"):
        return [row["tf"]]
    parts = name.split("/")
    return [parts[1]] if len(parts) > 2 and spec is not None and "binding" in " ".join(spec.tags).lower() else []


def _metadata(request, family, files, info):
    spec, row = request.spec, request.row or {}
    tfs = info.pop("tf") if "tf" in info else _tf_name(request.name, row, spec)
    ids = info.pop("jaspar_ids", None)
    if ids is None:
        if row.get("jaspar_ids"):
            ids = row["jaspar_ids"].split(";")
        elif tfs:
            ids = jaspar_lookup(tfs[0], row.get("species") or "Homo sapiens")[0]
        else:
            ids = []
    meta = {
        "name": request.name,
        "family": family.name,
        "tf": list(tfs),
        "jaspar_ids": list(ids),
        "input_length": None,
        "alphabet": spec.alphabet if spec is not None else "ACGT",
        "license": (spec.license if spec is not None else None) or row.get("license") or None,
        "citation": (spec.citation if spec is not None else None) or row.get("citation") or None,
        "species": row.get("species") or None,
        "experiment": row.get("experiment") or None,
        "notes": row.get("notes") or None,
        "outputs": (spec.targets[0].get("column_labels") if spec is not None and spec.targets else None),
        "files": {arg: {"path": os.fspath(p), "md5": m} for arg, (p, m) in files.items()},
        "keras_iml_zoo_format": FORMAT_VERSION,
    }
    meta.update(info)
    return meta


def _cache_file(store, request, files, family):
    options = {k: _structure(request.options[k]) for k in family.options if k in request.options}
    key = json.dumps({"name": request.name, "md5": {a: m for a, (_, m) in files.items()},
                      "input_length": request.input_length, "options": options,
                      "format": FORMAT_VERSION}, sort_keys=True, default=str)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", request.name)
    return store.cache_dir / "models" / safe / f"{digest}.keras"


def load(name, *, source=None, input_length=None, cache_dir=None, offline=None, use_cache=True,
         **options):
    """Loads a published zoo model as a native Keras 3 model with metadata.

    Args:
        name: a zoo name, e.g. ``"DeepBind/Homo_sapiens/TF/D00328.018_ChIP-seq_CTCF"``,
            ``"FactorNet/MAX/onePeak_Unique35_DGF"``, ``"MPRA-DragoNN/ConvModel"``,
            ``"JASPAR/MA0139.2"`` (a PWM model), or a directory with a ``model.yaml``.
        source: the Kipoi source directory (laid out like kipoi/models); files are also
            looked for beside it (see :mod:`keras_iml.zoo.sources.store`).
        input_length: overrides the description's sequence length where the
            architecture allows it (DeepBind scans windows; PWM models scan).
        cache_dir: the cache (default ``$KERAS_IML_CACHE`` or ``~/.cache/keras_iml``).
        offline: never download (default ``$KERAS_IML_OFFLINE``).
        use_cache: reuse / write the converted ``.keras`` model in the cache.
        **options: the family's options (its ``options``): DeepBind ``window_size``,
            ``average``; FactorNet ``tracks`` (dict track name -> a constant, or
            ``"input"`` or an array ``(N, 1002)`` / ``(N, 1002, 1)`` per sequence, which
            makes the track an input of the model) and ``meta_features``.

    Returns:
        An :class:`~keras_iml.IMLModel` whose ``metadata`` holds ``tf`` (TF names),
        ``jaspar_ids``, ``input_length``, ``alphabet``, ``license``, ``citation``, the
        files used with their md5s, the values used (FactorNet: ``tracks``,
        ``aux_inputs``) and notes saying them. With per-sequence arrays given as
        options, a :class:`ZooModel` that uses them as its default ``aux=``, with
        ``metadata["aux_values"]`` summarising them (shape, mean, min, max).

    Raises:
        WeightsUnavailableError: a file is missing and cannot be downloaded (the message
            says which file, its md5 and where to place it).
        UnsupportedLayerError: the architecture holds a Lambda layer, code or an
            unknown layer class.
        ValueError: a damaged or mismatched file, bad arguments, or a name no family
            claims without ``source`` (the message lists the families).

    Example:
        >>> model = keras_iml.zoo.load("DeepBind/Homo_sapiens/TF/D00328.018_ChIP-seq_CTCF",
        ...                            source="../shared/zoo/kipoi-models")
        >>> model.metadata["jaspar_ids"][:1]
        ['MA0139.2']
        >>> model.explain(x, "integrated_gradients")
        >>> factornet = keras_iml.zoo.load("FactorNet/MAX/onePeak_Unique35_DGF",
        ...                                source="../shared/zoo/kipoi-models",
        ...                                tracks={"dnase": dnase})   # (N, 1002) per sequence
        >>> factornet.explain(x, "saliency")                          # x: the same N sequences
    """
    if not isinstance(name, (str, os.PathLike)) or not str(name).strip():
        raise ValueError(f"`name` must be a zoo model name. Received: name={name!r}")
    name = os.fspath(name)
    if input_length is not None and (isinstance(input_length, bool)
                                     or not isinstance(input_length, int) or input_length < 1):
        raise ValueError(f"`input_length` must be a positive int. Received: input_length={input_length!r}")
    kipoi = source is not None or pathlib.Path(name).is_dir()
    try:  # with a Kipoi source, groups no family claims load as legacy Keras models
        family = family_of(name, fallback=kipoi)
    except ValueError as err:
        raise ValueError(f"{err}. Models of other Kipoi groups load as legacy Keras models "
                         "given `source=` (a Kipoi source directory).") from None
    unknown = sorted(set(options) - set(family.options))
    if unknown:
        raise ValueError(f"Unknown option(s) {unknown} for the {family.name} family; "
                         f"it takes {list(family.options)}.")
    store = WeightStore(source, cache_dir=cache_dir, offline=offline)
    spec = None
    if family.needs_spec or kipoi:
        spec = read_spec(name, source)
        name = spec.name if not pathlib.Path(name).is_dir() else name
    request = Request(name=name, spec=spec, store=store, input_length=input_length,
                      options=dict(options), row=catalogue_row(name))
    aux = family.aux_values(request)  # checked before anything is built or cached
    use_cache = use_cache and family.cache_converted
    files = family.resolve(request)
    target = _cache_file(store, request, files, family)
    if use_cache and target.is_file():
        try:
            model = keras.saving.load_model(target)
            if isinstance(model, IMLModel):
                return _with_aux(model, aux)
        except (ValueError, TypeError, OSError, KeyError):
            pass  # a stale or damaged cache entry is rebuilt and replaced below
    model, info = family.build(request, files)
    metadata = _metadata(request, family, files, info)
    metadata["input_length"] = model.inputs[0].shape[1]
    iml = wrap(model, alphabet=metadata["alphabet"], metadata=metadata)
    if use_cache:
        atomic_write(target, iml.save)
    return _with_aux(iml, aux)


def _with_aux(iml, aux):
    """``iml``, or a :class:`ZooModel` sharing its model when per-sequence values were given."""
    if not aux:
        return iml
    metadata = {**iml.metadata, "aux_values": _summary(aux)}
    zoo_model = ZooModel(iml.model, alphabet=iml.alphabet, metadata=metadata, aux=aux, name=iml.name)
    zoo_model.built = iml.built
    return zoo_model
