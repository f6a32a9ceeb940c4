"""The HTML report renders a ValidationReport faithfully, self-contained and escaped."""

import base64
import html.parser
import json
import os
import re
import types

import numpy as np
import pandas as pd
import pytest

from keras_iml import plotting
from keras_iml.report import components, render_html
from keras_iml.report._reading import model_warnings
from keras_iml.validation import ValidationReport

METHODS = ("saliency", "integrated_gradients", "ism")
SECTION_IDS = ("dashboard", "summary", "distributions", "agreement", "faithfulness",
               "stability", "localisation", "adverse-events", "examples", "not-run", "protocol")


def make_report(n=24, length=120, seed=0, motifs=True, model_info=None, reason_suffix="",
                full=True):
    """A ValidationReport built from small synthetic tables with known contents.

    ``full=False`` keeps one metric and drops the curves, matrices and examples
    (a fast page for tests of banners and escaping).
    """
    rng = np.random.default_rng(seed)
    metric_specs = [  # (tier, metric, pairwise, threshold)
        (1, "spearman", True, 0.3), (1, "ensemble_stability", False, None),
        (2, "deletion_auc_gain", False, 0.0), (2, "randomisation_distance", False, 0.5),
        (3, "localisation_auroc", False, 0.7), (3, "localisation_recall@5", False, None),
    ]
    if not full:
        metric_specs = metric_specs[4:5]
    pairs = [(a, b) for i, a in enumerate(METHODS) for b in METHODS[i + 1:]]
    per_seq, summary, adverse = [], [], []
    for tier, metric, pairwise, threshold in metric_specs:
        for m_index, label in enumerate(pairs if pairwise else METHODS):
            method, partner = label if pairwise else (label, None)
            who = {"method": method, "arm": "pair" if pairwise else "method", "partner": partner}
            values = rng.normal(0.55 + 0.1 * m_index, 0.2, n)
            per_seq += [{"metric": metric, **who, "seq": s, "value": v}
                        for s, v in enumerate(values)]
            value = float(values.mean())
            passed = np.nan if threshold is None else bool(value >= threshold)
            summary.append({"tier": tier, "metric": metric, **who, "value": value,
                            "ci_low": value - 0.05, "ci_high": value + 0.05,
                            "threshold": np.nan if threshold is None else threshold,
                            "passed": passed})
            if threshold is not None:
                adverse += [{"seq": s, "method": method, "partner": partner, "metric": metric, "value": v,
                             "threshold": threshold,
                             "reason": f"{metric} = {v:.3g} below {threshold}{reason_suffix}"}
                            for s, v in enumerate(values) if v < threshold]
    summary = pd.DataFrame(summary)
    fractions = np.linspace(0, 1, 11)
    deletion = pd.DataFrame(
        [{"method": m, "fraction": f, "output": float(np.exp(-3 * f * (i + 1))), "kind": "ranked"}
         for i, m in enumerate(METHODS) for f in fractions]
        + [{"method": m, "fraction": f, "output": 1 - 0.5 * f, "kind": "random"}
           for m in METHODS for f in fractions])
    insertion = deletion.assign(output=1 - deletion["output"])
    ks = [1, 5, 10, 20]
    recall = pd.DataFrame([{"method": m, "k": k, "value": min(1.0, k / 10 * (i + 1) / 3)}
                           for i, m in enumerate(METHODS) for k in ks])
    spearman = pd.DataFrame(np.eye(3) * 0.5 + 0.5, index=list(METHODS), columns=list(METHODS))
    items = []
    for s, why in ((3, "random sample (seed 0)"), (7, "best localisation_auroc")):
        values = np.zeros((length, 4))
        values[90:100, 1] = np.linspace(1, 2, 10)  # a known peak at 90..99
        onehot = np.eye(4)[rng.integers(0, 4, length)]
        items.append({"seq": s, "why": why, "method": "saliency", "values": values.tolist(),
                      "input": onehot.tolist()})
    motif_frame = None
    if motifs and full:
        motif_frame = pd.DataFrame([
            {"pattern": "pos_patterns.pattern_0", "method": m, "sign": "pos", "n_seqlets": 40,
             "length": 8, "pfm": np.full((8, 4), 0.25).tolist(),
             "cwm": rng.normal(0, 1, (8, 4)).tolist(), "best_match": "MA0139.2",
             "best_match_name": "CTCF", "p_value": 1e-9, "q_value": 1e-7, "significant": True,
             "matches": ["MA0139.2 CTCF"], "status": "expected"} for m in METHODS[:2]])
    verdict = pd.DataFrame({"tier1": ["pass", "pass", "fail"], "tier2": ["pass", "fail", "pass"],
                            "tier3": ["fail", "not run", "pass"]}, index=list(METHODS))
    attrs = dict(
        summary=summary,
        per_sequence=pd.DataFrame(per_seq),
        adverse_events=pd.DataFrame(adverse, columns=["seq", "method", "partner", "metric", "value",
                                                      "threshold", "reason"]),
        verdict=verdict,
        not_run=pd.DataFrame([{"metric": "motif_enrichment", "method": "all",
                               "reason": "no motifs given"}]),
        curves={"deletion": deletion, "insertion": insertion, "localisation_recall": recall,
                "localisation_precision": recall.assign(value=1 - recall["value"] / 2)},
        matrices={"spearman": spearman},
        examples={"rule": "5 random sequences (seed 0) plus the best and worst per metric",
                  "items": items},
        motifs=motif_frame,
        protocol={"methods": {m: {} for m in METHODS}, "seed": 0, "n_bootstrap": 200,
                  "thresholds": {"spearman": 0.3}},
        provenance={"keras_iml": "0.1.0", "data_sha256": "ab" * 32, "model_sha256": "cd" * 32,
                    "n_sequences": n, "seed": 0, "created": "2025-01-01T00:00:00"},
        model_info=model_info if model_info is not None else {"auroc": 0.97, "auprc": 0.95},
    )
    if not full:
        attrs.update(curves={}, matrices={}, examples={}, motifs=None)
    return ValidationReport(**attrs)


class _Page(html.parser.HTMLParser):
    """Collects ids, image sources, external references, scripts and table cells."""

    def __init__(self):
        super().__init__()
        self.ids, self.images, self.external, self.classes = [], [], [], []
        self.json_blocks, self._in_json = {}, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if "class" in attrs:
            self.classes.append(attrs["class"])
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            if value and not value.startswith(("data:", "#")):
                self.external.append(value)
        if tag == "link":
            self.external.append(str(attrs))
        if tag == "script" and attrs.get("type") == "application/json":
            self._in_json = attrs["id"]
            self.json_blocks[self._in_json] = ""

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_json = None

    def handle_data(self, data):
        if self._in_json:
            self.json_blocks[self._in_json] += data


def _parse(path):
    page = _Page()
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    page.feed(text)
    return page, text


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    report = make_report()
    path = tmp_path_factory.mktemp("report") / "report.html"
    assert render_html(report, path) == str(path)
    page, text = _parse(path)
    return report, page, text


def test_every_section_and_self_contained(rendered):
    report, page, text = rendered
    for section in (*SECTION_IDS, "motifs"):
        assert section in page.ids, section
    assert page.external == []  # nothing loaded from anywhere else
    assert "default-src 'none'" in text
    assert page.images and all(src.startswith("data:image/png;base64,") for src in page.images)
    for src in page.images:
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    # figures: 6 metric distributions + 1 heatmap + 4 curves (deletion, insertion, recall,
    # precision) + 1 stability plot (ensemble_stability, the only per-method tier-1 metric)
    # + 2 examples + 2 motif logos
    assert len(page.images) == 6 + 1 + 4 + 1 + 2 + 2


def test_every_adverse_event_is_in_the_table(rendered):
    report, page, _ = rendered
    data = json.loads(page.json_blocks["dt-adverse-table"])
    events = report.adverse_events
    assert len(events) > 0 and len(data["rows"]) == len(events)
    assert data["columns"] == list(events.columns)
    seq_col = data["columns"].index("seq")
    assert sorted(r[seq_col] for r in data["rows"]) == sorted(events["seq"].tolist())
    value_col = data["columns"].index("value")
    np.testing.assert_allclose([r[value_col] for r in data["rows"]], events["value"])
    assert set(data["filters"]) >= {"method", "metric"}


def test_tables_show_the_report_values(rendered):
    report, _, text = rendered
    for value in report.summary["value"]:
        assert f">{components.format_value(value)}<" in text
    # the verdict table colours each cell from the verdict
    verdict_html = re.search(r'<table class="static sortable verdict">.*?</table>', text, re.S)[0]
    cells = re.findall(r'<td class="s-(pass|fail|na)"', verdict_html)
    expected = report.verdict.to_numpy().ravel().tolist()
    assert cells == [{"not run": "na"}.get(v, v) for v in expected]
    assert "ab" * 32 in text and "cd" * 32 in text  # data and model hashes
    assert report.examples["rule"] in text  # the selection rule is printed


def test_example_logo_window_is_the_most_important_window(rendered):
    _, _, text = rendered
    # the synthetic items (length 120) have their only non-zero attributions at 90..99:
    # the leftmost 80-bp window holding all of them is 20..99
    assert text.count("<figcaption>saliency: logo of positions 20–99</figcaption>") == 2
    start, end = plotting.best_window(np.r_[np.zeros(20), np.ones(10), np.zeros(30)], 80)
    assert (start, end) == (0, 60)
    start, end = plotting.best_window(np.r_[np.zeros(20), np.ones(10), np.zeros(30)], 10)
    assert (start, end) == (20, 30)


def test_escaping_and_model_warning(tmp_path):
    evil = "<script>alert('x')</script>"
    report = make_report(n=12, full=False, reason_suffix=evil,
                         model_info={"auroc": 0.72, "warning": f"weak model {evil}"})
    path = render_html(report, tmp_path / "r.html")
    page, text = _parse(path)
    assert evil not in text and "&lt;script&gt;" in text
    data = json.loads(page.json_blocks["dt-adverse-table"])
    assert any(evil in str(row) for row in data["rows"])  # kept verbatim in the data
    assert "motifs" not in page.ids  # no motifs -> no section
    warning = text.index("alert alert-danger")
    assert warning < text.index('id="toc"')  # shown before anything else
    assert "weak model" in text[warning:warning + 400]
    # AUROC below 0.9 without a warning text still raises one; 0.95 raises none
    assert model_warnings({"auroc": 0.72}) == [
        "The model's auroc is 0.720 < 0.9: it has not learned the task well, so its "
        "explanations say little about the biology."]
    assert model_warnings({"auroc": 0.95, "auprc": 0.5}) == []
    assert model_warnings({"auroc": 0.7, "warning": "AUROC 0.70 is low"}) == ["AUROC 0.70 is low"]


def test_bad_input_and_atomic_write(tmp_path):
    with pytest.raises(TypeError, match="summary"):
        render_html(object(), tmp_path / "x.html")
    report = make_report(n=8, full=False)
    broken = types.SimpleNamespace(summary=report.summary.drop(columns=["ci_low"]))
    with pytest.raises(ValueError, match="ci_low"):
        render_html(broken, tmp_path / "x.html")
    target = tmp_path / "keep.html"
    target.write_text("old")
    with pytest.raises(ValueError):
        render_html(broken, target)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.html"]  # no temporary files left


def test_an_empty_report_still_shows_every_section(tmp_path):
    page, text = _parse(render_html(ValidationReport(), tmp_path / "empty.html"))
    assert set(SECTION_IDS) <= set(page.ids)
    assert "The report holds no metric results." in text
    assert "No adverse events" in text


def test_rendering_is_deterministic(tmp_path):
    report = make_report(n=10, full=False)
    a = render_html(report, tmp_path / "a.html")
    b = render_html(report, tmp_path / "b.html")

    def strip(p):
        return re.sub(r"Generated [^<]* by", "", open(p, encoding="utf-8").read())

    assert strip(a) == strip(b)


def test_metric_distribution_draws_every_sequence():
    from matplotlib.figure import Figure

    values = pd.DataFrame({"method": ["a"] * 5 + ["b"] * 3,
                           "value": [0.1, 0.2, 0.3, np.nan, 0.5, 1.0, 2.0, 3.0]})
    ax = Figure().add_subplot()
    plotting.metric_distribution(values, ax=ax)
    points = [len(col.get_offsets()) for col in ax.collections]
    assert points == [4, 3]  # NaN dropped, every other sequence drawn


def test_cli_report_from_json(tmp_path):
    from keras_iml.cli import main

    report = make_report(n=8)
    report.to_json(tmp_path / "report.json")
    out = tmp_path / "out" / "report.html"
    assert main(["report", str(tmp_path / "report.json"), "--out", str(out)]) == 0
    page, text = _parse(out)
    assert set(SECTION_IDS) | {"motifs"} <= set(page.ids)
    assert "MA0139.2 CTCF" in text  # a list column of the motifs table survives the round trip
    assert main(["report", str(tmp_path / "missing.json"), "--out", str(out)]) == 2
    assert os.path.exists(out)


def test_fast_logo_stacks_letters_like_a_logo():
    from matplotlib.figure import Figure

    from keras_iml.report.logo import draw_logo

    values = np.zeros((3, 4))
    values[0] = [0.5, 1.0, 0.0, -0.3]  # A and C stacked up (smaller nearer 0), T hangs down
    values[2, 2] = 2.0  # G at position 2
    ax = Figure().add_subplot()
    draw_logo(values, ax, start=10)
    extents = {}
    for patch, letter in zip(ax.patches, "ACGT"):  # one compound patch per present base
        verts = patch.get_path().vertices
        extents[letter] = (verts[:, 0].min(), verts[:, 0].max(), verts[:, 1].min(),
                           verts[:, 1].max())
    np.testing.assert_allclose(extents["A"][2:], [0.0, 0.5], atol=1e-9)
    np.testing.assert_allclose(extents["C"][2:], [0.5, 1.5], atol=1e-9)
    np.testing.assert_allclose(extents["T"][2:], [-0.3, 0.0], atol=1e-9)
    np.testing.assert_allclose(extents["G"], [11.55, 12.45, 0.0, 2.0], atol=1e-9)
    assert ax.get_xlim() == (9.5, 12.5)


def test_observed_contribution_of_masked_and_ism_maps():
    from keras_iml.report.figures import observed_contribution

    onehot = np.eye(4)[[0, 2, 3]]
    masked = onehot * np.array([[1.0], [-2.0], [0.5]])  # input-masked attributions
    np.testing.assert_allclose(observed_contribution(masked, onehot), [1.0, -2.0, 0.5])
    ism = np.array([[0.0, -1.0, -2.0, -3.0], [0.3, 0.3, 0.0, 0.3], [1.0, 1.0, 1.0, 0.0]])
    # ISM is 0 at the observed base: minus the mean effect of the 3 substitutions
    np.testing.assert_allclose(observed_contribution(ism, onehot), [2.0, -0.3, -1.0])
