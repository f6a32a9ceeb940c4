"""`MotifDatabase`: a list of position frequency matrices with IDs and names.

It is the target set that discovered patterns are compared against with TOMTOM,
and the form in which expected motifs and decoys are given. It is a plain value:
build it once with :func:`keras_iml.motifs.load_jaspar` and pass it to several
:func:`keras_iml.motifs.discover` calls to skip re-reading JASPAR (nothing is
cached behind the caller's back).

It also holds the JASPAR matrix-ID helpers (:func:`is_jaspar_id`, :func:`base_id`)
used to look motifs up. Reading and writing databases is done by
:mod:`keras_iml.motifs.jaspar` and :mod:`keras_iml.motifs.meme`.
"""

import re

import pandas as pd

from keras_iml.motifs.pfm import as_pfm, consensus

__all__ = ["MotifDatabase", "base_id", "is_jaspar_id"]

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


class MotifDatabase:
    """An ordered set of motifs: PFMs (``(L, 4)`` probabilities), IDs and names.

    Args:
        pfms: list of ``(L, 4)`` matrices (counts or probabilities).
        ids: one identifier per motif (e.g. JASPAR matrix IDs).
        names: one TF name per motif (defaults to the IDs).
        source: a free-text description (e.g. ``"JASPAR2026 CORE vertebrates"``).

    Read one from JASPAR with :func:`keras_iml.motifs.load_jaspar` or from a MEME
    file with :func:`keras_iml.motifs.read_meme`; write one with
    :func:`keras_iml.motifs.write_meme` (``write_meme(path, db)``).

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
        return pd.DataFrame(
            {
                "id": self.ids,
                "name": self.names,
                "length": [len(p) for p in self.pfms],
                "consensus": [consensus(p) for p in self.pfms],
                "pfm": [p.tolist() for p in self.pfms],
            }
        )
