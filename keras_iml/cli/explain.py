"""``keras-iml explain MODEL DATA --method M --out attributions.npz``.

``DATA`` is a FASTA file, an ``.npz`` (``x``, and optionally ``names`` and arrays named
after the model's auxiliary inputs) or a BED file with ``--genome``. A model with
inputs besides the DNA (a DNase track, cell-type features) gets their values per
sequence from ``--aux FILE.npz`` (arrays named after the inputs, one row per
sequence), from the data ``.npz``, or from ``--track NAME=FILE.bw`` (the bigWig
signal over every BED interval). :func:`add_input_arguments` and :func:`read_inputs`
are shared with ``keras-iml validate``.
"""

import os

import numpy as np

from keras_iml import io
from keras_iml.cli import load_model, write_or_rescue

__all__ = ["add_parser", "add_input_arguments", "read_inputs", "read_aux_file", "parse_tracks",
           "parse_target", "model_target", "parse_options", "interval_columns", "run"]

TARGET_HELP = ("output to explain: a column index (3), an output name (counts), a column of a "
               "named output (profile:3), or for a per-position output (N, L, C) a class at a "
               "position (donor@5000, 2@5000), summed over a window (donor@5000:5010) or BPNet's "
               "profile reduction (0@weighted); OUTPUT:CLASS@POSITION on a multi-output model")


def _index(text):
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else None


def _position(text, whole):
    """``"5000"`` -> 5000, ``"5000:5010"`` -> slice(5000, 5010), ``"weighted"``."""
    import argparse

    from keras_iml.engine.targets import WEIGHTED

    if text.strip() == WEIGHTED:
        return WEIGHTED
    parts = text.split(":")
    bounds = [None if not p.strip() else _index(p) for p in parts]
    if len(parts) == 1 and bounds[0] is not None:
        return bounds[0]
    if len(parts) == 2 and all(b is not None or not p.strip() for b, p in zip(bounds, parts)):
        return slice(*bounds)
    raise argparse.ArgumentTypeError(
        f"--target's position must be an int, START:STOP or {WEIGHTED!r}. Received: {whole!r}")


def parse_target(text):
    """``--target`` text -> a target: ``"3"`` -> 3, ``"counts"`` -> ``"counts"``,
    ``"profile:3"`` -> ``("profile", 3)``, ``"donor@5000"`` -> ``("donor", 5000)``,
    ``"2@5000:5010"`` -> ``(2, slice(5000, 5010))``, ``"profile:0@weighted"`` ->
    ``("profile", 0, "weighted")`` (see :mod:`keras_iml.engine.targets`).

    Raises:
        argparse.ArgumentTypeError: an empty name, a non-integer index after ``:`` or a
            position that is not an int, ``START:STOP`` or ``weighted``.
    """
    import argparse

    text = str(text).strip()
    if not text:
        raise argparse.ArgumentTypeError("--target is empty")
    head, at, where = text.partition("@")
    if at:
        output, sep, cls = head.rpartition(":")
        if not cls.strip() or (sep and not output.strip()):
            raise argparse.ArgumentTypeError(
                f"--target must read CLASS@POSITION or OUTPUT:CLASS@POSITION. Received: {text!r}")
        cls = _index(cls) if _index(cls) is not None else cls.strip()
        position = _position(where, text)
        return (output.strip(), cls, position) if sep else (cls, position)
    if _index(text) is not None:
        return int(text)
    name, sep, index = text.rpartition(":")
    if not sep:
        return text
    if not name or _index(index) is None:
        raise argparse.ArgumentTypeError(
            f"--target must be an index, an output name, NAME:INDEX or CLASS@POSITION. Received: {text!r}")
    return (name, int(index))


def model_target(model, target):
    """``--target`` on ``model``: a class name replaced by its index when the model
    names its classes (a zoo model's ``metadata["classes"]``, e.g. SpliceAI's donor)."""
    from keras_iml.engine.targets import name_classes

    classes = getattr(model, "classes", None)
    if classes is None or target is None:
        return target
    wrapped = getattr(model, "model", model)  # an IMLModel's outputs are its wrapped model's
    return name_classes(target, classes, getattr(wrapped, "output_names", None) or ())


def _option_value(text):
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if text.startswith("@"):  # an array option (a baseline) from a .npy file
        path = text[1:]
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise ValueError(f"`--option` could not read the array file {path!r} ({err}). "
                             f"Received: {text!r}") from None
    return text


def parse_options(specs):
    """``["steps=32", "baseline=shuffle"]`` -> ``{"steps": 32, "baseline": "shuffle"}``.

    Values are read as true/false, none, an int, a float, ``@FILE.npy`` (an array)
    or else a string.

    Raises:
        ValueError: an entry without ``=`` or with an empty name, or a name twice.
    """
    options = {}
    for spec in specs or ():
        name, sep, value = str(spec).partition("=")
        name = name.strip()
        if not sep or not name or not name.isidentifier():
            raise ValueError(f"`--option` must be NAME=VALUE (e.g. steps=32). Received: --option={spec!r}")
        if name in options:
            raise ValueError(f"`--option` names {name!r} twice. Received: --option={spec!r}")
        options[name] = _option_value(value)
    return options


def interval_columns(data):
    """``{"chrom": ..., "start": ..., "end": ..., "strand": ...}`` arrays of a BED input
    (one per sequence), or ``{}`` for other inputs."""
    intervals = data.get("intervals")
    if intervals is None:
        return {}
    return {c: np.asarray(intervals[c]).astype(str if c in ("chrom", "strand") else np.int64)
            for c in ("chrom", "start", "end", "strand") if c in intervals}


def add_method_arguments(p):
    """``--option NAME=VALUE`` (method options) and ``--alphabet``."""
    p.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                   help="an option of the method(s), e.g. steps=32, baseline=shuffle, "
                        "n_references=50, baseline=@ref.npy (repeatable)")
    p.add_argument("--alphabet", default="ACGT",
                   help="the model's column order, e.g. ACGU for RNA FASTA (default: ACGT)")


def add_input_arguments(p):
    """The data arguments of ``explain`` and ``validate`` (genome, length, tracks, aux)."""
    p.add_argument("--genome", default=None, help="genome FASTA for a BED file")
    p.add_argument("--length", type=int, default=None,
                   help="centre and resize BED intervals to this length (default: the model's "
                        "input length, when it has one)")
    p.add_argument("--track", action="append", default=[], metavar="NAME=FILE.bw",
                   help="with a BED file, the bigWig signal over each interval as the model's "
                        "auxiliary input NAME (repeatable)")
    p.add_argument("--aux", default=None, metavar="FILE.npz",
                   help="values of the model's auxiliary (non-DNA) inputs: arrays named after the "
                        "inputs, one row per sequence")
    p.add_argument("--dna-input", default=None,
                   help="for a model with several inputs, the name of the DNA input")


def add_parser(subparsers):
    p = subparsers.add_parser("explain", help="attributions of a .keras model on sequences")
    p.add_argument("model", help="a .keras model file")
    p.add_argument("data", help="FASTA, .npz (x, optional names and auxiliary arrays) or BED (with --genome)")
    p.add_argument("--method", default="saliency", help="registered method name")
    p.add_argument("--target", type=parse_target, default=None, help=TARGET_HELP)
    add_input_arguments(p)
    p.add_argument("--attribute-aux", action="store_true",
                   help="also attribute the auxiliary inputs (gradient methods; written as "
                        "'aux:NAME' arrays)")
    add_method_arguments(p)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="attributions.npz",
                   help="output .npz file (checked before any work)")
    p.set_defaults(func=run)


def parse_tracks(specs):
    """``["dnase=a.bw", ...]`` -> ``{"dnase": "a.bw"}``.

    Raises:
        ValueError: an entry without ``=``, with an empty name or path, or a name twice.
    """
    tracks = {}
    for spec in specs or ():
        name, sep, path = str(spec).partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ValueError(f"`--track` must be NAME=FILE.bw. Received: --track={spec!r}")
        if name.strip() in tracks:
            raise ValueError(f"`--track` names {name.strip()!r} twice. Received: --track={spec!r}")
        tracks[name.strip()] = path.strip()
    return tracks


def read_aux_file(path, aux_names, n):
    """The arrays of an ``--aux`` ``.npz`` file, checked against the model's auxiliary inputs.

    Args:
        path: the ``.npz`` file.
        aux_names: the model's auxiliary input names.
        n: the number of sequences.

    Returns:
        dict name -> array with ``n`` rows.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an array not named after an auxiliary input (the message lists the
            expected names), or without one row per sequence.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such auxiliary-input file. Received: --aux={path!r}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as err:
        raise ValueError(f"`--aux` must be an .npz file of named arrays ({err}). "
                         f"Received: --aux={path!r}") from err
    unknown = sorted(set(arrays) - set(aux_names))
    if unknown or not arrays:
        expected = (f"the model's auxiliary inputs {list(aux_names)}" if aux_names
                    else "nothing: the model's only input is the DNA")
        raise ValueError(f"The arrays of `--aux` must be named after {expected}. "
                         f"Received: --aux={path!r} with arrays {sorted(arrays)}")
    for name, value in arrays.items():
        if value.ndim == 0 or value.shape[0] != n:
            raise ValueError(f"`--aux` array {name!r} must have one row per sequence (N={n}). "
                             f"Received: aux[{name!r}].shape={value.shape}")
    return arrays


def _dna_length(explainer):
    try:
        length = explainer.model.inputs[explainer.layout.dna_index].shape[1]
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    return int(length) if length is not None else None


def read_inputs(args, model, alphabet="ACGT"):
    """Reads the sequences, names and auxiliary inputs that ``args`` name for ``model``.

    Returns:
        dict with ``x``, ``names`` (or None), ``aux`` (dict name -> array, or None) and
        ``y`` / ``mask`` where the data ``.npz`` holds them.

    Raises:
        ValueError: ``--track`` or ``--aux`` for inputs the model does not have, an
            auxiliary input given twice, or one the model needs that is not given
            (each message lists the model's auxiliary inputs).
    """
    from keras_iml.explainer import Explainer

    explainer = Explainer(model, dna_input=getattr(args, "dna_input", None), alphabet=alphabet)
    aux_names = explainer.aux_names
    tracks = parse_tracks(getattr(args, "track", None))
    unknown = sorted(set(tracks) - set(aux_names))
    if unknown:
        expected = (f"the model's auxiliary inputs {aux_names}" if aux_names
                    else "no input: the model's only input is the DNA")
        raise ValueError(f"`--track` names must be {expected}. Received: --track names {sorted(tracks)}")
    length = args.length if getattr(args, "length", None) is not None else _dna_length(explainer)
    data = io.load_sequences(args.data, genome=args.genome, alphabet=alphabet, tracks=tracks,
                             length=length, aux_names=aux_names)
    aux = dict(data.get("aux") or {})
    if getattr(args, "aux", None):
        for name, value in read_aux_file(args.aux, aux_names, len(data["x"])).items():
            if name in aux:
                raise ValueError(f"The auxiliary input {name!r} is given twice (in {args.aux!r} and by "
                                 f"the data or --track). Received: --aux={args.aux!r}")
            aux[name] = value
    missing = [k for k in aux_names if k not in aux]
    if missing:
        raise ValueError(
            f"The model takes inputs {aux_names} besides the DNA; give their values per sequence "
            "with --aux FILE.npz (arrays named after them), as arrays of the data .npz, or with "
            f"--track NAME=FILE.bw and a BED file. Received: no values for {missing}"
        )
    return {"x": data["x"], "names": data.get("names"), "aux": aux or None,
            "y": data.get("y"), "mask": data.get("mask"), "intervals": data.get("intervals")}


def run(args):
    """Explains the data batch by batch, each batch written as it comes (the
    attributions are never held whole in memory), then zips the file into place."""
    io.check_writable(args.out)  # before any work (and before TensorFlow loads)
    options = parse_options(args.option)
    from keras_iml.attributions import Attributions
    from keras_iml.explanations import iter_explain, resolve_methods

    resolve_methods(args.method, options)  # unknown methods and options: before any work
    model = load_model(args.model)
    data = read_inputs(args, model, alphabet=args.alphabet)
    batches = iter_explain(model, data["x"], args.method, target=model_target(model, args.target),
                           batch_size=args.batch_size, seed=args.seed, verbose=1, aux=data["aux"],
                           names=data["names"], dna_input=args.dna_input,
                           attribute_aux=args.attribute_aux, alphabet=args.alphabet, **options)
    stream = io.NpzStream(os.path.dirname(os.path.abspath(args.out)), len(data["x"]))
    try:
        n = Attributions.stream_npz(batches, stream, extra=interval_columns(data))
        write_or_rescue(args.out, stream.finish, "attributions")
    finally:
        stream.close()
    print(f"Wrote {n} attributions ({args.method}) to {args.out}")
    return 0
