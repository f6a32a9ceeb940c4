"""Errors raised while finding, verifying and converting zoo model files.

Batch validation maps them to a row status (:func:`keras_iml.zoo.batch.status_of`).
"""

__all__ = ["WeightsUnavailableError", "ChecksumError", "UnsupportedLayerError"]


class WeightsUnavailableError(FileNotFoundError):
    """A model file is in none of the places searched and cannot be downloaded.

    The message names the file, its md5 and where to place it.
    """


class ChecksumError(ValueError):
    """A file's md5 differs from the expected one (the file is not kept)."""


class UnsupportedLayerError(ValueError):
    """A legacy architecture holds a layer keras_iml does not translate.

    Lambda layers and any serialized Python code are always refused: no code from a
    model file is ever executed.
    """

