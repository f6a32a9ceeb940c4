"""Offline access to JASPAR position frequency matrices through ``pyjaspar``.

``pyjaspar`` ships the JASPAR SQLite databases inside its wheel, so loading a
matrix never touches the network. The default release is the newest one the
installed ``pyjaspar`` knows (JASPAR2026 for pyjaspar 4.0).
"""

import dataclasses
import warnings

import numpy as np

__all__ = ["Motif", "load_motif", "load_motifs", "as_motif"]

_BASES = "ACGT"


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
        return "".join(_BASES[i] for i in self.pfm.argmax(1))

    def log_odds(self, background=(0.25, 0.25, 0.25, 0.25), pseudocount=0.01):
        """Position weight matrix ``log2((p + eps) / background)``, shape ``(W, 4)``."""
        p = (self.pfm + pseudocount) / (1.0 + 4 * pseudocount)
        return np.log2(p / np.asarray(background, dtype=float))

    def sample(self, rng):
        """Draws one site from the matrix: integer base codes ``(W,)``."""
        cum = np.cumsum(self.pfm, axis=1)
        u = rng.random((self.length, 1))
        return np.minimum((u > cum).sum(1), 3)


def _normalise(counts, name):
    pfm = np.asarray(counts, dtype=float)
    if pfm.ndim != 2 or pfm.shape[1] != 4 or pfm.shape[0] == 0:
        raise ValueError(
            f"`{name}` must be a (W, 4) matrix in ACGT order. Received: {name}.shape={pfm.shape}"
        )
    if not np.isfinite(pfm).all() or (pfm < 0).any() or (pfm.sum(1) <= 0).any():
        raise ValueError(
            f"`{name}` must hold non-negative finite counts with a positive sum per row. "
            f"Received: {name}={pfm.tolist()}"
        )
    return pfm / pfm.sum(1, keepdims=True)


def _database(release):
    from pyjaspar import jaspardb

    if release is None:
        return jaspardb()
    available = jaspardb().get_releases()
    if release not in available:
        raise ValueError(
            f"`release` must be one of the JASPAR releases shipped with pyjaspar {available}. "
            f"Received: release={release!r}"
        )
    return jaspardb(release=release)


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
    db = None
    out = []
    for motif_id in motif_ids:
        if not isinstance(motif_id, str) or not motif_id.strip():
            raise ValueError(
                f"`{name}` must contain JASPAR matrix IDs such as 'MA0139.2'. "
                f"Received: {name}={motif_id!r}"
            )
        db = db or _database(release)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyjaspar warns, then returns None
            record = db.fetch_motif_by_id(motif_id.strip())
        if record is None:
            raise ValueError(
                f"`{name}` names a JASPAR matrix that is not in {db.release}. "
                f"Received: {name}={motif_id!r}"
            )
        counts = np.array([record.counts[b] for b in _BASES], dtype=float).T
        out.append(Motif(record.matrix_id, record.name, _normalise(counts, name)))
    return out


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
        return Motif(label, label, _normalise(spec, name))
    raise TypeError(
        f"`{name}` must be a JASPAR ID, a (W, 4) matrix or a Motif. "
        f"Received: {name} of type {type(spec).__name__}"
    )
