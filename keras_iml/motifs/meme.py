"""Reading and writing motifs in the MEME minimal motif format.

The one MEME reader and writer of keras_iml (the motif database, ``discover``'s
patterns and the PWM models all use them). Written natively (a few dozen lines)
rather than with ``memelite.io``: its reader keys motifs by name, so a file with
repeated names loses motifs silently, and its writer is not atomic and cannot
record a motif's name beside its ID.
"""

import os

import numpy as np

from keras_iml.io import atomic_write
from keras_iml.motifs.database import MotifDatabase
from keras_iml.motifs.pfm import BASES, UNIFORM, as_pfm

__all__ = ["read_meme", "write_meme", "write_patterns_meme"]


def write_meme(path, pfms, ids=None, names=None, background=UNIFORM, nsites=None):
    """Writes motifs as a MEME (version 4) text file, atomically.

    Args:
        path: output file.
        pfms: list of ``(L, 4)`` matrices (rows are normalised to probabilities),
            or a :class:`MotifDatabase` (whose IDs and names are then the
            defaults of ``ids`` and ``names``).
        ids: one identifier per motif (default ``"motif_0"``, ...); must not
            contain whitespace.
        names: optional second field of each ``MOTIF`` line (e.g. the TF name).
        background: ACGT background frequencies.
        nsites: optional list of site counts (e.g. number of seqlets).

    Returns:
        The path written.

    Example:
        >>> write_meme("patterns.meme", [pfm], ids=["pos_pattern_0"], names=["CTCF"])
        >>> write_meme("jaspar.meme", load_jaspar())
    """
    if isinstance(pfms, MotifDatabase):
        ids = pfms.ids if ids is None else ids
        names = pfms.names if names is None else names
        pfms = pfms.pfms
    pfms = [as_pfm(p, f"pfms[{k}]") for k, p in enumerate(pfms)]
    ids = [f"motif_{k}" for k in range(len(pfms))] if ids is None else [str(i) for i in ids]
    if len(ids) != len(pfms) or (names is not None and len(names) != len(pfms)):
        raise ValueError(
            f"`ids` and `names` must have one entry per motif ({len(pfms)}). "
            f"Received: len(ids)={len(ids)}, len(names)={None if names is None else len(names)}"
        )
    for i in ids:
        if not i or any(c.isspace() for c in i):
            raise ValueError(f"Motif IDs must be non-empty without whitespace. Received: id={i!r}")
    bg = np.asarray(background, dtype=np.float64)
    if bg.shape != (4,) or (bg <= 0).any():
        raise ValueError(f"`background` must be 4 positive numbers. Received: {background!r}")
    bg = bg / bg.sum()
    lines = ["MEME version 4", "", f"ALPHABET= {BASES}", "", "strands: + -", "",
             "Background letter frequencies",
             " ".join(f"{b} {f:.4f}" for b, f in zip(BASES, bg)), ""]
    for k, pfm in enumerate(pfms):
        label = ids[k] if names is None else f"{ids[k]} {' '.join(str(names[k]).split())}"
        sites = 20 if nsites is None else int(nsites[k])
        lines.append(f"MOTIF {label}".rstrip())
        lines.append(f"letter-probability matrix: alength= 4 w= {len(pfm)} nsites= {sites} E= 0")
        lines.extend(" ".join(f"{v:.6f}" for v in row) for row in pfm)
        lines.append("")
    text = "\n".join(lines) + "\n"

    def write(tmp):
        with open(tmp, "w") as fh:
            fh.write(text)

    return atomic_write(path, write)


def read_meme(path):
    """Reads every motif of a MEME file into a :class:`MotifDatabase`.

    The first word of each ``MOTIF`` line is the ID, the rest (if any) the name.

    Args:
        path: a MEME minimal-format file.

    Returns:
        :class:`MotifDatabase` in file order (repeated IDs are all kept).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"`path` must be an existing MEME file. Received: path={path!r}")
    ids, names, pfms = [], [], []
    rows, width = None, None
    with open(path) as fh:
        for lineno, line in enumerate(fh, 1):
            fields = line.split()
            if fields[:1] == ["MOTIF"]:
                if rows is not None and width is None:
                    raise ValueError(f"{path}:{lineno}: MOTIF {ids[-1]!r} has no matrix.")
                if len(fields) < 2:
                    raise ValueError(f"{path}:{lineno}: MOTIF line without an ID.")
                ids.append(fields[1])
                names.append(" ".join(fields[2:]) or fields[1])
                rows, width = [], None
            elif rows is not None and line.lstrip().startswith("letter-probability"):
                width = _width(fields, path, lineno)
            elif rows is not None and width is not None and len(rows) < width and fields:
                try:
                    rows.append([float(v) for v in fields])
                except ValueError:
                    raise ValueError(
                        f"{path}:{lineno}: expected {width} matrix rows for {ids[-1]!r}, "
                        f"found {line.strip()!r}"
                    ) from None
                if len(rows) == width:
                    pfms.append(as_pfm(rows, f"{path}:{ids[-1]}"))
                    rows = None
    if rows is not None or len(pfms) != len(ids):
        raise ValueError(f"{path}: the last motif ({ids[-1]!r}) is incomplete.")
    if not ids:
        raise ValueError(f"{path} holds no MOTIF entries.")
    return MotifDatabase(pfms, ids, names, source=os.path.basename(path))


def _width(fields, path, lineno):
    for k, f in enumerate(fields):
        if f.startswith("w=") and (f[2:] or k + 1 < len(fields)):
            return int(f[2:] or fields[k + 1])
    raise ValueError(f"{path}:{lineno}: letter-probability line without 'w='.")


def write_patterns_meme(patterns, path):
    """Writes the PFMs of :func:`keras_iml.motifs.discover`'s patterns as a MEME file.

    Each motif's ID is the pattern ID and its name the best database match
    (``"none"`` when nothing matched); ``nsites`` is the number of seqlets.

    Args:
        patterns: the DataFrame returned by :func:`keras_iml.motifs.discover`.
        path: output file (written atomically).

    Returns:
        The path written.
    """
    if len(patterns) == 0:
        raise ValueError("`patterns` is empty: there is no pattern to write.")
    best = patterns["best_match"].where(patterns["significant"], None)
    names = [
        f"{m} {n}" if isinstance(m, str) else "none"
        for m, n in zip(best, patterns["best_match_name"])
    ]
    return write_meme(path, list(patterns["pfm"]), ids=list(patterns["pattern"]),
                      names=names, nsites=list(patterns["n_seqlets"]))
