"""Family builders: how each kind of zoo model becomes a native Keras 3 model.

Each family is a :class:`Family` with ``resolve(request) -> files`` (the local, verified
files it needs, as ``{arg: (path, md5)}``; their md5s key the ``.keras`` cache) and
``build(request, files) -> (model, info)``. ``FAMILIES`` maps the first component of
a zoo name to its family; names of other groups whose description says ``keras`` use
the generic legacy-Keras family.
"""

import dataclasses
import re

from keras_iml.models_pwm import load_motifs, pwm_model
from keras_iml.zoo import deepbind, factornet
from keras_iml.zoo.legacy import model_from_legacy
from keras_iml.zoo.store import md5sum

__all__ = ["Family", "Request", "FAMILIES", "family_of"]


@dataclasses.dataclass
class Request:
    """What :func:`keras_iml.zoo.load` asks a family for."""

    name: str
    spec: object  # ModelSpec or None
    store: object  # WeightStore
    input_length: int = None
    options: dict = dataclasses.field(default_factory=dict)
    row: dict = None  # catalogue row or None


@dataclasses.dataclass(frozen=True)
class Family:
    """A model family: how to find its files and build it."""

    name: str
    resolve: object
    build: object
    needs_spec: bool = True
    options: tuple = ()


def _fixed_length(request, length):
    if request.input_length not in (None, length):
        raise ValueError(f"{request.name} takes sequences of exactly {length} bp; its "
                         f"architecture cannot be resized. Received: input_length={request.input_length}")
    return length


def _legacy_files(request):
    files = {"weights": request.store.fetch(request.spec, "weights")}
    if "arch" in request.spec.files:
        files["arch"] = request.store.fetch(request.spec, "arch")
    return files


# -- DeepBind ----------------------------------------------------------------------------

def _deepbind_id(name):
    match = re.search(r"D\d{5}\.\d{3}", name)
    if match is None:
        raise ValueError(f"A DeepBind model name must contain its ID (D#####.###). Received: {name!r}")
    return match.group(0)


def _deepbind_resolve(request):
    md5 = (request.row or {}).get("weights_md5") or None
    path = request.store.deepbind_params(_deepbind_id(request.name), md5=md5)
    return {"params": (path, md5 or md5sum(path))}


def _deepbind_build(request, files):
    params = deepbind.read_params(files["params"][0])
    spec_length = request.spec.input_length if request.spec is not None else None
    length = request.input_length or spec_length or 101
    window = request.options.get("window_size")
    average = bool(request.options.get("average", False))
    model = deepbind.build_deepbind(params, length, window_size=window, average=average,
                                    name=_deepbind_id(request.name).replace(".", "_"))
    info = {"variant": dict(reverse_complement=params.reverse_complement,
                            has_avg_pooling=params.has_avg_pooling, num_hidden=params.num_hidden,
                            detector_len=params.detector_len),
            "window_size": window or params.default_window,
            "window_pooling": "mean" if average else "max",
            "output": "DeepBind score (unbounded, not a probability)"}
    return model, info


# -- FactorNet, MPRA-DragoNN, generic legacy Keras --------------------------------------

def _factornet_build(request, files):
    _fixed_length(request, 1002)
    model, info = factornet.build_factornet(
        files["arch"][0], files["weights"][0], model_name=request.name,
        tracks=request.options.get("tracks"), meta_features=request.options.get("meta_features"))
    return model, {**info, "output": "binding probability (average of both strands)"}


def _legacy_build(request, files):
    arch = files["arch"][0] if "arch" in files else None
    model = model_from_legacy(arch, files["weights"][0], input_length=request.input_length)
    shape = model.inputs[0].shape
    if len(model.inputs) != 1 or len(shape) != 3 or shape[-1] != 4:
        raise ValueError(f"{request.name}: keras_iml explains models taking one-hot DNA "
                         f"(N, L, 4); this one takes {[tuple(i.shape) for i in model.inputs]}.")
    return model, {}


def _mpra_build(request, files):
    model, info = _legacy_build(request, files)
    doc = (request.spec.targets[0].get("doc") if request.spec.targets else "") or ""
    labels = [t.strip(" .") for t in doc.split(":", 1)[-1].split(",") if t.strip(" .")]
    if len(labels) == model.output_shape[-1]:
        info["outputs"] = labels
    return model, info


# -- PWM models --------------------------------------------------------------------------

def _jaspar_id(name):
    return name.split("/", 1)[1] if "/" in name else name


def _jaspar_resolve(request):
    return {}


def _jaspar_build(request, files):  # noqa: ARG001
    motif_id = _jaspar_id(request.name)
    label, pfm = load_motifs([motif_id], name="name")[0]
    length = request.input_length or 100
    model = pwm_model(pfm, int(length), name=f"pwm_{motif_id.replace('.', '_')}")
    return model, {"tf": [str(label).split(" ")[-1] if label else motif_id],
                   "jaspar_ids": [motif_id], "output": "best log-odds match (both strands)"}


FAMILIES = {
    "DeepBind": Family("DeepBind", _deepbind_resolve, _deepbind_build, needs_spec=False,
                       options=("window_size", "average")),
    "FactorNet": Family("FactorNet", _legacy_files, _factornet_build,
                        options=("tracks", "meta_features")),
    "MPRA-DragoNN": Family("MPRA-DragoNN", _legacy_files, _mpra_build),
    "JASPAR": Family("JASPAR", _jaspar_resolve, _jaspar_build, needs_spec=False),
}
GENERIC = Family("keras", _legacy_files, _legacy_build)


def family_of(name):
    """The :class:`Family` of a zoo name (generic legacy Keras for other groups)."""
    return FAMILIES.get(str(name).strip("/").split("/")[0], GENERIC)
