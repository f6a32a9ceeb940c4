"""Turning users' motif arguments into a :class:`MotifDatabase`.

``discover``'s and ``match``'s ``database``, ``expected`` and ``decoys`` arguments
accept JASPAR IDs and releases, TF names, MEME paths, matrices and databases;
:func:`load_database` and :func:`resolve_motifs` read them with the one JASPAR
reader (:mod:`keras_iml.motifs.jaspar`) and the one MEME reader
(:mod:`keras_iml.motifs.meme`).
"""

import os

import numpy as np

from keras_iml.motifs.database import MotifDatabase, is_jaspar_id
from keras_iml.motifs.jaspar import fetch_jaspar_motif, jaspar_releases, load_jaspar
from keras_iml.motifs.meme import read_meme
from keras_iml.motifs.pfm import as_pfm

__all__ = ["load_database", "resolve_motifs"]


def load_database(database):
    """Resolves ``discover``'s ``database`` argument to a :class:`MotifDatabase` or None.

    Args:
        database: ``"JASPAR"`` (pyjaspar's latest CORE vertebrates), a release name
            such as ``"JASPAR2024"``, a MEME file path, a :class:`MotifDatabase`, or
            None (no matching).
    """
    if database is None or isinstance(database, MotifDatabase):
        return database
    if isinstance(database, str) and database.upper() == "JASPAR":
        return load_jaspar()
    if isinstance(database, str) and database in jaspar_releases():
        return load_jaspar(release=database)
    if isinstance(database, (str, os.PathLike)) and os.path.isfile(database):
        return read_meme(database)
    raise ValueError(
        "`database` must be 'JASPAR', a bundled JASPAR release "
        f"{jaspar_releases()}, a MEME file path, a MotifDatabase or None. "
        f"Received: database={database!r}"
    )


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
        return read_meme(item)
    if not isinstance(item, str):
        raise TypeError(
            f"`{name}` must be a JASPAR ID, a TF name, a MEME path or a (L, 4) matrix. "
            f"Received: {name} of type {type(item).__name__}"
        )
    hits = database.find(item) if database is not None else []
    if hits:
        return database.subset(hits)
    if is_jaspar_id(item):
        found = fetch_jaspar_motif(item)
        if found is not None:
            return found
    raise ValueError(
        f"`{name}` names no known motif (not a JASPAR ID in pyjaspar, a TF name in the "
        f"database, or an existing MEME file). Received: {name}={item!r}"
    )
