"""``keras-iml report RESULTS --out report.html``: the HTML report of a saved validation."""

import os


def add_parser(subparsers):
    p = subparsers.add_parser(
        "report",
        help="self-contained HTML report of a validation (report.json)",
        description="Renders a report.json written by ValidationReport.to_json (or a "
                    "directory holding one) as one self-contained HTML file.",
    )
    p.add_argument("results", help="report.json from ValidationReport.to_json, or its directory")
    p.add_argument("--out", default="report.html", help="output HTML file")
    p.add_argument("--title", default=None, help="page title")
    p.set_defaults(func=run)


def run(args):
    from keras_iml import io

    io.check_writable(args.out)  # before any work
    from keras_iml.report import DEFAULT_TITLE, render_html
    from keras_iml.validation import ValidationReport

    path = args.results
    if os.path.isdir(path):
        path = os.path.join(path, "report.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"No validation results at {path!r}. Received: RESULTS={args.results!r}")
    report = ValidationReport.from_json(path)
    render_html(report, args.out, title=args.title or DEFAULT_TITLE)
    print(f"Wrote {args.out}")
    return 0
