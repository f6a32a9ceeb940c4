"""Errors raised by the zoo loaders; batch validation maps them to a row status."""

__all__ = ["WeightsUnavailableError", "ChecksumError", "UnsupportedLayerError", "status_of"]


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


#: Row status in batch validation for each error type (first match wins, in order).
_STATUS = (
    (WeightsUnavailableError, "weights-unavailable"),
    (UnsupportedLayerError, "unsupported-layer"),
)


def status_of(error):
    """The batch-validation status for an exception: a status string."""
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return "failed"
