"""`keras-iml validate MODEL DATA`: files written and the exit status gates on thresholds."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from keras_iml import cli
from keras_iml.schema import COLUMNS

from test_validation_data import planted, true_model


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    x, mask = planted()
    model_path = root / "model.keras"
    true_model().save(model_path)
    data_path = root / "data.npz"
    np.savez(data_path, x=x[:16], mask=mask[:16])
    return root, model_path, data_path


def _protocol(root, name, auroc_threshold, metrics=("localisation_auroc",)):
    path = root / name
    path.write_text(yaml.safe_dump({
        "methods": ["saliency"],
        "metrics": list(metrics),
        "thresholds": {"localisation_auroc": auroc_threshold},
        "n_bootstrap": 50,
    }))
    return str(path)


def test_cli_passes_and_writes_the_report(inputs, capsys):
    root, model_path, data_path = inputs
    out = root / "ok"
    code = cli.main(["validate", str(model_path), str(data_path), "--quiet",
                     "--protocol", _protocol(root, "ok.yaml", 0.9), "--out", str(out)])
    assert code == 0, capsys.readouterr()
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == COLUMNS["summary"]
    assert {"method", "placebo", "positive_control"} <= set(summary.arm)
    methods = summary[summary.arm == "method"]
    assert (methods[methods.metric == "localisation_auroc"].value > 0.95).all()
    report = json.loads((out / "report.json").read_text())
    assert report["provenance"]["n_sequences"] == 16
    assert (out / "report.html").stat().st_size > 1000
    assert "PASSED" in capsys.readouterr().out
    # top-1 % precision scores 2 of these 16 sequences: too few to beat placebo, so the
    # same run with it cannot pass (exit 3), though every threshold is met
    code = cli.main(["validate", str(model_path), str(data_path), "--quiet", "--no-html",
                     "--protocol", _protocol(root, "more.yaml", 0.9,
                                             ("localisation_auroc", "localisation_precision")),
                     "--out", str(root / "weak")])
    assert code == cli.EXIT_INCONCLUSIVE
    assert "INCONCLUSIVE" in capsys.readouterr().out


def test_cli_exits_non_zero_on_a_failed_threshold(inputs, capsys):
    root, model_path, data_path = inputs
    out = root / "fail"
    code = cli.main(["validate", str(model_path), str(data_path), "--quiet", "--no-html",
                     "--protocol", _protocol(root, "strict.yaml", 1.01), "--out", str(out)])
    assert code == 1
    text = capsys.readouterr().out
    assert "FAILED" in text and "localisation_auroc" in text
    assert (out / "report.json").exists() and (out / "summary.csv").exists()
    assert not (out / "report.html").exists()


def test_cli_bad_input_exits_2(inputs, capsys):
    root, model_path, data_path = inputs
    assert cli.main(["validate", str(root / "missing.keras"), str(data_path)]) == 2
    assert "MODEL" in capsys.readouterr().err
    assert cli.main(["validate", str(model_path), str(data_path), "--quiet",
                     "--methods", "no_such_method", "--out", str(root / "bad")]) == 2
    assert "Unknown method" in capsys.readouterr().err
