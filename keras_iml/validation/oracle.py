"""Oracle models whose mechanism is known by construction (PWM scanners).

Re-exported here for the validation API; implemented in :mod:`keras_iml.models.pwm`
(shared with the zoo), :mod:`keras_iml.metrics.oracle` and
:mod:`keras_iml.motifs.pfm` (``log_odds``: bits by default; the PWM models use
``base=np.e``).

Example:
    >>> from keras_iml.validation.oracle import pwm_model, plant_site
    >>> model = pwm_model("MA0139.2", length=200)
"""

from keras_iml.metrics.oracle import plant_site
from keras_iml.models.pwm import best_match, load_motifs, pwm_model, scan
from keras_iml.motifs.pfm import log_odds

__all__ = ["pwm_model", "plant_site", "best_match", "load_motifs", "log_odds", "scan"]
