"""Shared I/O helpers: atomic file writes, and reading sequence data files (FASTA, ``.npz``, BED)."""

import os
import tempfile

import numpy as np

from keras_iml import _checks, dna

__all__ = ["atomic_write", "read_fasta", "load_sequences", "load_model"]


def atomic_write(path, write_fn, suffix=None):
    """Writes a file atomically: ``write_fn(tmp_path)`` then rename over ``path``.

    An interrupted run leaves either the old file or the new one, never half.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    suffix = suffix if suffix is not None else os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=suffix)
    os.close(fd)
    try:
        write_fn(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def load_model(path, name="MODEL"):
    """Loads a ``.keras`` model file with errors that say what is wrong with it.

    Raises:
        FileNotFoundError: there is no such file.
        ValueError: the file exists but is not a Keras model Keras 3 can read (the
            reason Keras gave is kept).
    """
    import keras

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such model file. Received: {name}={path!r}")
    try:
        return keras.saving.load_model(path)
    except Exception as err:  # noqa: BLE001 - every reading failure is reported the same way
        raise ValueError(
            f"The file exists but could not be read as a Keras 3 model ({type(err).__name__}: "
            f"{str(err)[:300]}). Received: {name}={path!r}"
        ) from err


def read_fasta(path):
    """Returns ``(names, sequences)`` from a FASTA file."""
    names, seqs, cur = [], [], []
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            if line.startswith(">"):
                if names:
                    seqs.append("".join(cur))
                names.append(line[1:].split()[0] if len(line) > 1 else f"seq{len(names)}")
                cur = []
            else:
                cur.append(line)
    if names:
        seqs.append("".join(cur))
    if not seqs:
        raise ValueError(f"No sequences found in the FASTA file. Received: path={path!r}")
    return names, seqs


def load_sequences(path, genome=None, alphabet="ACGT", n_policy="uniform"):
    """Loads evaluation data from a file.

    Args:
        path: a FASTA file; an ``.npz`` with ``x`` (one-hot ``(N, L, 4)``) and
            optionally ``y`` and ``mask`` (``(N, L)``); or a BED file (needs ``genome``).
        genome: genome FASTA for BED intervals (read with pyfaidx).

    Returns:
        dict with ``x`` and, where present, ``y``, ``mask`` and ``names``.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such data file. Received: path={path!r}")
    ext = path.lower().rsplit(".", 1)[-1]
    if ext == "npz":
        with np.load(path, allow_pickle=False) as data:
            if "x" not in data.files:
                raise ValueError(f"The .npz file must hold an array 'x'. Received keys: {data.files}")
            out = {k: data[k] for k in ("x", "y", "mask") if k in data.files}
        out["x"] = _checks.check_onehot(out["x"])
        return out
    if ext == "bed":
        if genome is None:
            raise ValueError("A BED file needs `genome` (a FASTA). Received: genome=None")
        import pyfaidx

        fasta = pyfaidx.Fasta(os.fspath(genome))
        names, seqs = [], []
        with open(path) as fh:
            for line in fh:
                if not line.strip() or line.startswith(("#", "track", "browser")):
                    continue
                chrom, start, end = line.split("\t")[:3]
                seqs.append(str(fasta[chrom][int(start) : int(end)]))
                names.append(f"{chrom}:{start}-{end}")
        return {"x": dna.one_hot(seqs, alphabet, n_policy), "names": names}
    names, seqs = read_fasta(path)
    return {"x": dna.one_hot(seqs, alphabet, n_policy), "names": names}
