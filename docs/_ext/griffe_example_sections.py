"""Griffe extension for the API pages: reads keras_iml's docstrings as written.

- keras_iml's Google-style docstrings title their doctest block ``Example:``;
  griffe only knows the plural and would render the block as an admonition of
  plain text (where ``x["a"][:1]`` even reads as a Markdown reference link).
- Sphinx roles such as ``:class:`Attributions``` become plain code spans
  (Markdown has no roles; a role's colon also confuses the Returns parser).
"""

import re

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)
_ROLE = re.compile(r":(?:class|func|mod|meth|attr|data|obj|exc|const):`~?([^`]+)`")


class ExampleSections(griffe.Extension):
    """Rewrites ``Example:`` to ``Examples:`` and Sphinx roles to code spans on load."""

    def on_instance(self, *, obj, **kwargs):  # noqa: ARG002 - griffe hook signature
        if obj.docstring is not None:
            text = _EXAMPLE.sub(r"\1Examples:", obj.docstring.value)
            obj.docstring.value = _ROLE.sub(r"`\1`", text)
