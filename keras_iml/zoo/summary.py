"""A self-contained HTML summary of a batch-validation run.

Sections: counts by status; per method and tier, how many models pass, fail or were
not run, with the failing models listed; each metric's distribution across models
(one matplotlib figure per metric, a box per method, embedded as base64 PNG); and the
table of every model (status, reason, checks, timings). The styling is deliberately
plain (the report module may restyle it).
"""

import base64
import html
import io

import numpy as np
import pandas as pd
from jinja2 import Environment

from keras_iml.attributions import atomic_write

__all__ = ["write_summary", "render_summary"]

_TEMPLATE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{ title }}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1200px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}
th{background:#f0f0f0}.fail{color:#b00}.pass{color:#070}img{max-width:100%}</style></head>
<body><h1>{{ title }}</h1>
<p>{{ n_models }} models; {% for s, c in status %}{{ s }}: {{ c }}{% if not loop.last %}, {% endif %}{% endfor %}.
Total model time {{ total_seconds }} s (median {{ median_seconds }} s per model).</p>
<h2>Verdicts by method and tier</h2>
<table><tr><th>method</th><th>tier</th><th>pass</th><th>fail</th><th>not run</th><th>failing models</th></tr>
{% for r in verdicts %}<tr><td>{{ r.method }}</td><td>{{ r.tier }}</td><td class="pass">{{ r.passes }}</td>
<td class="fail">{{ r.fails }}</td><td>{{ r.not_run }}</td><td>{% if r.failing %}<details><summary>{{ r.failing|length }}
models</summary>{{ r.failing|join(", ") }}</details>{% endif %}</td></tr>
{% endfor %}</table>
<h2>Metric distributions across models</h2>
{% for name, png in figures %}<h3>{{ name }}</h3><img alt="{{ name }}" src="data:image/png;base64,{{ png }}">
{% endfor %}
<h2>Models</h2>{{ models_table }}
</body></html>
"""


def _figure(frame, metric):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sub = frame[frame["metric"] == metric].dropna(subset=["value"])
    methods = sorted(sub["method"].unique())
    data = [sub.loc[sub["method"] == m, "value"].to_numpy() for m in methods]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(methods) + 2), 2.8))
    ax.boxplot(data, showfliers=True)
    ax.set_xticks(range(1, len(methods) + 1), methods, rotation=30, ha="right", fontsize=8)
    threshold = sub["threshold"].dropna()
    if len(threshold):
        ax.axhline(float(threshold.iloc[0]), color="#b00", lw=1, ls="--", label="threshold")
        ax.legend(fontsize=7, loc="best")
    ax.set_ylabel(metric, fontsize=8)
    ax.set_title(f"{metric} (n = {sub['name'].nunique()} models)", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _verdict_rows(models):
    rows = []
    columns = [c for c in models.columns if str(c).startswith("verdict|")]
    for column in sorted(columns):
        _, method, tier = column.split("|", 2)
        values = models[column].fillna("not run")
        failing = models.loc[values == "fail", "name"].tolist()
        rows.append({"method": method, "tier": tier, "passes": int((values == "pass").sum()),
                     "fails": len(failing), "not_run": int((values == "not run").sum()),
                     "failing": [html.escape(str(n)) for n in failing]})
    return rows


def render_summary(models, metrics, title="keras_iml zoo batch validation"):
    """The summary page as an HTML string.

    Args:
        models: DataFrame, one row per model (``ResultsStore.models()``).
        metrics: long DataFrame of metric rows (``ResultsStore.metrics()``).
        title: page title.
    """
    n = len(models)
    status = models["status"].value_counts().sort_index().items() if n else []
    seconds = pd.to_numeric(models.get("seconds_total", pd.Series(dtype=float)), errors="coerce")
    figures = []
    if len(metrics):
        for metric in sorted(metrics["metric"].unique()):
            figures.append((metric, _figure(metrics, metric)))
    keep = [c for c in ("name", "tf", "jaspar_id", "status", "reason", "motif_raise", "passed",
                        "seconds_total") if c in models.columns]
    table = models[keep].copy() if n else pd.DataFrame(columns=keep)
    if "reason" in table:
        table["reason"] = table["reason"].fillna("").astype(str).str.slice(0, 200)
    env = Environment(autoescape=True)
    return env.from_string(_TEMPLATE).render(
        title=title, n_models=n, status=list(status),
        total_seconds=round(float(np.nansum(seconds)), 1) if n else 0,
        median_seconds=round(float(np.nanmedian(seconds)), 2) if n and seconds.notna().any() else 0,
        verdicts=_verdict_rows(models) if n else [], figures=figures,
        models_table=_Markup(table.to_html(index=False, float_format=lambda v: f"{v:.3g}")),
    )


class _Markup(str):
    """A string Jinja2 must not escape (pandas' already-escaped table)."""

    def __html__(self):
        return str(self)


def write_summary(store, path, title="keras_iml zoo batch validation"):
    """Writes the summary HTML of a :class:`~keras_iml.zoo.results.ResultsStore`, atomically."""
    text = render_summary(store.models(), store.metrics(), title=title)

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)

    return atomic_write(path, write)
