"""PWM models of JASPAR matrices: ``JASPAR/<matrix ID>`` (e.g. ``"JASPAR/MA0139.2"``).

The model scans both strands with the matrix's log-odds and outputs the best match
(:func:`keras_iml.models.pwm.pwm_model`); the matrix comes from pyjaspar's bundled
database, so nothing is downloaded.
"""

from keras_iml.models.pwm import load_motifs, pwm_model
from keras_iml.zoo.families.base import Family, register

__all__ = ["JasparPWM"]


@register
class JasparPWM(Family):
    """A PWM scanner of one JASPAR matrix; ``input_length`` defaults to 100."""

    name = "JASPAR"
    needs_spec = False
    needs_files = False
    example = "JASPAR/MA0139.2"

    def build(self, request, files):  # noqa: ARG002 - no files
        motif_id = request.name.split("/", 1)[1] if "/" in request.name else request.name
        label, pfm = load_motifs([motif_id], name="name")[0]
        length = request.input_length or 100
        model = pwm_model(pfm, int(length), name=f"pwm_{motif_id.replace('.', '_')}")
        return model, {"tf": [str(label).split(" ")[-1] if label else motif_id],
                       "jaspar_ids": [motif_id], "output": "best log-odds match (both strands)"}
