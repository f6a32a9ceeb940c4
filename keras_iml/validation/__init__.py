"""Tiered validation of explanations: :func:`validate`, :class:`Protocol`, :class:`ValidationReport`.

Example:
    >>> from keras_iml.validation import validate, Protocol
    >>> report = validate(model, x, ground_truth=mask, protocol=Protocol.quick())
    >>> report.summary
"""

from keras_iml.datasets.planting import plant_site
from keras_iml.models.pwm import pwm_model
from keras_iml.validation.protocol import Protocol
from keras_iml.validation.report import ValidationReport
from keras_iml.validation.run import validate

__all__ = ["Protocol", "ValidationReport", "validate", "pwm_model", "plant_site"]
