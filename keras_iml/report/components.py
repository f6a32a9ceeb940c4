"""Building blocks of keras_iml's self-contained HTML pages.

A page is a list of :class:`Section` objects, each holding blocks (plain dicts
made by the functions below: text, alerts, figures, tables, data tables, code,
grids and cards). :func:`render_page` renders them with the Jinja2 template
``keras_iml/templates/page.html.j2`` (autoescaped), inlines the CSS and
JavaScript and embeds every figure as a base64 PNG, so the file opens offline
and loads nothing from the network (its Content-Security-Policy forbids it).
The validation report (:func:`keras_iml.report.render_html`) and the zoo
summary page use the same blocks.

Example:
    >>> from keras_iml.report import components as c
    >>> page = [c.Section("intro", "Introduction", [c.text("Hello"), c.table(df)])]
    >>> c.render_page(page, "page.html", title="My page")
"""

import base64
import dataclasses
import datetime
import io
import json
import math
import sys
from importlib import resources

import numpy as np
import pandas as pd

__all__ = [
    "Section", "alert", "card", "code", "datatable", "figure", "figure_uri", "format_value",
    "grid", "html_string", "render_page", "table", "text",
]

#: Cell values that get a pass / fail / neutral colour in tables.
STATUS_CLASSES = {
    "pass": "pass", "passed": "pass", "true": "pass", "ok": "pass",
    "fail": "fail", "failed": "fail", "false": "fail",
    "not run": "na", "nan": "na", "none": "na", "": "na",
    "found": "fail", "not found": "pass",  # a finding (confounder, blind spot) is bad news
}


@dataclasses.dataclass
class Section:
    """One section of a page: an anchor id, a heading, blocks and an optional note."""

    id: str
    title: str
    blocks: list
    note: str = ""


def format_value(value, digits=3):
    """A short display string for a table cell (numbers to ``digits`` significant digits)."""
    if value is None:
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            return "—"
        if value != 0 and (abs(value) >= 10**5 or abs(value) < 10**-3):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}"
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    if isinstance(value, (list, tuple, np.ndarray)):
        if np.ndim(value) == 1 and len(value) <= 20:
            return "[" + ", ".join(format_value(v, digits) for v in value) + "]"
        return f"<array {np.shape(value)}>"
    return str(value)


def _status(value):
    return STATUS_CLASSES.get(format_value(value).strip().lower())


def text(content, *, muted=False):
    """A paragraph of (escaped) text."""
    return {"kind": "text", "text": str(content), "muted": muted}


def alert(content, *, level="warning"):
    """A prominent banner; ``level`` is ``"warning"``, ``"danger"``, ``"ok"`` or ``"info"``."""
    return {"kind": "alert", "text": str(content), "level": level}


def code(content):
    """Preformatted text (protocols, configurations)."""
    return {"kind": "code", "text": str(content)}


def figure_uri(fig, dpi=96, tight=True):
    """Renders a matplotlib figure to a ``data:image/png;base64`` URI and closes it.

    ``tight=False`` keeps the figure's own margins (faster for many-glyph logos).
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None and getattr(fig.canvas, "manager", None) is not None:
        pyplot.close(fig)  # a pyplot figure (e.g. from a notebook); ours need no closing
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def figure(fig, caption="", *, alt=None):
    """A figure block from a matplotlib figure (embedded as PNG) or a data URI."""
    src = fig if isinstance(fig, str) else figure_uri(fig)
    if not src.startswith("data:image/"):
        raise ValueError(
            "`fig` must be a matplotlib figure or a data:image URI (pages load nothing "
            f"from elsewhere). Received: fig={src[:40]!r}"
        )
    return {"kind": "figure", "src": src, "caption": str(caption), "alt": alt or str(caption)}


def table(frame, *, caption="", index=False, max_rows=None, css=""):
    """A static table (sortable by clicking a header) from a DataFrame.

    Cells reading pass / fail / not run are coloured.
    """
    frame = pd.DataFrame(frame)
    if index:
        frame = frame.reset_index()
    shown = frame if max_rows is None else frame.head(max_rows)
    rows = [
        [{"text": format_value(v), "status": _status(v), "sort": _sort_key(v)} for v in row]
        for row in shown.itertuples(index=False, name=None)
    ]
    note = ""
    if max_rows is not None and len(frame) > max_rows:
        note = f"showing {max_rows} of {len(frame)} rows"
    return {"kind": "table", "columns": [str(c) for c in frame.columns], "rows": rows,
            "caption": str(caption), "note": note, "css": str(css)}


def _sort_key(value):
    if isinstance(value, (bool, np.bool_)):
        return ""
    if isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value):
        return repr(float(value))
    return ""


def datatable(frame, table_id, *, caption="", page_size=50):
    """A large table rendered in the browser: sortable, filterable, paginated.

    The rows travel as JSON inside the page (every row is kept).
    """
    frame = pd.DataFrame(frame)
    records = [
        [_json_cell(v) for v in row] for row in frame.itertuples(index=False, name=None)
    ]
    filters = [
        str(c) for c in frame.columns
        if not pd.api.types.is_numeric_dtype(frame[c]) and 1 < frame[c].nunique(dropna=True) <= 60
    ]
    payload = {"columns": [str(c) for c in frame.columns], "rows": records,
               "filters": filters, "page_size": int(page_size)}
    return {"kind": "datatable", "id": str(table_id), "caption": str(caption),
            "json": _safe_json(payload), "n": len(frame)}


def _json_cell(value):
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _safe_json(payload):
    """JSON that cannot close its ``<script>`` element."""
    return (json.dumps(payload, allow_nan=False)
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def grid(blocks, *, columns=2):
    """Blocks laid side by side (``columns`` per row; wraps on narrow screens)."""
    return {"kind": "grid", "blocks": list(blocks), "columns": int(columns)}


def card(title, blocks, *, subtitle=""):
    """A titled box of blocks (e.g. one example sequence)."""
    return {"kind": "card", "title": str(title), "subtitle": str(subtitle),
            "blocks": list(blocks)}


def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("keras_iml", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _asset(name):
    return resources.files("keras_iml").joinpath("templates", name).read_text(encoding="utf-8")


def html_string(sections, *, title, subtitle="", banners=()):
    """The page as an HTML string (see :func:`render_page`)."""
    import markupsafe

    for section in sections:
        if not isinstance(section, Section):
            raise TypeError(
                f"`sections` must hold Section objects. Received: {type(section).__name__}"
            )
    template = _environment().get_template("page.html.j2")
    return template.render(
        title=str(title), subtitle=str(subtitle), sections=list(sections),
        banners=list(banners),
        css=markupsafe.Markup(_asset("report.css")), js=markupsafe.Markup(_asset("report.js")),
        generated=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def render_page(sections, path, *, title, subtitle="", banners=()):
    """Writes a self-contained HTML page atomically and returns its path.

    Args:
        sections: list of :class:`Section`.
        path: output ``.html`` file.
        title: page title.
        subtitle: a line under the title.
        banners: alert blocks shown above the table of contents.

    Returns:
        ``path``.
    """
    from keras_iml.io import atomic_write

    page = html_string(sections, title=title, subtitle=subtitle, banners=banners)

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(page)

    return atomic_write(path, write)
