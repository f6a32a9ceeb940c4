"""SHA-256 fingerprints of the data and the model weights, and run provenance."""

import datetime
import hashlib
import platform

import numpy as np

__all__ = ["array_sha256", "model_sha256", "provenance"]


def array_sha256(array):
    """SHA-256 of an array's shape, dtype and bytes (C order)."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{array.shape}|{array.dtype.str}|".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def model_sha256(model):
    """SHA-256 over every weight tensor of a model (shapes, dtypes and values, in order)."""
    if model is None:
        return None
    digest = hashlib.sha256()
    for w in model.get_weights():
        w = np.ascontiguousarray(w)
        digest.update(f"{w.shape}|{w.dtype.str}|".encode())
        digest.update(w.tobytes())
    return digest.hexdigest()


def provenance(x, model, seed, ground_truth=None, ensemble=None):
    """Versions, hashes, sizes, seed and creation time of a validation run."""
    import keras
    import tensorflow as tf

    from keras_iml.version import __version__

    return {
        "keras_iml": __version__,
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "data_sha256": array_sha256(np.asarray(x, np.float32)),
        "model_sha256": model_sha256(model),
        "model_name": getattr(model, "name", None),
        "ground_truth_sha256": None if ground_truth is None else array_sha256(ground_truth),
        "ensemble_sha256": None if not ensemble else [model_sha256(m) for m in ensemble],
        "n_sequences": int(x.shape[0]),
        "sequence_length": int(x.shape[1]),
        "seed": int(seed),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
