"""The version of keras_iml (one place, read by the package, the CLI and report provenance)."""

__version__ = "0.1.0"
