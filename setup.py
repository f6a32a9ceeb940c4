"""Build script: the metadata is in setup.cfg; this file only names TensorFlow's distribution.

setup.cfg asks for ``tensorflow``, the distribution that Colab, GPU workstations and most
users already have, so that ``pip install`` keeps the TensorFlow it finds. The same
``tensorflow`` module is also published as ``tensorflow-cpu`` (no CUDA), and pip cannot be
told that one provides the other: a requirement on ``tensorflow`` beside an installed
``tensorflow-cpu`` fetches the full wheel and lays its files over the CPU build's.

This project's own machines have no GPU and use ``tensorflow-cpu``. ``make install`` sets
``KERAS_IML_TENSORFLOW=tensorflow-cpu`` and this script then declares that distribution in
place of ``tensorflow`` (same version range). Chosen over ``pip install --no-deps`` plus a
requirements list generated from setup.cfg because the installed metadata stays true
(``pip check`` is clean, later ``pip install`` calls resolve against it) and extras keep
going through pip's resolver. Without the variable, a build gives the published metadata
(``tensorflow``). Set it only for installs from a source tree: a wheel built with it
declares the distribution it names.
"""

import configparser
import os
import pathlib
import re

from setuptools import setup

_VARIABLE = "KERAS_IML_TENSORFLOW"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_REQUIREMENT = re.compile(r"^\s*tensorflow\s*(?=[<>=!~;\[]|$)", re.IGNORECASE)


def _install_requires(distribution):
    """setup.cfg's ``install_requires`` with ``tensorflow`` renamed ``distribution``."""
    config = configparser.ConfigParser()
    config.read(pathlib.Path(__file__).with_name("setup.cfg"), encoding="utf-8")
    lines = [line.strip() for line in config["options"]["install_requires"].splitlines()]
    requires = [line for line in lines if line and not line.startswith("#")]
    renamed = [_REQUIREMENT.sub(distribution, line) for line in requires]
    if renamed == requires and distribution.lower() != "tensorflow":
        raise ValueError(
            f"setup.cfg's install_requires has no `tensorflow` line for ${_VARIABLE} to "
            f"rename. Received: {requires}")
    return renamed


def _setup_kwargs():
    distribution = os.environ.get(_VARIABLE, "").strip()
    if not distribution:
        return {}
    if not _NAME.match(distribution):
        raise ValueError(
            f"${_VARIABLE} must be a distribution name such as tensorflow-cpu. "
            f"Received: {_VARIABLE}={distribution!r}")
    return {"install_requires": _install_requires(distribution)}


setup(**_setup_kwargs())
