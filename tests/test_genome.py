"""keras_iml.genome: BED intervals, sequences from a genome FASTA (pyfaidx), bigWig tracks
(pyBigWig), on small files the tests write themselves, checked against hand-encoded bases."""

import numpy as np
import pandas as pd
import pytest

from keras_iml import dna, genome, io

pyfaidx = pytest.importorskip("pyfaidx")
pyBigWig = pytest.importorskip("pyBigWig")

# Two chromosomes with known, non-repetitive bases.
CHR1 = "ACGTTGCAAGGCTTAACCGGATCGATCGGCTAAGCTTACG" * 3  # 120 bases
CHR2 = "TTTTGGGGCCCCAAAANNNNacgtACGT"  # 28 bases, N and soft-masked lower case
EYE = np.eye(4, dtype=np.float32)


def _hand(seq):
    """One-hot of a string written out base by base (A C G T; N = 0.25 each)."""
    rows = []
    for base in seq.upper():
        rows.append(np.full(4, 0.25, np.float32) if base == "N" else EYE["ACGT".index(base)])
    return np.stack(rows)


def _revcomp(seq):
    return seq[::-1].upper().translate(str.maketrans("ACGTN", "TGCAN"))


@pytest.fixture
def fasta(tmp_path):
    path = tmp_path / "genome.fa"
    wrapped = "\n".join(CHR1[i : i + 50] for i in range(0, len(CHR1), 50))
    path.write_text(f">chr1 first\n{wrapped}\n>chr2\n{CHR2}\n")
    return path


def _bed(tmp_path, text, name="peaks.bed"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_bed_columns_names_and_skipped_lines(tmp_path):
    path = _bed(tmp_path, "track name=x\nbrowser position chr1\n# comment\n\n"
                          "chr1\t10\t20\tpeak_a\t5\t-\nchr2\t0\t8\nchr1\t30\t40\t.\n")
    frame = genome.read_bed(path)
    assert list(frame.columns[:4]) == ["chrom", "start", "end", "name"]
    assert frame["chrom"].tolist() == ["chr1", "chr2", "chr1"]
    assert frame["start"].tolist() == [10, 0, 30] and frame["end"].tolist() == [20, 8, 40]
    assert frame["name"].tolist() == ["peak_a", "chr2:0-8", "chr1:30-40"]
    assert frame["strand"].tolist() == ["-", ".", "."]


@pytest.mark.parametrize("line, match", [
    ("chr1\t10\n", "at least 3 columns"),
    ("chr1\tten\t20\n", "integers"),
    ("chr1\t1_0\t20\n", "integers"),
    ("chr1\t\u0663\t20\n", "integers"),
    ("chr1\t20\t20\n", "start < end"),
    ("chr1\t30\t20\n", "start < end"),
    ("chr1\t-5\t20\n", "start < end"),
])
def test_read_bed_malformed_lines_give_file_and_line(tmp_path, line, match):
    path = _bed(tmp_path, "# header\nchr1\t0\t10\n" + line)
    with pytest.raises(ValueError, match=match) as err:
        genome.read_bed(path)
    assert f"{path}, line 3" in str(err.value)


def test_read_bed_empty_and_missing(tmp_path):
    with pytest.raises(ValueError, match="no intervals"):
        genome.read_bed(_bed(tmp_path, "# only a comment\n"))
    with pytest.raises(FileNotFoundError):
        genome.read_bed(tmp_path / "absent.bed")


def test_fetch_sequences_equals_hand_encoded_bases(tmp_path, fasta):
    bed = _bed(tmp_path, "chr1\t5\t15\tpeak_1\nchr2\t14\t24\tpeak_2\nchr1\t100\t110\n")
    x, names = genome.fetch_sequences(bed, fasta)
    assert names == ["peak_1", "peak_2", "chr1:100-110"]
    assert x.dtype == np.float32 and x.shape == (3, 10, 4)
    np.testing.assert_array_equal(x[0], _hand(CHR1[5:15]))
    np.testing.assert_array_equal(x[1], _hand(CHR2[14:24]))  # AANNNNacgt
    np.testing.assert_array_equal(x[1, 2], [0.25] * 4)
    np.testing.assert_array_equal(x[2], _hand(CHR1[100:110]))
    assert dna.decode(x[:1]) == [CHR1[5:15]]


def test_minus_strand_is_reverse_complemented(tmp_path, fasta):
    bed = _bed(tmp_path, "chr1\t5\t15\tplus\t0\t+\nchr1\t5\t15\tminus\t0\t-\n")
    x, names = genome.fetch_sequences(bed, fasta)
    np.testing.assert_array_equal(x[0], _hand(CHR1[5:15]))
    np.testing.assert_array_equal(x[1], _hand(_revcomp(CHR1[5:15])))
    np.testing.assert_array_equal(x[1], dna.reverse_complement(x[0]))
    # with the alphabet in another order the string is complemented, not the columns
    y, _ = genome.fetch_sequences(bed, fasta, alphabet="TGCA")
    assert dna.decode(y[1:], alphabet="TGCA") == [_revcomp(CHR1[5:15])]


def test_centring_and_resizing_pick_the_right_bases(tmp_path, fasta):
    bed = _bed(tmp_path, "chr1\t20\t40\twide\nchr1\t50\t55\tnarrow\nchr1\t60\t67\todd\n")
    x, names = genome.fetch_sequences(bed, fasta, length=8)
    assert names == ["wide", "narrow", "odd"]
    np.testing.assert_array_equal(x[0], _hand(CHR1[26:34]))  # 20 + (20 - 8) // 2 = 26
    np.testing.assert_array_equal(x[1], _hand(CHR1[48:56]))  # 50 + (5 - 8) // 2 = 48
    np.testing.assert_array_equal(x[2], _hand(CHR1[59:67]))  # 60 + (7 - 8) // 2 = 59


def test_unequal_widths_without_length_list_the_widths(tmp_path, fasta):
    bed = _bed(tmp_path, "chr1\t0\t10\nchr1\t0\t12\nchr1\t20\t30\n")
    with pytest.raises(ValueError, match=r"widths: \[10, 12\]"):
        genome.fetch_sequences(bed, fasta)


@pytest.mark.parametrize("line, match", [
    ("chr1\t115\t125\toff_end\n", "'off_end'.*runs off chr1 \\(length 120\\)"),
    ("chr9\t0\t10\tnowhere\n", "'nowhere'.*chromosome the genome.*lacks"),
])
def test_intervals_off_the_genome_name_the_interval(tmp_path, fasta, line, match):
    bed = _bed(tmp_path, "chr1\t0\t10\tfine\n" + line)
    with pytest.raises(ValueError, match=match):
        genome.fetch_sequences(bed, fasta)


def test_resizing_off_the_start_names_the_interval(tmp_path, fasta):
    bed = _bed(tmp_path, "chr2\t0\t4\tedge\n")
    with pytest.raises(ValueError, match="'edge' \\(chr2:-3-7, resized from 0-4\\)"):
        genome.fetch_sequences(bed, fasta, length=10)


def test_dataframe_and_open_fasta_inputs(tmp_path, fasta):
    frame = pd.DataFrame({"chrom": ["chr2", "chr1"], "start": [0, 3], "end": [4, 7]})
    with pyfaidx.Fasta(str(fasta)) as handle:
        x, names = genome.fetch_sequences(frame, handle)
    assert names == ["chr2:0-4", "chr1:3-7"]
    np.testing.assert_array_equal(x[0], _hand("TTTT"))
    np.testing.assert_array_equal(x[1], _hand(CHR1[3:7]))
    with pytest.raises(ValueError, match="columns chrom, start, end"):
        genome.fetch_sequences(pd.DataFrame({"chrom": ["chr1"]}), fasta)
    with pytest.raises(TypeError, match="genome"):
        genome.fetch_sequences(frame, 42)


def test_bad_base_and_n_policy_name_the_interval(tmp_path):
    path = tmp_path / "iupac.fa"
    path.write_text(">chrX\nACGTRACGTACGN\n")
    bed = _bed(tmp_path, "chrX\t0\t6\tgood\nchrX\t2\t8\tpeak_r\n")
    with pytest.raises(ValueError, match="'R' at sequence 'good' \\(index 0\\), position 4"):
        genome.fetch_sequences(bed, path)
    bed = _bed(tmp_path, "chrX\t5\t9\tclean\nchrX\t9\t13\tpeak_n\n", name="n.bed")
    with pytest.raises(ValueError, match="N at sequence 'peak_n' \\(index 1\\), position 3"):
        genome.fetch_sequences(bed, path, n_policy="error")


def test_load_sequences_bed_branch_uses_genome(tmp_path, fasta):
    bed = _bed(tmp_path, "chr1\t5\t15\tpeak_1\t0\t-\nchr2\t0\t10\tpeak_2\n")
    data = io.load_sequences(bed, genome=fasta)
    assert data["names"] == ["peak_1", "peak_2"]
    np.testing.assert_array_equal(data["x"][0], _hand(_revcomp(CHR1[5:15])))
    np.testing.assert_array_equal(data["x"][1], _hand(CHR2[0:10]))


def _bigwig(path, chroms, entries):
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader(chroms)
    for chrom, starts, ends, values in entries:
        bw.addEntries([chrom] * len(starts), starts, ends=ends, values=values)
    bw.close()
    return path


def test_read_tracks_returns_the_written_values(tmp_path):
    signal = _bigwig(tmp_path / "signal.bw", [("chr1", 1000), ("chr2", 500)], [
        ("chr1", [100, 101, 102, 105], [101, 102, 105, 110], [1.5, 2.0, 3.0, 4.0]),
        ("chr2", [0], [50], [7.0]),
    ])
    other = _bigwig(tmp_path / "other.bw", [("chr1", 1000), ("chr2", 500)], [
        ("chr1", [100], [110], [-1.0]), ("chr2", [10], [20], [0.5]),
    ])
    bed = _bed(tmp_path, "chr1\t100\t110\tp1\nchr1\t100\t110\tp1_minus\t0\t-\nchr2\t45\t55\tp2\n")
    tracks = genome.read_tracks(bed, {"signal": signal, "other": other})
    assert sorted(tracks) == ["other", "signal"]
    expected = np.array([1.5, 2.0, 3.0, 3.0, 3.0, 4.0, 4.0, 4.0, 4.0, 4.0], np.float32)
    got = tracks["signal"]
    assert got.dtype == np.float32 and got.shape == (3, 10)
    np.testing.assert_array_equal(got[0], expected)
    np.testing.assert_array_equal(got[1], expected[::-1])  # minus strand: 5' end first
    np.testing.assert_array_equal(got[2], [7.0] * 5 + [0.0] * 5)  # no data -> 0 (not NaN)
    np.testing.assert_array_equal(tracks["other"][2], [0.0] * 10)
    # centring matches fetch_sequences: 100-110 resized to 4 -> 103-107
    small = genome.read_tracks(genome.read_bed(bed).iloc[:1], {"signal": signal}, length=4)
    np.testing.assert_array_equal(small["signal"], [[3.0, 3.0, 4.0, 4.0]])


def test_read_tracks_errors(tmp_path):
    signal = _bigwig(tmp_path / "signal.bw", [("chr1", 100)], [("chr1", [0], [10], [1.0])])
    bed = _bed(tmp_path, "chr1\t95\t105\tpast_end\n")
    with pytest.raises(ValueError, match="'past_end'.*runs off chr1 \\(length 100\\).*signal"):
        genome.read_tracks(bed, {"signal": signal})
    bed = _bed(tmp_path, "chr3\t0\t10\tother_chrom\n", name="b.bed")
    with pytest.raises(ValueError, match="'other_chrom'"):
        genome.read_tracks(bed, {"signal": signal})
    with pytest.raises(FileNotFoundError, match="tracks\\['gone'\\]"):
        genome.read_tracks(bed, {"gone": tmp_path / "absent.bw"})
    text = tmp_path / "not.bw"
    text.write_text("not a bigwig\n")
    with pytest.raises(ValueError, match="bigWig"):
        genome.read_tracks(bed, {"text": text})
    with pytest.raises(TypeError, match="tracks"):
        genome.read_tracks(bed, [signal])


def test_missing_dependency_says_how_to_install(monkeypatch):
    import builtins

    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == "pyBigWig":
            raise ImportError("no module")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError, match=r"pip install keras-iml\[genome\]"):
        genome.read_tracks(pd.DataFrame({"chrom": ["c"], "start": [0], "end": [1]}), {"t": "x.bw"})
