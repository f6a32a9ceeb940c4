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
