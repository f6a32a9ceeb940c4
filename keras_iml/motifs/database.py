"""`MotifDatabase`: a list of position frequency matrices with IDs and names.

It is the target set that discovered patterns are compared against with TOMTOM,
and the form in which expected motifs and decoys are given. It is a plain value:
build it once with :func:`keras_iml.motifs.load_jaspar` and pass it to several
:func:`keras_iml.motifs.discover` calls to skip re-reading JASPAR (nothing is
cached behind the caller's back).
"""

import os
import re

import numpy as np
import pandas as pd

__all__ = ["MotifDatabase", "as_pfm", "base_id"]

_JASPAR_ID = re.compile(r"^[A-Z]{2}\d{4}(\.\d+)?$")


def base_id(motif_id):
    """The version-free part of a JASPAR matrix ID (``"MA0139.2"`` -> ``"MA0139"``).

    Other identifiers are returned unchanged.
    """
    motif_id = str(motif_id)
    return motif_id.split(".")[0] if _JASPAR_ID.match(motif_id) else motif_id


def is_jaspar_id(text):
    """True for strings shaped like a JASPAR matrix ID (``MA0139`` or ``MA0139.1``)."""
    return isinstance(text, str) and bool(_JASPAR_ID.match(text))


def as_pfm(matrix, name="pfm"):
    """Validates a motif matrix and returns it as float64 ``(L, 4)`` probabilities.

    Counts are normalised per position. A ``(4, L)`` matrix (the MEME/PyTorch
    layout) is transposed when ``L != 4``.

    Args:
        matrix: array-like ``(L, 4)`` of counts or probabilities (ACGT columns).
        name: the argument name used in error messages.

    Returns:
        float64 array ``(L, 4)`` whose rows sum to 1.
    """
    pfm = np.asarray(matrix, dtype=np.float64)
    if pfm.ndim == 2 and pfm.shape[1] != 4 and pfm.shape[0] == 4:
        pfm = pfm.T
    if pfm.ndim != 2 or pfm.shape[1] != 4 or pfm.shape[0] == 0:
        raise ValueError(
            f"`{name}` must be a motif matrix of shape (L, 4). "
            f"Received: {name}.shape={np.shape(matrix)}"
        )
    if not np.isfinite(pfm).all() or (pfm < 0).any():
        raise ValueError(
            f"`{name}` must hold non-negative finite counts or probabilities. "
            f"Received: {name} with min={np.nanmin(pfm)}"
        )
    totals = pfm.sum(1, keepdims=True)
    if (totals <= 0).any():
        raise ValueError(
            f"`{name}` has a position with no counts (row {int(np.argmin(totals))}). "
            f"Received: {name}.shape={pfm.shape}"
        )
    return pfm / totals


class MotifDatabase:
    """An ordered set of motifs: PFMs (``(L, 4)`` probabilities), IDs and names.

    Args:
        pfms: list of ``(L, 4)`` matrices (counts or probabilities).
        ids: one identifier per motif (e.g. JASPAR matrix IDs).
        names: one TF name per motif (defaults to the IDs).
        source: a free-text description (e.g. ``"JASPAR2026 CORE vertebrates"``).

    Example:
        >>> db = MotifDatabase([pfm], ids=["my_motif"], names=["MYTF"])
        >>> db.find("my_motif")
        [0]
    """

    def __init__(self, pfms, ids, names=None, source=""):
        pfms = list(pfms)
        ids = [str(i) for i in ids]
        names = ids if names is None else [str(n) for n in names]
        if not len(pfms) == len(ids) == len(names):
            raise ValueError(
                "`pfms`, `ids` and `names` must have the same length. Received: "
                f"len(pfms)={len(pfms)}, len(ids)={len(ids)}, len(names)={len(names)}"
            )
        self.pfms = [as_pfm(p, f"pfms[{k}]") for k, p in enumerate(pfms)]
        self.ids = ids
        self.names = names
        self.source = str(source)

    def __len__(self):
        return len(self.pfms)

    def __repr__(self):
        src = f" source={self.source!r}" if self.source else ""
        return f"<MotifDatabase {len(self)} motifs{src}>"

    def __iter__(self):
        return iter(zip(self.ids, self.names, self.pfms))

    def find(self, key):
        """Indices of the motifs matching ``key``.

        A versioned JASPAR ID (``MA0139.1``) matches that exact ID; a base ID
        (``MA0139``) matches every version; any other string matches IDs exactly
        or TF names case-insensitively.
        """
        key = str(key)
        if is_jaspar_id(key) and "." in key:
            return [k for k, i in enumerate(self.ids) if i == key]
        if is_jaspar_id(key):
            return [k for k, i in enumerate(self.ids) if base_id(i) == key]
        hits = [k for k, i in enumerate(self.ids) if i == key]
        return hits or [k for k, n in enumerate(self.names) if n.upper() == key.upper()]

    def subset(self, indices):
        """A new database with the motifs at ``indices`` (in that order)."""
        indices = list(indices)
        return MotifDatabase(
            [self.pfms[k] for k in indices],
            [self.ids[k] for k in indices],
            [self.names[k] for k in indices],
            source=self.source,
        )

    def extend(self, other):
        """A new database: these motifs, then those of ``other`` whose IDs are new."""
        known = set(self.ids)
        keep = [k for k, i in enumerate(other.ids) if i not in known]
        return MotifDatabase(
            self.pfms + [other.pfms[k] for k in keep],
            self.ids + [other.ids[k] for k in keep],
            self.names + [other.names[k] for k in keep],
            source=self.source,
        )

    def to_dataframe(self):
        """One row per motif: ``id, name, length, consensus, pfm``."""
        letters = np.array(list("ACGT"))
        return pd.DataFrame(
            {
                "id": self.ids,
                "name": self.names,
                "length": [len(p) for p in self.pfms],
                "consensus": ["".join(letters[p.argmax(1)]) for p in self.pfms],
                "pfm": [p.tolist() for p in self.pfms],
            }
        )

    def to_meme(self, path):
        """Writes the motifs as a MEME file (atomically); returns the path."""
        from keras_iml.motifs.meme import write_meme

        return write_meme(path, self.pfms, ids=self.ids, names=self.names)

    @classmethod
    def from_meme(cls, path):
        """Reads every motif of a MEME file."""
        from keras_iml.motifs.meme import read_meme

        return read_meme(path)


def resolve_motifs(spec, database, name):
    """Turns a user's motif specification into motifs and named groups.

    Args:
        spec: None; a :class:`MotifDatabase`; a MEME file path; a JASPAR ID
            (``"MA0139.1"`` or ``"MA0139"``) or TF name (``"CTCF"``); a ``(L, 4)``
            matrix; a dict ``{id: matrix}``; or a list mixing those.
        database: the :class:`MotifDatabase` used to look up IDs and names (IDs
            absent from it are fetched from pyjaspar's bundled JASPAR release).
        name: the argument name for error messages (``"expected"``, ``"decoys"``).

    Returns:
        ``(motifs, groups)``: a :class:`MotifDatabase` of every resolved matrix and
        a dict ``label -> [ids]``, one entry per motif the user named (a TF name
        or base ID may stand for several matrices; a motif is found when any of
        its matrices is).
    """
    out, groups = MotifDatabase([], [], [], source=name), {}
    if spec is None:
        return out, groups
    if isinstance(spec, MotifDatabase):
        items = [spec]
    elif isinstance(spec, dict):
        items = [MotifDatabase([as_pfm(m, f"{name}[{k!r}]")], [k], source=name)
                 for k, m in spec.items()]
    elif isinstance(spec, (str, os.PathLike)) or _is_matrix(spec):
        items = [spec]
    else:
        items = list(spec)
    for k, item in enumerate(items):
        found = _resolve_one(item, database, f"{name}[{k}]")
        if isinstance(item, str) and not os.path.isfile(item):
            groups.setdefault(item, []).extend(found.ids)
        else:
            for i in found.ids:
                groups.setdefault(i, []).append(i)
        out = out.extend(found)
    return out, groups


def _is_matrix(obj):
    if isinstance(obj, np.ndarray):
        return True
    if not isinstance(obj, (list, tuple)) or not obj or isinstance(obj[0], str):
        return False
    try:
        return np.asarray(obj, dtype=np.float64).ndim == 2
    except (TypeError, ValueError):
        return False


def _resolve_one(item, database, name):
    if isinstance(item, MotifDatabase):
        return item
    if _is_matrix(item):
        pfm = as_pfm(item, name)
        return MotifDatabase([pfm], [name.replace("[", "_").rstrip("]")], source=name)
    if isinstance(item, os.PathLike) or (isinstance(item, str) and os.path.isfile(item)):
        return MotifDatabase.from_meme(item)
    if not isinstance(item, str):
        raise TypeError(
            f"`{name}` must be a JASPAR ID, a TF name, a MEME path or a (L, 4) matrix. "
            f"Received: {name} of type {type(item).__name__}"
        )
    hits = database.find(item) if database is not None else []
    if hits:
        return database.subset(hits)
    if is_jaspar_id(item):
        from keras_iml.motifs.jaspar import fetch_jaspar_motif

        found = fetch_jaspar_motif(item)
        if found is not None:
            return found
    raise ValueError(
        f"`{name}` names no known motif (not a JASPAR ID in pyjaspar, a TF name in the "
        f"database, or an existing MEME file). Received: {name}={item!r}"
    )
