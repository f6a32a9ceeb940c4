"""SpliceAI (Jaganathan et al., Cell 2019): ``SpliceAI`` (the five models averaged, as
SpliceAI scores) or ``SpliceAI/spliceai1`` … ``SpliceAI/spliceai5`` (one of them).

The weights ship inside the ``spliceai`` package (``spliceai/models/spliceai{1..5}.h5``,
GPLv3); they are read from the installed package, found through its distribution
metadata (importing ``spliceai`` itself needs ``pkg_resources``, which recent
setuptools no longer provides), and rebuilt by the safe legacy reader
(:func:`~keras_iml.zoo.sources.legacy.model_from_legacy`: no code from the file runs),
which gives the same outputs as ``keras.models.load_model`` on these files. Nothing is
copied into this repository or downloaded.

Input ``(N, L, 4)`` one-hot DNA (ACGT) with ``L > 10,000``; output ``(N, L - 10,000, 3)``:
the probability of no splice site, an acceptor and a donor at each position of the
input's centre (5,000 bases of context on each side). The loaded model's
``metadata["classes"]`` names those three classes, so ``target=("donor", 2500)``
explains the donor probability at output position 2500, i.e. input position 7500.
"""

import hashlib
import importlib.metadata

import keras
from keras_iml.zoo.families.base import Family, register
from keras_iml.zoo.sources.errors import WeightsUnavailableError
from keras_iml.zoo.sources.legacy import model_from_legacy

__all__ = ["SpliceAI", "CLASSES", "CONTEXT", "MEMBERS"]

#: The classes along the last axis of SpliceAI's output.
CLASSES = ("none", "acceptor", "donor")
#: Bases of context the model consumes: its output is this much shorter than its input.
CONTEXT = 10_000
#: The five models of the ensemble, by zoo name component.
MEMBERS = tuple(f"spliceai{i}" for i in range(1, 6))

_INSTALL = ("SpliceAI's weights ship in the `spliceai` package (1.3.1, GPLv3), which is not "
            "installed: pip install 'keras-iml[splicing]' (it installs beside TensorFlow 2.x "
            "without replacing it).")


def _md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _members(name):
    """The ensemble members a zoo name asks for."""
    parts = [p for p in str(name).strip("/").split("/") if p]
    if len(parts) == 1:
        return MEMBERS
    if len(parts) == 2 and parts[1] in MEMBERS:
        return (parts[1],)
    raise ValueError(f"SpliceAI models are 'SpliceAI' (the five averaged) or one of "
                     f"{['SpliceAI/' + m for m in MEMBERS]}. Received: name={name!r}")


@register
class SpliceAI(Family):
    """SpliceAI from the installed ``spliceai`` package; ``input_length`` fixes the input
    length (default: any length above 10,000)."""

    name = "SpliceAI"
    needs_spec = False
    needs_files = False  # its files come with a package, not from a zoo source
    example = "SpliceAI/spliceai1"
    cache_converted = False  # rebuilt from the package in ~1 s a model; a .keras reads slower

    def resolve(self, request):
        members = _members(request.name)
        try:
            dist = importlib.metadata.distribution("spliceai")
        except importlib.metadata.PackageNotFoundError:
            raise WeightsUnavailableError(_INSTALL) from None
        files = {}
        for member in members:
            path = dist.locate_file(f"spliceai/models/{member}.h5")
            if not path.is_file():
                raise WeightsUnavailableError(
                    f"The installed spliceai {dist.version} has no {member}.h5 (looked at "
                    f"{path}). {_INSTALL}")
            files[member] = (path, _md5(path))
        return files

    def build(self, request, files):
        if request.input_length is not None and request.input_length <= CONTEXT:
            raise ValueError(f"SpliceAI needs more than {CONTEXT} bases of input (5,000 of "
                             f"context on each side). Received: input_length={request.input_length}")
        members = [model_from_legacy(None, str(path), input_length=request.input_length)
                   for path, _ in files.values()]
        if len(members) == 1:
            model = members[0]
            model.name = next(iter(files))
        else:
            inputs = keras.Input((request.input_length, 4), name="dna")
            outputs = keras.layers.Average(name="ensemble_mean")([
                keras.Model(m.inputs, m.outputs[0], name=member)(inputs) for member, m in zip(files, members)])
            model = keras.Model(inputs, outputs, name="spliceai")
        return model, {
            "classes": list(CLASSES),
            "context": CONTEXT,
            "min_input_length": CONTEXT + 1,
            "members": list(files),
            "output": ("probability of no splice site, an acceptor and a donor at each position "
                       f"of the input but the first and last {CONTEXT // 2}"),
            "license": "GPLv3 (the spliceai package)",
            "citation": "Jaganathan et al., Predicting splicing from primary sequence with deep "
                        "learning, Cell 176:535 (2019)",
            "tf": [],
            "jaspar_ids": [],
        }
