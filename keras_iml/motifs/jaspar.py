"""JASPAR motifs from pyjaspar's bundled SQLite releases (offline, no downloads).

The one place keras_iml opens JASPAR: the motif database
(:func:`load_jaspar`), motif look-ups by matrix ID (:func:`fetch_jaspar_motif`,
:func:`fetch_jaspar_motifs`), the synthetic datasets and the PWM models all read
it through these functions.
"""

import warnings

import numpy as np

from keras_iml.motifs.database import MotifDatabase
from keras_iml.motifs.pfm import BASES, as_pfm

__all__ = ["load_jaspar", "fetch_jaspar_motif", "fetch_jaspar_motifs", "jaspar_releases"]


def jaspar_releases():
    """Names of the JASPAR releases bundled with pyjaspar (e.g. ``"JASPAR2026"``)."""
    from pyjaspar import jaspar_releases as releases

    return sorted(releases)


def _open(release):
    from pyjaspar import JASPAR_LATEST_RELEASE, jaspardb

    release = JASPAR_LATEST_RELEASE if release is None else release
    if release not in jaspar_releases():
        raise ValueError(
            f"`release` must be one of the JASPAR releases bundled with pyjaspar "
            f"{jaspar_releases()}. Received: release={release!r}"
        )
    return jaspardb(release=release), release


def _pfm(motif):
    counts = np.array([motif.counts[b] for b in BASES], dtype=np.float64).T
    return as_pfm(counts, motif.matrix_id)


def _fetch(db, matrix_id):
    """One pyjaspar record by ID, or None when the release lacks it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyjaspar warns (and returns None) for unknown IDs
        return db.fetch_motif_by_id(str(matrix_id))


def load_jaspar(release=None, collection="CORE", tax_group="vertebrates"):
    """Loads a JASPAR collection as a :class:`MotifDatabase` of PFMs.

    Reads pyjaspar's bundled SQLite file (no network). The latest version of each
    matrix is kept. Counts are normalised to per-position probabilities. Reading
    the CORE vertebrates set (~1,000 matrices) takes ~2-3 s; build the database
    once and pass it to :func:`keras_iml.motifs.discover` to avoid repeating it.

    Args:
        release: a bundled release name (``"JASPAR2026"``, ``"JASPAR2024"``...);
            None for pyjaspar's latest.
        collection: JASPAR collection (``"CORE"``, ``"UNVALIDATED"``...).
        tax_group: taxonomic group(s) (``"vertebrates"``, ``"insects"``, a list,
            or None for all).

    Returns:
        :class:`MotifDatabase` with JASPAR matrix IDs (``"MA0139.2"``) and TF names.

    Example:
        >>> db = load_jaspar()
        >>> db.names[db.find("MA0139")[0]]
        'CTCF'
    """
    db, release = _open(release)
    kwargs = {"collection": collection}
    if tax_group is not None:
        kwargs["tax_group"] = list(np.atleast_1d(tax_group))
    motifs = list(db.fetch_motifs(**kwargs))
    if not motifs:
        raise ValueError(
            f"No JASPAR motifs in {release} for collection={collection!r}, "
            f"tax_group={tax_group!r}."
        )
    groups = "all groups" if tax_group is None else ", ".join(np.atleast_1d(tax_group))
    return MotifDatabase(
        [_pfm(m) for m in motifs],
        [m.matrix_id for m in motifs],
        [m.name for m in motifs],
        source=f"{release} {collection} {groups}",
    )


def fetch_jaspar_motif(matrix_id, release=None):
    """One JASPAR matrix by ID (any collection) as a 1-motif :class:`MotifDatabase`.

    Args:
        matrix_id: ``"MA0139.1"`` (that version) or ``"MA0139"`` (the latest).
        release: a bundled release name, or None for the latest.

    Returns:
        :class:`MotifDatabase`, or None when the ID is not in the release.
    """
    db, _ = _open(release)
    motif = _fetch(db, matrix_id)
    if motif is None:
        return None
    return MotifDatabase([_pfm(motif)], [motif.matrix_id], [motif.name], source="JASPAR")


def fetch_jaspar_motifs(matrix_ids, release=None, name="matrix_ids"):
    """Several JASPAR matrices by ID (one database connection), in the given order.

    Args:
        matrix_ids: JASPAR matrix IDs, with version (``"MA0139.2"``) or without
            (``"MA0139"``: the latest version in ``release``).
        release: a bundled release name, or None for pyjaspar's latest.
        name: the argument name used in error messages.

    Returns:
        :class:`MotifDatabase` with one motif per ID (its versioned matrix ID and
        TF name).

    Raises:
        ValueError: naming ``name`` and the ID, when an entry is not a string or
            is not in the release; naming ``release`` when that is not bundled.

    Example:
        >>> fetch_jaspar_motifs(["MA0139.2", "MA0106"]).names
        ['CTCF', 'TP53']
    """
    db = None
    pfms, ids, names = [], [], []
    for matrix_id in matrix_ids:
        if not isinstance(matrix_id, str) or not matrix_id.strip():
            raise ValueError(
                f"`{name}` must contain JASPAR matrix IDs such as 'MA0139.2'. "
                f"Received: {name}={matrix_id!r}"
            )
        if db is None:
            db, release = _open(release)
        motif = _fetch(db, matrix_id.strip())
        if motif is None:
            raise ValueError(
                f"`{name}` names a JASPAR matrix that is not in {release}. "
                f"Received: {name}={matrix_id!r}"
            )
        pfms.append(_pfm(motif))
        ids.append(motif.matrix_id)
        names.append(motif.name)
    return MotifDatabase(pfms, ids, names, source="JASPAR" if release is None else release)
