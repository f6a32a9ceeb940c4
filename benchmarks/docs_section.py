"""Writes a benchmark's generated section into docs/benchmarks.md and its results JSON.

Each benchmark renders its section from its own results file and keeps it between
two markers of its own, so re-running one never touches another's numbers. Nothing
here imports TensorFlow (it would inflate the children's peak-RSS figures).
"""

import json
import os

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                   "benchmarks.md")


def _replace(path, text):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_section(section, begin, end, doc=DOC):
    """Puts ``section`` (which starts with ``begin`` and ends with ``end``) in place
    of the text between those markers in ``doc``, or appends it."""
    with open(doc) as fh:
        text = fh.read()
    if begin in text and end in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    _replace(doc, text)


def write_json(path, results):
    """Writes ``results`` to ``path`` atomically."""
    _replace(path, json.dumps(results, indent=1))


def run_or_render(doc_only, results_path, run, write_doc):
    """A benchmark's ``main``: with ``doc_only``, its section rewritten from its results
    file; otherwise ``run()``, its results written, then its section. Returns 0."""
    if doc_only:
        with open(results_path) as fh:
            write_doc(json.load(fh))
        return 0
    results = run()
    write_json(results_path, results)
    write_doc(results)
    return 0
