"""MPRA-DragoNN (Movva et al. 2019): a legacy Keras 2.2 model with labelled outputs."""

from keras_iml.zoo.families.base import register
from keras_iml.zoo.families.kipoi_keras import KipoiKeras

__all__ = ["MPRADragoNN"]


@register
class MPRADragoNN(KipoiKeras):
    """``MPRA-DragoNN/<model>``: converted as any Kipoi Keras model; the output names are
    read from the description's target ``doc`` (``"...: label, label, ..."``)."""

    name = "MPRA-DragoNN"
    example = "MPRA-DragoNN/ConvModel"
    catalogue_models = {"MPRA-DragoNN/ConvModel": {
        "kind": "MPRA", "note": "MPRA regression (12 tasks), not TF binding; no JASPAR mapping"}}

    def build(self, request, files):
        model, info = super().build(request, files)
        doc = (request.spec.targets[0].get("doc") if request.spec.targets else "") or ""
        labels = [t.strip(" .") for t in doc.split(":", 1)[-1].split(",") if t.strip(" .")]
        if len(labels) == model.output_shape[-1]:
            info["outputs"] = labels
        return model, info
