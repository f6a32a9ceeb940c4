"""Kipoi model descriptions read without the ``kipoi`` package.

A Kipoi source directory is laid out like the kipoi/models repository. A model's
description is found in one of these forms (first match wins):

1. ``<source>/<name>/model.yaml`` (and ``dataloader.yaml`` beside it);
2. a group directory ``<source>/<group>`` with ``model-template.yaml`` (or
   ``template/template_model.yaml``) and ``models.tsv``: the row whose ``model``
   column is the rest of the name fills the Jinja2 template;
3. ``<source>/../weights/<name>/kipoi_model.yaml`` (files shipped beside the source).

YAML is parsed with ``yaml.safe_load`` and templates are rendered in Jinja2's sandbox:
nothing in a model description is executed.
"""

import csv
import dataclasses
import os
import pathlib
import re

import jinja2
import yaml
from jinja2.sandbox import SandboxedEnvironment

__all__ = ["FileRef", "ModelSpec", "read_spec", "group_models", "parse_shape"]

_TEMPLATES = ("model-template.yaml", "template/template_model.yaml")
_DEFAULT_EXT = {"arch": ".json", "weights": ".h5"}


@dataclasses.dataclass(frozen=True)
class FileRef:
    """A file a model needs: a local path (relative to the model dir) and/or a URL + md5."""

    arg: str
    path: str = None
    url: str = None
    md5: str = None

    @property
    def extension(self):
        """The file's extension (from the path, the URL, or a default for the arg)."""
        for candidate in (self.path, (self.url or "").split("?")[0]):
            ext = os.path.splitext(candidate or "")[1]
            if ext and len(ext) <= 6:
                return ext
        return _DEFAULT_EXT.get(self.arg, ".bin")


@dataclasses.dataclass
class ModelSpec:
    """A parsed Kipoi model description.

    Attributes:
        name: the zoo name, e.g. ``"DeepBind/Homo_sapiens/TF/D00328.018_ChIP-seq_CTCF"``.
        group: the first path component (the model family in Kipoi).
        model_dir: the directory the description was read from.
        type: ``type`` or ``defined_as`` of the model (e.g. ``"keras"``).
        files: dict arg name -> :class:`FileRef` (``arch``, ``weights``).
        inputs, targets: lists of dicts with ``name``, ``shape`` (tuple, None for
            unknown), ``doc`` and, for targets, ``column_labels``.
        input_length: sequence length the model takes (None if free).
        alphabet, alphabet_axis: one-hot column order and its axis in one input
            (Kipoi's convention: 1 = channels last for ``(L, 4)``).
        license, citation, authors, tags, doc: from ``info``.
        test_expect: :class:`FileRef` of Kipoi's expected predictions, or None.
        dataloader: the default dataloader entry (dict).
        raw: the whole rendered description.
    """

    name: str
    group: str
    model_dir: pathlib.Path
    type: str = None
    files: dict = dataclasses.field(default_factory=dict)
    inputs: list = dataclasses.field(default_factory=list)
    targets: list = dataclasses.field(default_factory=list)
    input_length: int = None
    alphabet: str = "ACGT"
    alphabet_axis: int = 1
    license: str = None
    citation: str = None
    authors: list = dataclasses.field(default_factory=list)
    tags: list = dataclasses.field(default_factory=list)
    doc: str = ""
    test_expect: FileRef = None
    dataloader: dict = dataclasses.field(default_factory=dict)
    raw: dict = dataclasses.field(default_factory=dict)

    @property
    def n_outputs(self):
        """Number of output columns the description promises (None if unknown)."""
        if not self.targets:
            return None
        shape = self.targets[0].get("shape") or ()
        return shape[0] if len(shape) == 1 else None


def parse_shape(value):
    """``"(101, 4)"`` -> ``(101, 4)``; ``None`` entries stay None.

    Raises:
        ValueError: an entry that is not a non-negative int or None (``"(a, 4)"``,
            ``1.5``, ``True``), or a value that is neither text nor a list.
    """
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        items = list(value)
    elif isinstance(value, (str, int)) and not isinstance(value, bool):
        items = [v.strip() for v in str(value).strip().strip("()[]").split(",")]
    else:
        raise ValueError("A shape must be text such as '(101, 4)' or a list. "
                         f"Received: shape={value!r}")
    out = []
    for item in items:
        if item in ("", None):
            continue
        if str(item) in ("None", "null"):
            out.append(None)
        elif isinstance(item, int) and not isinstance(item, bool) and item >= 0:
            out.append(item)
        elif isinstance(item, str) and item.isascii() and item.isdigit():
            out.append(int(item))
        else:
            raise ValueError(
                f"A shape holds non-negative ints or None. Received: shape={value!r}")
    return tuple(out)


def _as_list(entry):
    if entry is None:
        return []
    return list(entry) if isinstance(entry, list) else [entry]


def _md5_text(value, arg):
    """YAML reads an all-digit md5 as an int (dropping leading zeros): restore the text."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"The md5 of {arg!r} is not a hex string. Received: {value!r}")
    return str(value).zfill(32) if isinstance(value, int) else value.strip().lower()


def _file_ref(arg, value):
    if isinstance(value, str) and arg in _DEFAULT_EXT:
        return FileRef(arg, path=value)
    if isinstance(value, dict) and ("url" in value or "md5" in value):
        url = value.get("url") or None
        if url is not None and not isinstance(url, str):
            raise ValueError(f"The url of {arg!r} is not text. Received: url={url!r}")
        return FileRef(arg, url=url, md5=_md5_text(value.get("md5"), arg))
    return None


def _read_text(path, what="model description"):
    """A UTF-8 text file of a model description, or ValueError naming it."""
    try:
        return pathlib.Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"The {what} {os.fspath(path)} is not UTF-8 text ({err}).") from None


def _load_yaml(text, where):
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"Cannot parse the model description {where}: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"The model description {where} is not a YAML mapping.")
    return data


def _render(template_path, row, model):
    env = SandboxedEnvironment(keep_trailing_newline=True)
    text = _read_text(template_path, "model template")
    try:
        return env.from_string(text).render({**row, "model": model})
    except jinja2.TemplateError as err:
        raise ValueError(f"Cannot render the model template {template_path} for {model!r}: "
                         f"{type(err).__name__}: {err}") from None


def _read_tsv(path):
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle, delimiter="\t"))
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"Cannot read the model table {path}: {err}") from None


def _group_template(group_dir):
    tsv = group_dir / "models.tsv"
    if not tsv.is_file():
        return None, None
    for rel in _TEMPLATES:
        if (group_dir / rel).is_file():
            return group_dir / rel, tsv
    return None, None


def _locate(name, source):
    """``(yaml text, model dir, where)`` for a model name in a source directory."""
    direct = pathlib.Path(name)
    candidates = [direct] if direct.is_absolute() or direct.is_dir() else []
    if source is not None:
        candidates.append(pathlib.Path(source) / name)
    for folder in candidates:
        for fname in ("model.yaml", "kipoi_model.yaml"):
            if (folder / fname).is_file():
                return _read_text(folder / fname), folder, str(folder / fname)
    if source is None:
        raise ValueError(f"Model {name!r} not found: pass `source=` (a directory laid out "
                         "like the kipoi/models repository).")
    source = pathlib.Path(source)
    parts = name.strip("/").split("/")
    for k in range(len(parts) - 1, 0, -1):
        group_dir = source.joinpath(*parts[:k])
        template, tsv = _group_template(group_dir)
        if template is None:
            continue
        rest = "/".join(parts[k:])
        for row in _read_tsv(tsv):
            if row.get("model") == rest:
                return _render(template, row, rest), group_dir, f"{template} [{rest}]"
    shipped = source.parent / "weights" / name
    for fname in ("kipoi_model.yaml", "model.yaml"):
        if (shipped / fname).is_file():
            return _read_text(shipped / fname), shipped, str(shipped / fname)
    raise ValueError(f"Model {name!r} not found in source {os.fspath(source)!r}: no model.yaml "
                     "and no models.tsv row of that name.")


def _schema_entries(entries, model_dir, where):
    out = []
    for entry in _as_list(entries):
        if not isinstance(entry, dict):
            continue
        try:
            shape = parse_shape(entry.get("shape"))
        except ValueError as err:
            raise ValueError(f"{err} (in the model description {where})") from None
        item = {"name": entry.get("name"), "shape": shape,
                "doc": str(entry.get("doc") or "").strip(),
                "special_type": entry.get("special_type")}
        labels = entry.get("column_labels")
        if isinstance(labels, str) and "\x00" not in labels and (model_dir / labels).is_file():
            labels = [ln.strip() for ln in _read_text(model_dir / labels, "column labels file")
                      .splitlines() if ln.strip()]
        item["column_labels"] = labels if isinstance(labels, list) else None
        out.append(item)
    return out


def _mapping(data, key, where):
    """``data[key]`` as a dict (absent or empty: ``{}``), or ValueError naming the file."""
    value = data.get(key)
    if value is None or value == "" or value == []:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"`{key}` of the model description {where} must be a mapping. "
                         f"Received: {key}={value!r}"[:400])
    return value


def _non_negative_int(value, key, where):
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"`{key}` of the model description {where} must be a non-negative int. "
                         f"Received: {key}={value!r}")
    return value


def _alphabet(value, where):
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = "".join(value)
    if not isinstance(value, str) or len(value) != 4 or len(set(value.upper())) != 4 \
            or not value.isascii():
        raise ValueError(f"`alphabet` of the model description {where} must be 4 distinct "
                         f"letters. Received: alphabet={value!r}")
    return value


def read_spec(name, source=None):
    """Reads and renders the Kipoi description of a model.

    Args:
        name: the zoo name (``"DeepBind/Homo_sapiens/TF/D00328.018_ChIP-seq_CTCF"``) or a
            directory holding a ``model.yaml``.
        source: the Kipoi source directory (laid out like kipoi/models).

    Returns:
        A :class:`ModelSpec`.

    Raises:
        ValueError: the model is not found, or its description (YAML, template, table,
            ``dataloader.yaml``) is not UTF-8 text, not YAML, or holds a field of the
            wrong kind; the message names the file.

    Example:
        >>> spec = read_spec("FactorNet/MAX/onePeak_Unique35_DGF", source="kipoi-models")
        >>> spec.inputs[0]["shape"]
        (1002, 6)
    """
    if not isinstance(name, (str, os.PathLike)) or not str(name).strip():
        raise ValueError(f"`name` must be a model name. Received: name={name!r}")
    name = os.fspath(name)
    text, model_dir, where = _locate(name, source)
    data = _load_yaml(text, where)
    args = _mapping(data, "args", where)
    try:
        files = {arg: ref for arg, value in args.items()
                 if (ref := _file_ref(str(arg), value)) is not None}
    except ValueError as err:
        raise ValueError(f"{err} (in the model description {where})") from None
    info = _mapping(data, "info", where)
    schema = _mapping(data, "schema", where)
    loader = data.get("default_dataloader")
    loader = loader if isinstance(loader, dict) else {"defined_as": loader}
    dl_file = model_dir / "dataloader.yaml"
    dl_data = _load_yaml(_read_text(dl_file), str(dl_file)) if dl_file.is_file() else {}
    if not schema.get("inputs") and dl_data.get("output_schema"):
        schema = _mapping(dl_data, "output_schema", str(dl_file))
    inputs = _schema_entries(schema.get("inputs"), model_dir, where)
    defaults = _mapping(loader, "default_args", where)
    length = inputs[0]["shape"][0] if inputs and inputs[0]["shape"] else None
    length = length or _non_negative_int(defaults.get("auto_resize_len"), "auto_resize_len", where)
    expect = _mapping(data, "test", where).get("expect")
    group = name.strip("/").split("/")[0] if source is not None or "/" in name else model_dir.name
    authors = [a.get("name") for a in _as_list(info.get("authors")) if isinstance(a, dict)]
    kind = data.get("type") or data.get("defined_as")
    try:
        test_expect = _file_ref("expect", expect) if isinstance(expect, dict) else None
    except ValueError as err:
        raise ValueError(f"{err} (in the model description {where})") from None
    axis = _non_negative_int(defaults.get("alphabet_axis", 1), "alphabet_axis", where)
    return ModelSpec(
        name=name, group=group, model_dir=model_dir,
        type=kind if isinstance(kind, str) or kind is None else str(kind), files=files,
        inputs=inputs, targets=_schema_entries(schema.get("targets"), model_dir, where),
        input_length=int(length) if length else None,
        alphabet=_alphabet(defaults.get("alphabet", "ACGT"), where),
        alphabet_axis=1 if axis is None else axis,
        license=info.get("license"), citation=info.get("cite_as"), authors=authors,
        tags=[str(t) for t in _as_list(info.get("tags"))],
        doc=re.sub(r"\s+", " ", str(info.get("doc") or "")).strip(),
        test_expect=test_expect,
        dataloader={**loader, "spec": dl_data} if dl_data else loader, raw=data)


def group_models(source, group):
    """Names of the models of a group in a source directory (``models.tsv`` rows and
    subdirectories holding ``model.yaml``), sorted."""
    group_dir = pathlib.Path(source) / group
    if not group_dir.is_dir():
        raise ValueError(f"Group {group!r} not found in source {os.fspath(source)!r}.")
    names = set()
    _, tsv = _group_template(group_dir)
    if tsv is not None:
        names.update(f"{group}/{row['model']}" for row in _read_tsv(tsv) if row.get("model"))
    for path in group_dir.rglob("model.yaml"):
        names.add(str(path.parent.relative_to(group_dir.parent)).replace(os.sep, "/"))
    return sorted(names)
