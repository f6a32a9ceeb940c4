"""Property tests of the input parsers (issue #15): any input either works or raises
ValueError / TypeError naming the argument or the file, never another exception, a hang
or a partly written output file.

Fuzzed: one-hot arrays (``keras_iml._checks``), DNA strings (``keras_iml.dna.one_hot``),
FASTA files (``keras_iml.io``), BED files (``keras_iml.genome.read_bed``), protocols
(``Protocol.from_dict`` / ``from_yaml``) and Kipoi model descriptions
(``keras_iml.zoo.sources.spec.read_spec``). Runs are derandomised (the same examples on
every run) and bounded; each test also has a time limit, so a hang fails it.

Each failure the fuzzing found is also kept as a plain test of its smallest example.
"""

import os
import pathlib
import string
import zipfile

import numpy as np
import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from keras_iml import _checks, dna, io  # noqa: E402
import keras_iml  # noqa: E402
from keras_iml.validation.protocol import _KEYS, Protocol  # noqa: E402
from keras_iml.zoo.sources import spec as zoo_spec  # noqa: E402

pytestmark = pytest.mark.timeout(120)


def fuzz(max_examples):
    """Deterministic, bounded hypothesis settings (no example database written)."""
    return settings(max_examples=max_examples, derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


def refused(call, *names):
    """``call()``'s result, or None where it raised ValueError/TypeError naming one of ``names``.

    Any other exception propagates, and fails the test.
    """
    try:
        return call()
    except (ValueError, TypeError) as err:
        message = str(err)
        assert any(name in message for name in names), (
            f"{type(err).__name__} names none of {names}: {message[:300]}")
        return None


def _write(path, content):
    data = content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass")
    pathlib.Path(path).write_bytes(data)
    return str(path)


# -- one-hot arrays ---------------------------------------------------------------------------

_DTYPES = st.one_of(hnp.floating_dtypes(), hnp.integer_dtypes(), hnp.unsigned_integer_dtypes(),
                    hnp.boolean_dtypes(), hnp.complex_number_dtypes(),
                    hnp.unicode_string_dtypes(max_len=3), hnp.byte_string_dtypes(max_len=3),
                    hnp.datetime64_dtypes(), hnp.timedelta64_dtypes())
_SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)
_ANY_ARRAY = hnp.arrays(dtype=_DTYPES, shape=_SHAPES)


@st.composite
def _near_onehot(draw):
    """Valid one-hot / N / padding columns, some of them changed to something else."""
    n, length = draw(st.integers(1, 3)), draw(st.integers(1, 6))
    columns = np.concatenate([np.eye(4), np.zeros((1, 4)), np.full((1, 4), 0.25)])
    x = columns[draw(hnp.arrays(np.int64, (n, length), elements=st.integers(0, 5)))]
    for _ in range(draw(st.integers(0, 2))):
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, length - 1))
        k = draw(st.integers(0, 3))
        x[i, j, k] = draw(st.sampled_from([0.5, -1.0, 2.0, 1e-3, np.nan, np.inf, 0.9999]))
    return x.astype(draw(st.sampled_from([np.float64, np.float32, np.float16])))


_NOT_ARRAYS = st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=5),
                        st.lists(st.lists(st.integers(0, 1), max_size=4), max_size=3),
                        st.lists(st.one_of(st.integers(), st.text(max_size=2), st.none()),
                                 max_size=3),
                        st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))


def _valid_onehot(out, shape=None):
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.ndim == 3
    assert out.shape[-1] == 4 and out.shape[0] >= 1 and out.shape[1] >= 1
    if shape is not None:
        assert out.shape == shape
    total, top = out.sum(-1), out.max(-1) if out.size else out.sum(-1)
    assert np.isfinite(out).all() and (out >= 0).all()
    assert np.all(np.isclose(total, 1, atol=1e-3) | np.isclose(total, 0) | np.isclose(top, 0.25))


@fuzz(500)
@given(st.one_of(_ANY_ARRAY, _near_onehot(), _NOT_ARRAYS))
def test_onehot_checks_accept_dna_or_name_the_argument(x):
    out = refused(lambda: _checks.as_onehot(x, name="seqs"), "`seqs`", "seqs.", "seqs[", "seqs=",
                  "seqs of type", "`x`", "x[")  # 1-D strings go to dna.one_hot, which says `x`
    if out is not None:
        _valid_onehot(out)
        if isinstance(x, np.ndarray) and x.ndim == 3:
            assert out.shape == x.shape
    if isinstance(x, np.ndarray) and x.ndim == 3 and x.dtype.kind in "fiubc":
        out = refused(lambda: _checks.check_onehot(x, name="seqs"), "`seqs`", "seqs.", "seqs[")
        if out is not None:
            _valid_onehot(out, x.shape)


def test_complex_arrays_are_refused():
    """Found by fuzzing: the imaginary part was dropped (ComplexWarning) and the array kept."""
    with pytest.raises(TypeError, match="`x`"):
        _checks.check_onehot(np.array([[[1 + 1j, 0, 0, 0]]]))


def test_byte_strings_that_are_not_text_are_named():
    """Found by fuzzing: a UnicodeDecodeError that named no argument."""
    with pytest.raises(ValueError, match="`x`"):
        _checks.as_onehot(np.array([b"\x80"]))


@pytest.mark.parametrize("x", ["", [""], np.array([""]), np.array([b""], dtype="S2")])
def test_empty_sequences_are_refused(x):
    """Found by fuzzing: a (1, 0, 4) array came back."""
    with pytest.raises(ValueError, match="`x`"):
        _checks.as_onehot(x)


# -- DNA strings ------------------------------------------------------------------------------

_LETTERS = st.sampled_from(list("ACGTNacgtnUu-.*? \t\n\x00é") + ["\u0100", "\U0001f9ec"])
_SEQUENCE = st.one_of(st.text(_LETTERS, max_size=8), st.text(max_size=6))
_SEQUENCES = st.one_of(_SEQUENCE, st.lists(_SEQUENCE, max_size=4),
                       st.lists(st.one_of(_SEQUENCE, st.integers(), st.none(),
                                          st.binary(max_size=3)), max_size=3),
                       st.none(), st.integers(), st.binary(max_size=3))
_ALPHABETS = st.one_of(st.just("ACGT"), st.permutations("ACGT").map("".join),
                       st.text(st.sampled_from(string.ascii_letters + "-* "), max_size=6),
                       st.text(st.sampled_from(list("ACGTNßŤéİ") + ["\U0001f9ec"]), max_size=5),
                       st.none(), st.integers(), st.lists(st.sampled_from("ACGT"), max_size=5))
_POLICIES = st.one_of(st.sampled_from(["uniform", "zeros", "error"]), st.text(max_size=4),
                      st.none(), st.integers())


@fuzz(500)
@given(_SEQUENCES, _ALPHABETS, _POLICIES)
def test_one_hot_encodes_dna_or_names_the_argument(sequences, alphabet, n_policy):
    out = refused(lambda: dna.one_hot(sequences, alphabet=alphabet, n_policy=n_policy),
                  "`x`", "x[", "`alphabet`", "`n_policy`")
    if out is not None:
        n = 1 if isinstance(sequences, str) else len(sequences)
        length = len(sequences if isinstance(sequences, str) else sequences[0])
        assert out.shape == (n, length, 4) and out.dtype == np.float32 and length >= 1


@pytest.mark.parametrize("alphabet", ["ACGŤ", "ACGß"])
def test_alphabets_outside_ascii_are_refused(alphabet):
    """Found by fuzzing: IndexError from the 256-entry letter table ('Ť'), or later from a
    letter whose upper case is two letters ('ß')."""
    with pytest.raises(ValueError, match="alphabet"):
        dna.one_hot("ACGT", alphabet=alphabet)


@pytest.mark.parametrize("alphabet", [None, list("ACGT")])
def test_an_alphabet_that_is_not_text_is_named(alphabet):
    """Found by fuzzing: "object of type 'NoneType' has no len()", and an AttributeError."""
    with pytest.raises(TypeError, match="alphabet"):
        dna.one_hot("ACGT", alphabet=alphabet)


@pytest.mark.parametrize("x", [123, None])
def test_sequences_that_are_not_iterable_are_named(x):
    """Found by fuzzing: "'int' object is not iterable", naming no argument."""
    with pytest.raises(TypeError, match="`x`"):
        dna.one_hot(x)


# -- targets ----------------------------------------------------------------------------------

_TARGET_ATOM = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(),
                         st.text(max_size=3), st.builds(np.int64, st.integers(-3, 3)),
                         st.builds(np.float32, st.floats(0, 3)))
_TARGETS = st.one_of(
    _TARGET_ATOM, st.lists(_TARGET_ATOM, max_size=3), st.tuples(st.text(max_size=3), _TARGET_ATOM),
    st.builds(slice, _TARGET_ATOM, _TARGET_ATOM, _TARGET_ATOM),
    st.tuples(st.text(max_size=2), st.builds(slice, _TARGET_ATOM, _TARGET_ATOM)),
    hnp.arrays(np.int64, st.integers(0, 3)))


@fuzz(400)
@given(_TARGETS)
def test_targets_are_checked_or_named(target):
    from keras_iml.engine import targets

    refused(lambda: targets.check_target(target), "target")
    outputs = np.arange(12, dtype=np.float32).reshape(4, 3)
    try:
        targets.check_target(target)
    except (ValueError, TypeError):
        return
    if isinstance(target, (str, tuple)) and target and isinstance(target[0], str):
        return  # an output name: a model with named outputs decides
    selected = refused(lambda: targets.select(outputs, target), "target")
    if selected is not None:
        assert tuple(selected.shape) == (4,)


@pytest.mark.parametrize("target", [1.0, np.float32(1), True, np.bool_(False), [0, 1.0],
                                    ("out", 1.0), slice(0.5, 2), np.array([0, 1])])
def test_targets_that_are_not_ints_are_refused(target):
    from keras_iml.engine import targets

    with pytest.raises(TypeError, match="target"):
        targets.check_target(target)


# -- FASTA ------------------------------------------------------------------------------------

_FASTA_LINE = st.one_of(st.text(st.sampled_from(list("ACGTNacgtn>; \t\r")), max_size=10),
                        st.text(max_size=8), st.sampled_from([">", "> ", ">a b", ";c", ""]))
_FASTA = st.one_of(st.lists(_FASTA_LINE, max_size=6).map("\n".join), st.text(max_size=30),
                   st.binary(max_size=30), st.builds(lambda a, b: a.encode() + b,
                                                     st.sampled_from([">a\n", ">b x\nAC\n"]),
                                                     st.binary(max_size=8)))


@fuzz(300)
@given(_FASTA, st.sampled_from(["seqs.fa", "seqs.fasta", "seqs.txt"]))
def test_fasta_reading_gives_records_or_names_the_file(tmp_path_factory, content, name):
    path = _write(tmp_path_factory.mktemp("fasta") / name, content)
    result = refused(lambda: io.read_fasta(path), path)
    if result is not None:
        names, seqs = result
        assert len(names) == len(seqs) >= 1
        assert all(isinstance(n, str) and n for n in names)
        assert all(isinstance(s, str) for s in seqs)
    data = refused(lambda: io.load_sequences(path), path, "`x`", "sequence")
    if data is not None:
        assert data["x"].shape[0] == len(data["names"]) and data["x"].dtype == np.float32


@fuzz(100)
@given(st.one_of(st.binary(max_size=40),
                 st.builds(lambda b: b"PK\x03\x04" + b, st.binary(max_size=30))))
def test_a_file_named_npz_loads_or_is_named(tmp_path_factory, content):
    path = _write(tmp_path_factory.mktemp("npz") / "data.npz", content)
    refused(lambda: io.load_sequences(path), path)


def test_a_fasta_file_that_is_not_text_is_named(tmp_path):
    """Found by fuzzing: a UnicodeDecodeError naming neither the file nor the line."""
    path = _write(tmp_path / "seqs.fa", b">a\nAC\x9bGT\n")
    with pytest.raises(ValueError, match="seqs.fa"):
        io.read_fasta(path)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04broken"])
def test_a_broken_npz_is_named(tmp_path, content):
    """Found by fuzzing: EOFError and zipfile.BadZipFile, naming nothing."""
    path = _write(tmp_path / "data.npz", content)
    with pytest.raises(ValueError, match="data.npz"):
        io.load_sequences(path)


# -- BED --------------------------------------------------------------------------------------

def _read_bed():
    genome = pytest.importorskip("keras_iml.genome")
    if not hasattr(genome, "read_bed"):
        pytest.skip("keras_iml.genome has no read_bed yet")
    return genome.read_bed


_COORD = st.one_of(st.integers(-3, 10**6), st.integers(2**62 - 2, 2**62 + 2),
                   st.integers(2**63 - 2, 2**70)).map(str)
_FIELD = st.one_of(_COORD, st.text(st.sampled_from(list("chr1XY0123456789-+._")), max_size=6),
                   st.text(max_size=4), st.sampled_from(["+", "-", ".", "", "1e3", " 5", "0x10"]))
_BED_LINE = st.one_of(
    st.tuples(st.sampled_from(["chr1", "chrX", ""]), _COORD, _COORD, st.lists(_FIELD, max_size=4))
    .map(lambda t: "\t".join([t[0], t[1], t[2], *t[3]])),
    st.lists(_FIELD, max_size=7).map("\t".join), st.lists(_FIELD, max_size=7).map(" ".join),
    st.sampled_from(["# comment", "track name=x", "browser position chr1", "", "\t"]))


@fuzz(400)
@given(st.one_of(st.lists(_BED_LINE, max_size=5).map("\n".join), st.binary(max_size=30)))
def test_bed_reading_gives_intervals_or_names_the_file(tmp_path_factory, content):
    read_bed = _read_bed()
    path = _write(tmp_path_factory.mktemp("bed") / "peaks.bed", content)
    frame = refused(lambda: read_bed(path), path)
    if frame is not None:
        assert list(frame.columns) == ["chrom", "start", "end", "name", "strand"] and len(frame)
        assert (frame.start >= 0).all() and (frame.end > frame.start).all()
        assert frame.strand.isin(["+", "-", "."]).all()


@pytest.mark.parametrize("end", [2**63, 2**70])
def test_bed_coordinates_past_int64_are_refused(tmp_path, end):
    """Found by fuzzing: 2**63 wrapped to a negative int64 end, 2**64 raised OverflowError."""
    path = _write(tmp_path / "peaks.bed", f"chr1\t0\t{end}\n")
    with pytest.raises(ValueError, match="peaks.bed"):
        _read_bed()(path)


def test_a_bed_file_that_is_not_text_is_named(tmp_path):
    """Found by fuzzing: a UnicodeDecodeError naming neither the file nor the line."""
    path = _write(tmp_path / "peaks.bed", b"chr1\t0\t10\tp\xe91\n")
    with pytest.raises(ValueError, match="peaks.bed"):
        _read_bed()(path)


# -- protocols --------------------------------------------------------------------------------

_WORDS = st.sampled_from(["quick", "default", "saliency", "ism", "integrated_gradients", "deletion",
                          "completeness", "localisation_auroc", "localisation_recall@5", "holm",
                          "none", "n_sequences", "steps", "method", "placebo", "name", "n_random",
                          "fractions", "positive", "randomised_model"])
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-3, 200), st.floats(), _WORDS,
                    st.text(max_size=5))
_VALUE = st.recursive(_SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.one_of(_WORDS, st.text(max_size=4), st.integers(0, 3)), inner, max_size=3)),
    max_leaves=8)
_CONFIG = st.dictionaries(st.one_of(st.sampled_from([*_KEYS, "base"]), st.text(max_size=5),
                                    st.integers(0, 2)), _VALUE, max_size=4)


@fuzz(500)
@given(_CONFIG)
def test_protocol_from_dict_builds_or_names_the_field(tmp_path_factory, config):
    names = ("protocol", "method", "metric", "controls", *map(str, config))
    proto = refused(lambda: Protocol.from_dict(config), *names)
    if proto is not None:
        again = Protocol.from_dict({"base": None, **proto.to_dict()})
        assert again.to_dict() == proto.to_dict()
        path = tmp_path_factory.mktemp("protocol") / "p.yaml"
        proto.to_yaml(path)
        assert Protocol.from_yaml(path).to_dict() == proto.to_dict()


_YAML_TEXT = st.one_of(
    _CONFIG.map(lambda c: yaml.safe_dump(c, allow_unicode=True)),
    st.text(st.sampled_from(list("abk:-[]{}&*!|>'\"# \n\t0123456789")), max_size=40),
    st.sampled_from(["!!python/object:os.system {}", "a: &x [1]\nb: *y", "k: [1, 2", "- 1\n- 2",
                     "base: quick\nk: [0]", "\x00"]),
    st.binary(max_size=20))


@fuzz(300)
@given(_YAML_TEXT)
def test_protocol_from_yaml_builds_or_names_the_file(tmp_path_factory, content):
    path = _write(tmp_path_factory.mktemp("protocol") / "protocol.yaml", content)
    refused(lambda: Protocol.from_yaml(path), path)


def test_protocol_fields_are_checked_with_their_names():
    cases = {"k": "abc", "ci_level": "x", "min_model_auroc": "high", "examples": [1],
             "thresholds": ["deletion"], "adverse_thresholds": {"deletion": "low"}, "name": {}}
    for key, value in cases.items():
        with pytest.raises((ValueError, TypeError), match=f"protocol\\['{key}'\\]"):
            Protocol.from_dict({"base": "quick", key: value})
    with pytest.raises(ValueError, match="Unknown protocol key"):
        Protocol.from_dict({1: 2, "k": [1]})
    assert Protocol.from_dict({"base": "quick", "methods": None}).methods == {}


def test_distill_option_names_that_are_not_text_are_named():
    if "distill" not in _KEYS:
        pytest.skip("this protocol has no distill key")
    with pytest.raises((ValueError, TypeError), match="distill"):
        Protocol.from_dict({"base": "quick", "distill": {"a": 1, 0: 1}})


# -- Kipoi model descriptions -----------------------------------------------------------------

_SPEC_KEYS = st.sampled_from([
    "args", "info", "schema", "default_dataloader", "test", "type", "defined_as", "arch",
    "weights", "url", "md5", "inputs", "targets", "shape", "name", "doc", "column_labels",
    "authors", "tags", "cite_as", "license", "default_args", "alphabet", "alphabet_axis",
    "auto_resize_len", "expect", "output_schema"])
_SPEC_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-3, 2000),
                         st.floats(allow_nan=False), st.text(max_size=6), st.sampled_from(
                             ["(101, 4)", "(None, 4)", "(a, 4)", "101", "keras", "model.h5",
                              "ACGT", "labels.txt", "1.5", "\x00"]))
_SPEC_VALUE = st.recursive(_SPEC_SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(_SPEC_KEYS, inner, max_size=4)), max_leaves=12)
_SPEC_DOC = st.dictionaries(_SPEC_KEYS, _SPEC_VALUE, max_size=6)


@fuzz(500)
@given(st.one_of(_SPEC_DOC.map(yaml.safe_dump), st.text(max_size=40), st.binary(max_size=20)),
       st.one_of(st.none(), _SPEC_DOC.map(yaml.safe_dump), st.binary(max_size=10)))
def test_model_descriptions_parse_or_name_the_file(tmp_path_factory, model, loader):
    folder = tmp_path_factory.mktemp("zoo") / "Family" / "model"
    folder.mkdir(parents=True)
    _write(folder / "model.yaml", model)
    if loader is not None:
        _write(folder / "dataloader.yaml", loader)
    (folder / "labels.txt").write_text("a\nb\n")
    spec = refused(lambda: zoo_spec.read_spec(str(folder)), str(folder))
    if spec is not None:
        length = spec.input_length
        assert length is None or (isinstance(length, int) and length > 0)
        assert isinstance(spec.alphabet, str) and len(spec.alphabet) == 4
        assert isinstance(spec.alphabet_axis, int) and spec.alphabet_axis >= 0
        assert all(isinstance(ref.extension, str) for ref in spec.files.values())
        assert spec.n_outputs is None or isinstance(spec.n_outputs, (int, type(None)))
        for entry in spec.inputs + spec.targets:
            assert entry["shape"] is None or all(d is None or d >= 0 for d in entry["shape"])


@fuzz(150)
@given(st.lists(st.sampled_from(list("{}%#abc: |.\n") + ["{{ model }}", "{{ x.y }}", "{% if %}",
                                                           "{{ other }}", "{{ x }}"]),
                max_size=12).map("".join),
       st.text(st.sampled_from(list("model\tab\n\"")), max_size=30))
def test_group_templates_render_or_name_the_file(tmp_path_factory, template, table):
    source = tmp_path_factory.mktemp("zoo")
    group = source / "Group"
    group.mkdir()
    _write(group / "model-template.yaml", template)
    _write(group / "models.tsv", "model\tother\na\tx\n" + table)
    refused(lambda: zoo_spec.read_spec("Group/a", str(source)), str(group), "Group/a")


def test_parse_shape_names_what_it_could_not_read():
    assert zoo_spec.parse_shape("(None, 4)") == (None, 4)
    assert zoo_spec.parse_shape([101, 4]) == (101, 4)
    for bad in ("(a, 4)", [1.5, 4], [True, 4], {"a": 1}, "(-1, 4)"):
        with pytest.raises(ValueError, match="shape"):
            zoo_spec.parse_shape(bad)


# -- no partly written files ------------------------------------------------------------------

def _leftovers(folder):
    return sorted(p.name for p in pathlib.Path(folder).iterdir() if p.name.startswith(".tmp-"))


@pytest.mark.parametrize("interrupt", [OSError("disk full"), KeyboardInterrupt()])
def test_an_interrupted_protocol_write_leaves_no_partial_file(tmp_path, monkeypatch, interrupt):
    path = tmp_path / "protocol.yaml"
    Protocol.quick().to_yaml(path)
    before = path.read_text()

    def broken(data, stream, **kwargs):
        stream.write("name: half a prot")
        raise interrupt

    monkeypatch.setattr(yaml, "safe_dump", broken)
    for target in (path, tmp_path / "new.yaml"):
        with pytest.raises(type(interrupt)):
            Protocol.quick().to_yaml(target)
    assert path.read_text() == before and not (tmp_path / "new.yaml").exists()
    assert _leftovers(tmp_path) == []


def test_an_interrupted_attributions_write_leaves_no_partial_file(tmp_path, monkeypatch):
    attr = keras_iml.Attributions(np.ones((2, 5, 4), np.float32), method="saliency")
    path = attr.to_npz(tmp_path / "attr.npz")
    before = pathlib.Path(path).read_bytes()

    def broken(fh, **arrays):
        with zipfile.ZipFile(fh, "w") as archive:
            archive.writestr("values.npy", b"\x93NUMPY half")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken)
    for target in (tmp_path / "attr.npz", tmp_path / "other.npz"):
        with pytest.raises(OSError, match="disk full"):
            attr.to_npz(target)
    assert pathlib.Path(path).read_bytes() == before and not (tmp_path / "other.npz").exists()
    assert _leftovers(tmp_path) == []
    assert os.listdir(tmp_path) == ["attr.npz"]


def test_control_keys_that_are_not_text_are_named():
    from keras_iml.validation.controls import check_controls

    with pytest.raises(ValueError, match="controls"):
        check_controls({"placebo": True, 0: 1})
