"""Shared I/O helpers: atomic file writes, and reading sequence data files (FASTA, ``.npz``, BED)."""

import os
import shutil
import tempfile
import zipfile

import numpy as np

from keras_iml import _checks, dna

__all__ = ["atomic_write", "json_ready", "read_fasta", "load_sequences", "load_model"]


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
    except BaseException as err:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(err, OSError):  # name the user's file, not the temporary one
            raise OSError(err.errno, f"Could not write {path!r}: {err.strerror or err}") from err
        raise
    return path


def check_writable(path, *, directory=False):
    """Checks, before any work, that ``path`` can be written; raises ValueError if not.

    Args:
        path: an output file (or, with ``directory=True``, an output folder that is
            created when missing).
        directory: whether ``path`` is a folder.

    Raises:
        ValueError: the path is a folder where a file is expected (or the reverse),
            its folder cannot be created, or it is not writable. A missing folder
            is created (as the writers would).
    """
    path = os.fspath(path)
    name = "the output folder" if directory else "the output file"
    if directory:
        if os.path.exists(path) and not os.path.isdir(path):
            raise ValueError(f"{name} is an existing file. Received: --out={path!r}")
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as err:
            raise ValueError(f"{name} cannot be created ({err.strerror}). Received: --out={path!r}") from None
        folder = path
    else:
        if os.path.isdir(path):
            raise ValueError(f"{name} is a folder; give a file name. Received: --out={path!r}")
        folder = os.path.dirname(os.path.abspath(path))
        try:  # a missing folder is created, as the writers do
            os.makedirs(folder, exist_ok=True)
        except OSError as err:
            raise ValueError(f"The folder of {name} cannot be created ({err.strerror}): {folder!r}. "
                             f"Received: --out={path!r}") from None
        if os.path.exists(path) and not os.access(path, os.W_OK):
            raise ValueError(f"{name} exists and is not writable. Received: --out={path!r}")
    try:  # the only sure test: create (and remove) a file there
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        raise ValueError(f"Cannot write in {folder!r} ({err.strerror}). Received: --out={path!r}") from None
    return path


class NpzStream:
    """Writes an ``.npz`` archive block of rows by block of rows, with flat memory.

    Each row-wise array is appended to a ``.npy`` file (its header written first,
    for all ``n`` rows) in a temporary folder beside the output (:meth:`rows`, in
    row order); :meth:`finish` zips the files (deflated, as ``np.savez_compressed``)
    into the archive atomically. Nothing is memory-mapped, so the files' pages do
    not count in the process's memory. ``np.load`` reads the result like any ``.npz``.

    Args:
        folder: where the temporary files live (the output's folder).
        n: the number of rows of every row-wise array.
    """

    def __init__(self, folder, n):
        self.n = int(n)
        self._dir = tempfile.mkdtemp(prefix=".tmp-stream-", dir=folder)
        self._files = {}  # name -> [path, open file or None, rows written]

    def rows(self, name, start, block):
        """Appends ``block`` as rows ``start:start + len(block)`` of array ``name``.

        Raises:
            ValueError: ``start`` is not the next row of the array (blocks come in order).
        """
        block = np.ascontiguousarray(block)
        entry = self._files.get(name)
        if entry is None:
            path = os.path.join(self._dir, f"{len(self._files)}.npy")
            fh = open(path, "wb")
            np.lib.format.write_array_header_1_0(fh, {
                "descr": np.lib.format.dtype_to_descr(block.dtype), "fortran_order": False,
                "shape": (self.n,) + block.shape[1:]})
            entry = self._files[name] = [path, fh, 0]
        if start != entry[2]:
            raise ValueError(f"Rows of {name!r} must come in order: the next is {entry[2]}. "
                             f"Received: start={start}")
        entry[1].write(block.tobytes())
        entry[2] += len(block)

    def read(self, name, stop):
        """The first ``stop`` rows of array ``name`` written so far (a copy)."""
        self._files[name][1].flush()
        return np.load(self._files[name][0], mmap_mode="r")[:stop].copy()

    def whole(self, name, value):
        """Adds a small array ``name`` at once."""
        path = os.path.join(self._dir, f"{len(self._files)}.npy")
        np.save(path, np.asarray(value), allow_pickle=False)
        self._files[name] = [path, None, None]

    def finish(self, path):
        """Zips every array into ``path`` (atomically) and returns ``path``.

        Raises:
            ValueError: a row-wise array has fewer than ``n`` rows.
        """
        for name, entry in self._files.items():
            if entry[1] is not None:
                entry[1].close()
                entry[1] = None
                if entry[2] != self.n:
                    raise ValueError(f"Array {name!r} holds {entry[2]} of {self.n} rows.")

        def write(tmp):
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
                for name, entry in self._files.items():
                    zf.write(entry[0], arcname=f"{name}.npy")

        return atomic_write(path, write, suffix=".npz")

    def close(self):
        """Removes the temporary folder (after :meth:`finish`, or to give up)."""
        for entry in self._files.values():
            if entry[1] is not None:
                entry[1].close()
        self._files.clear()
        shutil.rmtree(self._dir, ignore_errors=True)


def _npz_array(data, key, path):
    """Array ``key`` of an open ``.npz``; an unreadable one (e.g. pickled objects) raises
    ValueError naming the array and the file."""
    try:
        return data[key]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        why = ("it holds Python objects (pickled), which keras_iml never loads; save it as "
               "numbers or fixed-width strings" if "allow_pickle" in str(err) or "Object arrays" in str(err)
               else f"{type(err).__name__}: {str(err)[:200]}")
        raise ValueError(f"The .npz array {key!r} cannot be read: {why}. Received: path={path!r}") from None


def json_ready(obj):
    """Plain JSON data from results: dicts, lists, numbers, strings and None.

    numpy scalars and arrays become Python numbers and lists, DataFrames lists of row
    dicts, NaN/inf, ``pd.NA`` and ``pd.NaT`` None, dates ISO strings, and any other
    object its ``str``, so that ``json.dump(..., allow_nan=False)`` always works.
    """
    import datetime
    import math

    import pandas as pd

    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist())
    if isinstance(obj, pd.DataFrame):
        return json_ready(obj.to_dict(orient="records"))
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, (datetime.datetime, datetime.date)):
        return obj.isoformat()
    if obj is None or obj is pd.NA or obj is pd.NaT:
        return None
    return obj if isinstance(obj, str) else str(obj)


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
    """Returns ``(names, sequences)`` from a FASTA file.

    A record's name is the first word of its header (``seq{i}`` for an empty header);
    names travel with the sequences into error messages and results.

    Raises:
        ValueError: sequence lines before the first ``>`` header, or no sequence.
    """
    names, seqs, cur = [], [], []
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            line = _checks.text_line(raw, path, number)
            if not line or line.startswith(";"):
                continue
            if not names and not line.startswith(">"):
                raise ValueError(
                    f"A FASTA file must start with a '>' header line ({path}, line {number}). "
                    f"Received: {line[:60]!r}"
                )
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


def load_sequences(path, genome=None, alphabet="ACGT", n_policy="uniform", *, tracks=None,
                   length=None, aux_names=None):
    """Loads evaluation data from a file.

    Args:
        path: a FASTA file; an ``.npz`` with ``x`` (one-hot ``(N, L, 4)``) and
            optionally ``y``, ``mask`` (``(N, L)``), ``names`` and arrays named after
            the model's auxiliary inputs (see ``aux_names``); or a BED file (needs
            ``genome``).
        genome: genome FASTA for BED intervals (read with pyfaidx).
        alphabet: column order of the encoding.
        n_policy: how ``N`` is encoded (see :func:`keras_iml.dna.one_hot`).
        tracks: for a BED file, dict auxiliary input name -> bigWig path: the signal
            over every interval becomes that input, ``(N, L)`` (see
            :func:`keras_iml.genome.read_tracks`).
        length: for a BED file, centre and resize every interval to this length
            (None: the intervals must have one width).
        aux_names: the model's auxiliary input names: arrays of an ``.npz`` with these
            names are returned under ``"aux"`` (other extra arrays are ignored).

    Returns:
        dict with ``x`` and, where present, ``y``, ``mask``, ``names``, ``aux`` (dict
        name -> array with one row per sequence) and, for a BED file, ``intervals``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an ``.npz`` without ``x`` or with an auxiliary array whose first
            axis is not ``N``; ``tracks`` with a file that is not BED.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such data file. Received: path={path!r}")
    ext = path.lower().rsplit(".", 1)[-1]
    if tracks and ext != "bed":
        raise ValueError("`tracks` (bigWig signal over intervals) need a BED file. "
                         f"Received: path={path!r} with tracks {sorted(tracks)}")
    if ext == "npz":
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise ValueError(
                f"The file could not be read as an .npz archive ({type(err).__name__}: "
                f"{str(err)[:200]}). Received: path={path!r}"
            ) from None
        if not hasattr(data, "files"):  # a plain .npy saved under an .npz name
            raise ValueError(f"The file is a single array, not an .npz archive with 'x'. "
                             f"Received: path={path!r}")
        with data:
            if "x" not in data.files:
                raise ValueError(f"The .npz file must hold an array 'x'. Received keys: {data.files}")
            read = lambda k: _npz_array(data, k, path)  # noqa: E731
            out = {k: read(k) for k in ("x", "y", "mask") if k in data.files}
            if "names" in data.files:
                out["names"] = [str(n) for n in read("names")]
            aux = {k: read(k) for k in data.files if k in set(aux_names or ())}
        out["x"] = _checks.check_onehot(out["x"])
        for name, value in aux.items():
            if value.ndim == 0 or value.shape[0] != len(out["x"]):
                raise ValueError(
                    f"The .npz array {name!r} (an auxiliary input of the model) must have one row "
                    f"per sequence (N={len(out['x'])}). Received: {name}.shape={value.shape} in {path!r}"
                )
        if aux:
            out["aux"] = aux
        return out
    if ext == "bed":
        if genome is None:
            raise ValueError("A BED file needs `genome` (a FASTA). Received: genome=None")
        from keras_iml import genome as genome_lib

        intervals = genome_lib.read_bed(path)
        x, names = genome_lib.fetch_sequences(intervals, genome, length=length, alphabet=alphabet,
                                              n_policy=n_policy)
        out = {"x": x, "names": names, "intervals": intervals}
        if tracks:
            out["aux"] = genome_lib.read_tracks(intervals, dict(tracks), length=length)
        return out
    names, seqs = read_fasta(path)
    return {"x": dna.one_hot(seqs, alphabet, n_policy, names=names), "names": names}
