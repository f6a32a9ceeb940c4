"""Self-contained HTML reports of a :class:`keras_iml.validation.ValidationReport`.

The page shows every tier over the whole dataset: a method x tier dashboard,
each metric's distribution over all sequences with its confidence interval,
cross-method agreement heatmaps, deletion/insertion curves against a random
ranking, stability, localisation at top-k %, every adverse event in a sortable
and filterable table, attribution logos of systematically chosen sequences (the
selection rule printed), discovered motifs when present, and the protocol with
the data and model hashes. Figures are embedded PNGs and the CSS/JavaScript is
inline, so the one file opens offline. The renderer only reads the report.

Example:
    >>> report = keras_iml.wrap(model).validate(x, ground_truth=mask)
    >>> keras_iml.report.render_html(report, "report.html")
"""

from keras_iml.report import arms_section, case_sections, components, distillation, metric_sections
from keras_iml.report._reading import judged, model_warnings, read_report

__all__ = ["components", "html_string", "render_html", "report_sections"]

DEFAULT_TITLE = "keras_iml validation report"


def report_sections(report):
    """Banners and sections of a report's page.

    Args:
        report: a ValidationReport (or an object with its attributes).

    Returns:
        ``(banners, sections, subtitle)``: lists of alert blocks and of
        :class:`keras_iml.report.components.Section`, and a one-line description.
    """
    parts = read_report(report)
    banners = [components.alert(f"Model warning: {w}", level="danger")
               for w in model_warnings(parts.model_info)]
    banners.extend(_outcome_banners(report, parts))
    builders = [
        metric_sections.dashboard, arms_section.controls, metric_sections.summary, metric_sections.distributions, metric_sections.agreement,
        metric_sections.faithfulness, metric_sections.stability, metric_sections.localisation,
        lambda _: distillation.section(getattr(report, "distillation", None)),
        case_sections.adverse_events, case_sections.examples, case_sections.motifs,
        case_sections.not_run, case_sections.protocol,
    ]
    page = [s for s in (build(parts) for build in builders) if s is not None]
    name = parts.model_info.get("name") or parts.provenance.get("model_name")
    n = parts.n_sequences
    subtitle = " · ".join(str(p) for p in (
        f"model {name}" if name else None,
        f"{n} sequences" if n is not None else None,
        f"methods: {', '.join(parts.methods)}" if parts.methods else None,
    ) if p)
    return banners, page, subtitle


def _outcome_banners(report, parts):
    """The banner that states what the run decided: failed, inconclusive or passed."""
    thresholded = judged(parts.summary)
    failed = int((~thresholded["passed"].astype(bool)).sum())
    outcome = getattr(report, "outcome", None)
    undecided = getattr(report, "undecided", None)
    n_undecided = 0 if undecided is None else len(undecided)
    if failed:
        return [components.alert(
            f"{failed} of {len(thresholded)} decided thresholded metric results failed (missed "
            "the threshold or did not beat placebo); see the dashboard and the adverse events.",
            level="warning")]
    if outcome == "inconclusive" or (outcome is None and not len(thresholded)):
        what = (f"{n_undecided} thresholded metric result(s) could not be decided: too few "
                "sequences were scored for a method to beat its placebo at the protocol's alpha"
                if n_undecided else "no thresholded metric result could be decided")
        return [components.alert(
            f"Inconclusive: {what}. This run is not a pass; validate more sequences.",
            level="danger")]
    if outcome == "failed":  # a distillation metric failed
        return [components.alert("A thresholded distillation metric failed; see the distillation "
                                 "section.", level="warning")]
    return [components.alert("Every thresholded metric was decided and passed.", level="ok")]


def html_string(report, title=DEFAULT_TITLE):
    """The report's page as an HTML string."""
    banners, page, subtitle = report_sections(report)
    return components.html_string(page, title=title, subtitle=subtitle, banners=banners)


def render_html(report, path, title=DEFAULT_TITLE):
    """Writes a ValidationReport as one self-contained HTML file (atomically).

    Args:
        report: a :class:`keras_iml.validation.ValidationReport` (it is only read).
        path: the output ``.html`` file.
        title: the page title.

    Returns:
        ``path``.

    Raises:
        TypeError: ``report`` is not a report.
        ValueError: one of its tables lacks a contract column.

    Example:
        >>> keras_iml.report.render_html(report, "out/report.html")
    """
    banners, page, subtitle = report_sections(report)
    return components.render_page(page, path, title=title, subtitle=subtitle, banners=banners)
