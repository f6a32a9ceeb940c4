"""JASPAR motifs from pyjaspar's bundled SQLite releases (offline, no downloads)."""

import warnings

import numpy as np

from keras_iml.motifs.database import MotifDatabase

__all__ = ["load_jaspar", "fetch_jaspar_motif", "jaspar_releases"]


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
    counts = np.array([motif.counts[b] for b in "ACGT"], dtype=np.float64).T
    return counts / counts.sum(1, keepdims=True)


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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyjaspar warns (and returns None) for unknown IDs
        motif = db.fetch_motif_by_id(str(matrix_id))
    if motif is None:
        return None
    return MotifDatabase([_pfm(motif)], [motif.matrix_id], [motif.name], source="JASPAR")
