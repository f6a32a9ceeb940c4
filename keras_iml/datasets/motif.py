"""JASPAR motifs as :class:`Motif` values for the synthetic datasets (offline).

A thin layer over :mod:`keras_iml.motifs`: matrices are read with
:func:`keras_iml.motifs.fetch_jaspar_motifs` (pyjaspar's bundled SQLite
releases, so loading never touches the network; the default release is the
newest one the installed ``pyjaspar`` knows) and validated with
:func:`keras_iml.motifs.as_pfm`.
"""

import dataclasses

import numpy as np

from keras_iml.motifs.jaspar import fetch_jaspar_motifs
from keras_iml.motifs.pfm import UNIFORM, as_pfm, consensus, log_odds, sample_bases

__all__ = ["Motif", "load_motif", "load_motifs", "as_motif"]


@dataclasses.dataclass(frozen=True)
class Motif:
    """A position frequency matrix.

    Attributes:
        motif_id: the JASPAR matrix ID with version (e.g. ``"MA0139.2"``), or a
            user-given name for a custom matrix.
        name: the transcription factor's name (e.g. ``"CTCF"``).
        pfm: float64 array ``(W, 4)`` of base probabilities (rows sum to 1),
            columns in ``ACGT`` order.
    """

    motif_id: str
    name: str
    pfm: np.ndarray

    @property
    def length(self):
        """Motif width ``W`` in bp."""
        return int(self.pfm.shape[0])

    @property
    def consensus(self):
        """The most probable base at each position."""
        return consensus(self.pfm)

    def log_odds(self, background=UNIFORM, pseudocount=0.01):
        """Position weight matrix in bits, ``log2((p + eps) / background)``, ``(W, 4)``.

        See :func:`keras_iml.motifs.log_odds` (called with ``base=2``).
        """
        return log_odds(self.pfm, background, pseudocount, base=2)

    def sample(self, rng):
        """Draws one site from the matrix: integer base codes ``(W,)``."""
        return sample_bases(self.pfm, rng)


def load_motif(motif_id, release=None, name="motif_id"):
    """Loads one JASPAR matrix by ID, offline.

    Args:
        motif_id: a JASPAR matrix ID, with version (``"MA0139.2"``) or without
            (``"MA0139"``: the latest version in ``release``).
        release: JASPAR release name (e.g. ``"JASPAR2024"``); None for pyjaspar's default.
        name: the argument name used in error messages.

    Returns:
        A :class:`Motif`.

    Raises:
        ValueError: if the ID is not in the release.

    Example:
        >>> load_motif("MA0139.2").name
        'CTCF'
    """
    return load_motifs([motif_id], release=release, name=name)[0]


def load_motifs(motif_ids, release=None, name="motifs"):
    """Loads several JASPAR matrices (one database connection). See :func:`load_motif`."""
    motifs = fetch_jaspar_motifs(motif_ids, release=release, name=name)
    return [Motif(i, n, p) for i, n, p in motifs]


def as_motif(spec, release=None, name="motif", index=0):
    """A :class:`Motif` from a JASPAR ID, a ``(W, 4)`` count/probability matrix or a Motif.

    Args:
        spec: the motif specification.
        release: JASPAR release for IDs.
        name: the argument name used in error messages.
        index: used to name custom matrices (``"custom_{index}"``).
    """
    if isinstance(spec, Motif):
        return spec
    if isinstance(spec, str):
        return load_motif(spec, release=release, name=name)
    if isinstance(spec, np.ndarray) or isinstance(spec, (list, tuple)):
        label = f"custom_{index}"
        return Motif(label, label, as_pfm(spec, name))
    raise TypeError(
        f"`{name}` must be a JASPAR ID, a (W, 4) matrix or a Motif. "
        f"Received: {name} of type {type(spec).__name__}"
    )
