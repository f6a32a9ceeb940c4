"""Type aliases of the public API, for hints and for the API reference.

Each alias names what an argument accepts; the functions check their arguments
at run time and raise ``ValueError``/``TypeError`` naming them.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np

__all__ = ["SequencesLike", "MethodLike", "TargetLike", "ProtocolLike", "Verbose", "Seed",
           "PathLike", "Options"]

#: DNA as the API accepts it: one-hot ``(N, L, 4)``, strings, a dict name ->
#: sequence (FASTA records), or a ``tf.data.Dataset`` of one-hot batches.
SequencesLike = Union[np.ndarray, str, Sequence[str], Mapping[str, str], Any]
#: A method: a registered name, a config dict, or an ``AttributionMethod`` instance.
MethodLike = Union[str, Mapping[str, Any], Any]
#: What to explain of the model's output: None (a single output), an index, a slice or
#: list of indices (summed), an output name, ``(name, index)``, or a callable.
TargetLike = Union[None, int, slice, Sequence[int], str, tuple, Callable[..., Any]]
#: A protocol: None or ``"default"``, ``"quick"``, a dict, a YAML file, or a ``Protocol``.
ProtocolLike = Union[None, str, Mapping[str, Any], Any]
#: Keras' progress setting: ``"auto"``, 0 (silent), 1 (bar) or 2 (one line per step).
Verbose = Union[int, str]
#: A seed; None draws one (and records it).
Seed = Optional[int]
#: A file path.
PathLike = Union[str, os.PathLike]
#: Options of a plugin, by name.
Options = Mapping[str, Any]
