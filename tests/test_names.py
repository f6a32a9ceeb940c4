"""Sequence names travel with the data: FASTA records and BED intervals reach error
messages, Attributions (selection, concatenation, .npz, DataFrame), the validation tables
and the HTML report."""

import numpy as np
import pandas as pd
import pytest

from keras_iml import Attributions, _checks, dna, io
import keras_iml
from keras_iml.report import html_string
from keras_iml.validation import ValidationReport, validate

from conftest import make_linear

NAMES = ["chr1:100-120", "peak_b", "peak_c", "peak_d"]


def _attr(n=4, length=6, names=NAMES, seed=0):
    rng = np.random.default_rng(seed)
    x = dna.random_sequences(n, length, rng=rng)
    return Attributions(rng.standard_normal(x.shape), method="m", inputs=x,
                        convergence_delta=np.arange(n), names=names)


# -- Attributions ---------------------------------------------------------------------------
def test_names_survive_selection_by_index_slice_mask_and_name():
    attr = _attr()
    assert attr[1].names == ["peak_b"]
    assert attr[1:3].names == ["peak_b", "peak_c"]
    assert attr[[3, 0]].names == ["peak_d", "chr1:100-120"]
    assert attr[np.array([True, False, False, True])].names == ["chr1:100-120", "peak_d"]
    picked = attr["peak_c"]
    np.testing.assert_array_equal(picked.values, attr.values[2:3])
    np.testing.assert_array_equal(attr[["peak_d", "peak_b"]].convergence_delta, [3, 1])
    with pytest.raises(KeyError, match="peak_z"):
        attr["peak_z"]
    with pytest.raises(KeyError, match="no sequence names"):
        _attr(names=None)["peak_b"]


def test_concatenate_keeps_names_only_when_every_part_has_them():
    attr = _attr()
    joined = Attributions.concatenate([attr[:1], attr[1:]])
    assert joined.names == NAMES
    assert Attributions.concatenate([attr[:2], _attr(names=None)[2:]]).names is None


def test_names_round_trip_through_npz_and_reach_the_dataframe(tmp_path):
    attr = _attr()
    back = Attributions.from_npz(attr.to_npz(tmp_path / "a.npz"))
    assert back.names == NAMES and all(type(n) is str for n in back.names)
    np.testing.assert_array_equal(back.values, attr.values)
    frame = back.to_dataframe()
    assert list(frame.columns[:3]) == ["seq", "name", "pos"]
    assert frame["seq"].dtype.kind == "i"  # the integer index is kept as it is
    for seq, name in zip(frame["seq"], frame["name"]):
        assert name == NAMES[seq]
    assert (frame[frame["name"] == "peak_c"]["value"].to_numpy() == attr.values[2].ravel()).all()
    plain = _attr(names=None)
    assert "name" not in plain.to_dataframe().columns
    assert Attributions.from_npz(plain.to_npz(tmp_path / "b.npz")).names is None


def test_bad_names_are_refused():
    with pytest.raises(ValueError, match="one name per sequence \\(N=4\\)"):
        _attr(names=["a", "b"])
    with pytest.raises(TypeError, match="names"):
        _attr(names="abcd")


# -- explain --------------------------------------------------------------------------------
def test_explain_keeps_names_from_every_input_form():
    model = make_linear(length=6)
    seqs = ["ACGTAC", "GGGTTT", "ACACAC"]
    names = ["r1", "r2", "r3"]
    attr = keras_iml.explain(model, seqs, "saliency", names=names, verbose=0)
    assert attr.names == names
    plain = keras_iml.explain(model, seqs, "saliency", verbose=0)
    assert plain.names is None
    np.testing.assert_array_equal(attr.values, plain.values)
    from_dict = keras_iml.explain(model, dict(zip(names, seqs)), "saliency", verbose=0)
    assert from_dict.names == names
    np.testing.assert_array_equal(from_dict.values, plain.values)
    series = pd.Series(seqs, index=names)
    assert keras_iml.explain(model, series, "saliency", verbose=0).names == names
    assert keras_iml.explain(model, pd.Series(seqs), "saliency", verbose=0).names is None
    many = keras_iml.explain(model, seqs, ["saliency", "input_x_gradient"], names=names, verbose=0)
    assert all(a.names == names for a in many.values())
    parts = list(keras_iml.iter_explain(model, seqs, "saliency", names=names, batch_size=2,
                                        verbose=0))
    assert [p.names for p in parts] == [["r1", "r2"], ["r3"]]
    with pytest.raises(ValueError, match="one name per sequence \\(N=3\\)"):
        keras_iml.explain(model, seqs, "saliency", names=["only", "two"], verbose=0)


def test_error_names_the_fasta_record(tmp_path):
    path = tmp_path / "seqs.fa"
    records = {f"peak_{i}": "ACGTACGTAC" for i in range(1, 10)}
    records["peak_7"] = "ACGTAXGTAC"
    path.write_text("".join(f">{k} some description\n{v}\n" for k, v in records.items()))
    with pytest.raises(ValueError, match="'X' at sequence 'peak_7' \\(index 6\\), position 5"):
        io.load_sequences(path)
    names, seqs = io.read_fasta(path)
    model = make_linear(length=10)
    with pytest.raises(ValueError, match="sequence 'peak_7' \\(index 6\\)"):
        keras_iml.explain(model, seqs, "saliency", names=names, verbose=0)
    with pytest.raises(ValueError, match="sequence 'peak_7' \\(index 6\\)"):
        validate(model, seqs, names=names, protocol="quick", verbose=0)
    # without names the message keeps its index form
    with pytest.raises(ValueError, match="'X' at sequence 6, position 5"):
        dna.one_hot(seqs)


def test_other_sequence_errors_name_the_record(tmp_path):
    with pytest.raises(ValueError, match="sequence 'short' \\(index 1\\) has length 3"):
        dna.one_hot(["ACGT", "ACG"], names=["long", "short"])
    x = dna.random_sequences(3, 5, rng=0)
    x[2, 1, 0] = np.nan
    with pytest.raises(ValueError, match="first in sequence 'c' \\(index 2\\)"):
        _checks.as_onehot(x, names=["a", "b", "c"])
    x[2, 1] = [0.5, 0.5, 0, 0]
    with pytest.raises(ValueError, match="x\\[2, 1\\].*sequence 'c' \\(index 2\\), position 1"):
        _checks.as_onehot(x, names=["a", "b", "c"])
    path = tmp_path / "bad.fa"
    path.write_text("ACGT\n>r1\nACGT\n")
    with pytest.raises(ValueError, match="line 1"):
        io.read_fasta(path)


def test_load_sequences_fasta_returns_record_names(tmp_path):
    path = tmp_path / "s.fa"
    path.write_text(">rec_a desc\nACGT\nAC\n>rec_b\nTTTTGG\n")
    data = io.load_sequences(path)
    assert data["names"] == ["rec_a", "rec_b"]
    assert dna.decode(data["x"]) == ["ACGTAC", "TTTTGG"]


# -- validation and the report --------------------------------------------------------------
@pytest.fixture(scope="module")
def named_report():
    rng = np.random.default_rng(0)
    x = dna.random_sequences(10, 30, rng=rng)
    names = [f"chr2:{1000 + 30 * i}-{1030 + 30 * i}" for i in range(10)]
    a = rng.standard_normal(x.shape).astype(np.float32)
    attrs = {"a": Attributions(a, method="a", inputs=x, names=names),
             "b": Attributions(-a + 0.1, method="b", inputs=x, names=names)}
    table = pd.DataFrame({"seq": names, "start": 5, "end": 10, "role": "true"})
    proto = {"metrics": ["spearman", "localisation_auroc"],
             "thresholds": {"localisation_auroc": 0.9}, "n_bootstrap": 20}
    report = validate(None, x, attributions=attrs, ground_truth=table, protocol=proto, verbose=0)
    return names, report


def test_names_reach_the_per_sequence_table_and_adverse_events(named_report):
    names, report = named_report
    ps = report.per_sequence
    assert list(ps.columns[:7]) == ["metric", "method", "arm", "partner", "seq", "name", "value"]
    assert ps["seq"].dtype.kind == "i"
    assert (ps["name"] == np.asarray(names, dtype=object)[ps["seq"].to_numpy()]).all()
    ae = report.adverse_events
    assert len(ae) > 0 and list(ae.columns[:2]) == ["seq", "name"]
    assert (ae["name"] == np.asarray(names, dtype=object)[ae["seq"].astype(int).to_numpy()]).all()
    items = report.examples["items"]
    assert items and all(item["name"] == names[item["seq"]] for item in items)


def test_ground_truth_table_may_use_names(named_report):
    names, report = named_report
    x = dna.random_sequences(10, 30, rng=0)
    a = np.zeros(x.shape, np.float32)
    a[3, 5:10] = 1.0  # only sequence 3 has attribution on its site
    table = pd.DataFrame({"seq": [names[3]], "start": [5], "end": [10], "role": ["true"]})
    out = validate(None, x, attributions={"a": Attributions(a, method="a", inputs=x)}, names=names,
                   ground_truth=table, protocol={"metrics": ["localisation_auroc"], "n_bootstrap": 10},
                   verbose=0)
    rows = out.per_sequence[(out.per_sequence["metric"] == "localisation_auroc")
                            & (out.per_sequence["method"] == "a")]
    scored = rows.dropna(subset=["value"])
    assert scored["name"].tolist() == [names[3]] and scored["value"].iloc[0] == 1.0
    with pytest.raises(ValueError, match="'nowhere'"):
        validate(None, x, attributions={"a": Attributions(a, method="a", inputs=x)}, names=names,
                 ground_truth=table.assign(seq=["nowhere"]), protocol={"metrics": ["localisation_auroc"]},
                 verbose=0)


def test_names_reach_the_html_report_and_survive_json(named_report, tmp_path):
    names, report = named_report
    html = html_string(report)
    shown = set(report.adverse_events["name"])
    assert shown and all(name in html for name in shown)
    item = report.examples["items"][0]
    assert f"sequence {item['name']} (index {item['seq']})" in html
    back = ValidationReport.from_json(report.to_json(tmp_path / "r.json"))
    pd.testing.assert_frame_equal(back.per_sequence, report.per_sequence, check_dtype=False)
    assert back.examples["items"][0]["name"] == item["name"]


def test_names_disagreeing_with_the_attributions_are_refused():
    x = dna.random_sequences(3, 8, rng=0)
    attr = Attributions(np.ones(x.shape), method="a", inputs=x, names=["a", "b", "c"])
    with pytest.raises(ValueError, match="other sequence names"):
        validate(None, x, attributions={"a": attr}, names=["a", "c", "b"],
                 protocol={"metrics": ["spearman"]}, verbose=0)
