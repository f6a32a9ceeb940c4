"""Legacy Keras models described by Kipoi: the fallback family of the zoo.

Any Kipoi group no other family claims (e.g. ``kipoi-example/tal1``), or a directory
holding a ``model.yaml``, loads through this family: its architecture JSON and HDF5
weights (or a full-model HDF5 file) are rebuilt as a native Keras 3 model by
:func:`keras_iml.zoo.sources.legacy.model_from_legacy`.
"""

from keras_iml.zoo.families.base import Family, kipoi_files, register
from keras_iml.zoo.sources.legacy import model_from_legacy

__all__ = ["KipoiKeras"]


class KipoiKeras(Family):
    """A Kipoi ``type: keras`` model taking one-hot DNA ``(N, L, 4)``."""

    name = "keras"
    example = "kipoi-example/tal1"
    catalogue_models = {"kipoi-example/tal1": {
        "tf": "TAL1", "note": "Kipoi's small example model (Keras 2.1); not a published model"}}

    def resolve(self, request):
        return kipoi_files(request)

    def build(self, request, files):
        arch = files["arch"][0] if "arch" in files else None
        model = model_from_legacy(arch, files["weights"][0], input_length=request.input_length)
        shape = model.inputs[0].shape
        if len(model.inputs) != 1 or len(shape) != 3 or shape[-1] != 4:
            raise ValueError(f"{request.name}: keras_iml explains models taking one-hot DNA "
                             f"(N, L, 4); this one takes {[tuple(i.shape) for i in model.inputs]}.")
        return model, {}


register(KipoiKeras, fallback=True)
