"""Genomic intervals: BED files, sequences from a genome FASTA, signal tracks from bigWig.

A user with peaks and a genome gets model inputs without writing a loader::

    >>> x, names = keras_iml.genome.fetch_sequences("peaks.bed", "hg38.fa", length=1000)
    >>> attr = keras_iml.explain(model, x, "saliency", names=names)
    >>> attr["peak_7"]                      # results keyed by the interval's name

Conventions:

* Coordinates are BED's: 0-based, half-open (``chr1 100 300`` is the 200 bases
  ``chr1[100:300]``). An interval's name is BED column 4, or ``chrom:start-end``
  when the file has no name column (or the name is ``.``).
* With ``length``, every interval is centred and resized to ``length`` bases:
  ``start' = start + (width - length) // 2`` (so for an odd difference the extra
  base goes on the right), ``end' = start' + length``. Names keep the original
  interval.
* BED column 6 ``-`` (strand) gives the reverse complement of the sequence and the
  reversed track values, so position 0 is the interval's 5' end on its strand.
* An interval on a chromosome the genome (or a bigWig) lacks, or running off a
  chromosome's end (after resizing), is an error naming the interval: silent N
  padding would hide coordinates from another genome build. Drop or shift such
  intervals first (``read_bed`` returns a DataFrame you can filter).

pyfaidx and pyBigWig are imported on first use (``pip install keras-iml[genome]``).
"""

import os
import re

import numpy as np

from keras_iml import _checks, dna

__all__ = ["read_bed", "fetch_sequences", "read_tracks"]

_COLUMNS = ["chrom", "start", "end", "name", "strand"]
_COMPLEMENT = str.maketrans("ACGTRYKMBDHVNacgtrykmbdhvn", "TGCAYRMKVHDBNtgcayrmkvhdbn")


def _require(module):
    try:
        return __import__(module)
    except ImportError as err:
        raise ImportError(
            f"Reading genomes and tracks needs {module}: pip install keras-iml[genome] "
            f"(or pip install {module})."
        ) from err


def read_bed(path):
    """Reads the intervals of a BED file.

    ``#`` comments, ``track`` and ``browser`` lines and blank lines are skipped.
    Columns are separated by tabs (or, in a file without tabs, by whitespace).

    Args:
        path: a BED file (3 columns or more).

    Returns:
        pandas DataFrame with columns ``chrom, start, end, name, strand``: ``name`` is
        BED column 4, or ``"chrom:start-end"`` where it is absent or ``.``; ``strand``
        is column 6 (``"+"``, ``"-"``) or ``"."`` where absent.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a line with fewer than 3 columns, non-integer coordinates, a
            negative start, ``end <= start`` or a strand other than ``+ - .`` (the
            message gives the file and line number), or no interval at all.
    """
    import pandas as pd

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such BED file. Received: path={path!r}")
    rows = []
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            _checks.text_line(raw, path, number)  # a ValueError naming the line if not text
            line = raw.decode("utf-8").rstrip("\r\n")
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = [f.strip() for f in line.split("\t")] if "\t" in line else line.split()
            rows.append(_bed_row(fields, path, number, line))
    if not rows:
        raise ValueError(f"The BED file holds no intervals. Received: path={path!r}")
    frame = pd.DataFrame(rows, columns=_COLUMNS)
    return frame.astype({"start": np.int64, "end": np.int64})


_INTEGER = re.compile(r"-?[0-9]+")


def _bed_row(fields, path, number, line):
    where = f"{path}, line {number}"
    if len(fields) < 3:
        raise ValueError(
            f"A BED line needs at least 3 columns (chrom, start, end) ({where}). "
            f"Received: {line[:80]!r}"
        )
    chrom = fields[0]
    try:
        if not all(_INTEGER.fullmatch(f) for f in fields[1:3]):
            raise ValueError("not plain digits")  # int() would also take "1_0" and "٣"
        start, end = int(fields[1]), int(fields[2])
    except ValueError as err:
        raise ValueError(
            f"BED start and end must be integers ({where}). Received: start={fields[1]!r}, "
            f"end={fields[2]!r}"
        ) from err
    if start < 0 or end <= start or end >= 2**62:
        raise ValueError(
            f"A BED interval needs 0 <= start < end < 2**62 ({where}). Received: start={start}, end={end}"
        )
    name = fields[3] if len(fields) > 3 and fields[3] not in ("", ".") else f"{chrom}:{start}-{end}"
    strand = fields[5] if len(fields) > 5 and fields[5] else "."
    if strand not in ("+", "-", "."):
        raise ValueError(f"BED strand (column 6) must be +, - or . ({where}). Received: {strand!r}")
    return chrom, start, end, name, strand


def _intervals(intervals):
    """A DataFrame with every column of :func:`read_bed` from a BED path or a DataFrame."""
    import pandas as pd

    if isinstance(intervals, (str, os.PathLike)):
        return read_bed(intervals)
    if not isinstance(intervals, pd.DataFrame):
        raise TypeError(
            "`intervals` must be a BED path or a DataFrame with columns chrom, start, end. "
            f"Received: intervals of type {type(intervals).__name__}"
        )
    missing = [c for c in ("chrom", "start", "end") if c not in intervals.columns]
    if missing or not len(intervals):
        raise ValueError(
            "`intervals` must hold at least one row with columns chrom, start, end (name and "
            f"strand optional). Received: columns={list(intervals.columns)}, {len(intervals)} rows"
        )
    frame = intervals.reset_index(drop=True).copy()
    try:
        frame["start"] = frame["start"].astype(np.int64)
        frame["end"] = frame["end"].astype(np.int64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"`intervals` start and end must be integers. Received: {err}") from err
    frame["chrom"] = frame["chrom"].astype(str)
    default = frame["chrom"] + ":" + frame["start"].astype(str) + "-" + frame["end"].astype(str)
    if "name" in frame.columns:
        name = frame["name"].astype(object)
        frame["name"] = name.where(name.notna() & ~name.isin(["", "."]), default).astype(str)
    else:
        frame["name"] = default
    frame["strand"] = frame["strand"].fillna(".").astype(str) if "strand" in frame.columns else "."
    bad = (frame["start"] < 0) | (frame["end"] <= frame["start"])
    bad |= ~frame["strand"].isin(["+", "-", "."])
    if bad.any():
        row = frame[bad].iloc[0]
        raise ValueError(
            f"`intervals` must have 0 <= start < end and strand +, - or '.'. Received: interval "
            f"{row['name']!r} ({row['chrom']}:{row['start']}-{row['end']}, strand {row['strand']!r})"
        )
    return frame[_COLUMNS]


def _windows(frame, length):
    """``(starts, ends)`` of every interval, centred and resized to ``length`` when given."""
    starts, ends = frame["start"].to_numpy(), frame["end"].to_numpy()
    widths = ends - starts
    if length is None:
        found = np.unique(widths)
        if len(found) > 1:
            raise ValueError(
                "The intervals have different widths; pass `length=` to centre and resize them. "
                f"Received widths: {found[:10].tolist()}{' ...' if len(found) > 10 else ''}"
            )
        return starts, ends
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"`length` must be a positive int or None. Received: length={length!r}")
    starts = starts + (widths - int(length)) // 2
    return starts, starts + int(length)


def _where(row, start, end):
    span = f"{row.chrom}:{start}-{end}"
    resized = "" if (start, end) == (row.start, row.end) else f", resized from {row.start}-{row.end}"
    return f"interval {row.name!r} ({span}{resized})"


def _check_bounds(frame, starts, ends, sizes, source):
    """Raises ValueError naming the first interval off its chromosome or on an unknown one."""
    for row, start, end in zip(frame.itertuples(index=False), starts, ends):
        size = sizes.get(row.chrom)
        if size is None:
            known = sorted(sizes)
            raise ValueError(
                f"The {_where(row, start, end)} is on a chromosome {source} lacks. Known "
                f"chromosomes: {known[:8]}{' ...' if len(known) > 8 else ''}. "
                f"Received: chrom={row.chrom!r}"
            )
        if start < 0 or end > size:
            raise ValueError(
                f"The {_where(row, start, end)} runs off {row.chrom} (length {size}) in "
                f"{source}; drop or shift it. Received: start={start}, end={end}"
            )


def fetch_sequences(intervals, genome, *, length=None, alphabet="ACGT", n_policy="uniform"):
    """One-hot sequences of genomic intervals, read from a genome FASTA with pyfaidx.

    Args:
        intervals: a DataFrame from :func:`read_bed` (columns ``chrom, start, end``;
            ``name`` and ``strand`` optional) or a BED path.
        genome: a genome FASTA path (indexed by pyfaidx on first use: it writes a
            ``.fai`` beside the file) or an open ``pyfaidx.Fasta``.
        length: None (every interval must have the same width) or the length to centre
            and resize every interval to.
        alphabet: column order of the encoding.
        n_policy: how ``N`` in the genome is encoded (see :func:`keras_iml.dna.one_hot`).

    Returns:
        ``(x, names)``: float32 ``(N, L, 4)`` one-hot sequences (reverse complemented
        on ``-`` strand intervals) and the name of each interval.

    Raises:
        ValueError: widths differ without ``length``; an interval on a chromosome the
            genome lacks or off a chromosome's end (the message names the interval); a
            base outside ``alphabet`` + N (the message names the interval).
    """
    frame = _intervals(intervals)
    starts, ends = _windows(frame, length)
    names = frame["name"].tolist()
    if isinstance(genome, (str, os.PathLike)):
        path = os.fspath(genome)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No such genome FASTA. Received: genome={path!r}")
        with _require("pyfaidx").Fasta(path, as_raw=True) as fasta:
            seqs = _fetch(fasta, frame, starts, ends, f"the genome {path!r}")
    elif hasattr(genome, "faidx") and hasattr(genome, "keys"):
        seqs = _fetch(genome, frame, starts, ends, "the genome")
    else:
        raise TypeError(
            "`genome` must be a FASTA path or a pyfaidx.Fasta. "
            f"Received: genome of type {type(genome).__name__}"
        )
    return dna.one_hot(seqs, alphabet=alphabet, n_policy=n_policy, names=names), names


def _fetch(fasta, frame, starts, ends, source):
    sizes = {str(k): len(fasta[k]) for k in fasta.keys()}
    _check_bounds(frame, starts, ends, sizes, source)
    seqs = []
    for chrom, start, end, strand in zip(frame["chrom"], starts, ends, frame["strand"]):
        seq = str(fasta[chrom][int(start) : int(end)])
        seqs.append(seq[::-1].translate(_COMPLEMENT) if strand == "-" else seq)
    return seqs


def read_tracks(intervals, tracks, *, length=None):
    """Signal of bigWig tracks over genomic intervals (pyBigWig ``values``).

    Args:
        intervals: a DataFrame from :func:`read_bed` or a BED path.
        tracks: dict name -> bigWig path.
        length: as in :func:`fetch_sequences` (the same centring and resizing).

    Returns:
        dict name -> float32 ``(N, L)``: the value at every base (bases without data,
        NaN, are 0), reversed on ``-`` strand intervals to match
        :func:`fetch_sequences`.

    Raises:
        FileNotFoundError: a track file does not exist.
        ValueError: a file is not a bigWig; widths differ without ``length``; an
            interval on a chromosome the track lacks or off its end.
    """
    if not isinstance(tracks, dict) or not tracks:
        raise TypeError(
            "`tracks` must be a non-empty dict name -> bigWig path. "
            f"Received: tracks of type {type(tracks).__name__}"
        )
    frame = _intervals(intervals)
    starts, ends = _windows(frame, length)
    pybigwig = _require("pyBigWig")
    as_numpy = {"numpy": True} if getattr(pybigwig, "numpy", 0) else {}
    out = {}
    for name, path in tracks.items():
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No such bigWig file. Received: tracks[{name!r}]={path!r}")
        try:
            handle = pybigwig.open(path)
        except RuntimeError as err:
            raise ValueError(f"Not a readable bigWig file. Received: tracks[{name!r}]={path!r}") from err
        if handle is None or not handle.isBigWig():
            raise ValueError(f"Not a bigWig file. Received: tracks[{name!r}]={path!r}")
        try:
            _check_bounds(frame, starts, ends, dict(handle.chroms()), f"track {name!r} ({path})")
            values = np.zeros((len(frame), int(ends[0] - starts[0])), np.float32)
            for i, (chrom, start, end, strand) in enumerate(
                    zip(frame["chrom"], starts, ends, frame["strand"])):
                row = np.asarray(handle.values(chrom, int(start), int(end), **as_numpy), np.float32)
                values[i] = row[::-1] if strand == "-" else row
        finally:
            handle.close()
        out[name] = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    return out
