"""The ``keras-iml`` command line.

Each subcommand lives in its own module of this package and exposes
``add_parser(subparsers)``, which registers an argparse sub-parser whose
``func(args) -> int`` runs it. Modules are listed in ``SUBCOMMANDS``.
"""

import argparse
import importlib
import sys

SUBCOMMANDS = ("explain", "report", "validate", "demo", "zoo")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-iml",
        description="Rigorous interpretability for Keras genomics models.",
    )
    from keras_iml.version import __version__

    parser.add_argument("--version", action="version", version=f"keras-iml {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"keras_iml.cli.{name}").add_parser(sub)
    return parser


def main(argv=None):
    import tensorflow as tf

    # The command line is an application: TensorFlow's "triggered tf.function
    # retracing" notices (one trace per compiled model function, by design) are noise
    # here. The library itself leaves TensorFlow's logger alone.
    tf.get_logger().setLevel("ERROR")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"keras-iml {args.command}: error: {err}", file=sys.stderr)
        return 2
