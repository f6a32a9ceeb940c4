"""The ``keras-iml`` command line.

Each subcommand lives in its own module of this package and exposes
``add_parser(subparsers)``, which registers an argparse sub-parser whose
``func(args) -> int`` runs it. Modules are listed in ``SUBCOMMANDS``. They import
TensorFlow only inside ``func``, so ``keras-iml --help`` answers at once.

Exit codes (each means one thing, :data:`EXIT_CODES`):

* 0: done (``validate``: every thresholded result decided and passed);
* 1: ``validate``: a decided threshold failed (a method missed it or did not beat
  its placebo);
* 2: bad input or arguments, found before any work (nothing computed);
* 3: ``validate``: inconclusive, the evidence too weak to decide (too few sequences
  scored to beat placebo); never a pass;
* 4: the results could not be written where asked; they were saved elsewhere
  (the path is printed), so nothing computed is lost;
* 5: an unexpected error (a bug: the traceback is printed; please report it);
* 130: interrupted (Ctrl-C).
"""

import argparse
import importlib
import os
import sys
import traceback

SUBCOMMANDS = ("explain", "report", "validate", "demo", "zoo")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INCONCLUSIVE, EXIT_NOT_WRITTEN, EXIT_BUG = 0, 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130

#: exit code -> its one meaning
EXIT_CODES = {
    EXIT_OK: "done (validate: every thresholded result decided and passed)",
    EXIT_FAILED: "validate: a decided threshold failed",
    EXIT_USAGE: "bad input or arguments, found before any work",
    EXIT_INCONCLUSIVE: "validate: inconclusive, the evidence too weak to decide (never a pass)",
    EXIT_NOT_WRITTEN: "the results could not be written where asked; saved elsewhere (path printed)",
    EXIT_BUG: "an unexpected error (a bug: traceback printed)",
    EXIT_INTERRUPTED: "interrupted",
}


class NotWritten(Exception):
    """The results could not be written where asked; they were saved at ``rescued``."""

    def __init__(self, message, rescued):
        super().__init__(message)
        self.rescued = rescued


def _epilog():
    return "exit codes:\n" + "\n".join(f"  {code:<4} {text}" for code, text in EXIT_CODES.items())


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-iml",
        description="Rigorous interpretability for Keras genomics models.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from keras_iml.version import __version__

    parser.add_argument("--version", action="version", version=f"keras-iml {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"keras_iml.cli.{name}").add_parser(sub)
    return parser


def _quiet_tensorflow():
    # The command line is an application: TensorFlow's C++ start-up notices and its
    # "triggered tf.function retracing" warnings are noise here (set
    # TF_CPP_MIN_LOG_LEVEL yourself to see them). The library leaves them alone.
    # Nothing is imported here: TensorFlow reads these when (and if) it loads.
    import logging

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # tf.get_logger()


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        _quiet_tensorflow()
        return int(args.func(args) or 0)
    except NotWritten as err:
        print(f"keras-iml {args.command}: error: {err}", file=sys.stderr)
        return EXIT_NOT_WRITTEN
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"keras-iml {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"keras-iml {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:  # noqa: BLE001 - any other error is a bug: say so, with its own code
        traceback.print_exc()
        print(f"keras-iml {args.command}: unexpected error (exit {EXIT_BUG}); please report it "
              "with the traceback above.", file=sys.stderr)
        return EXIT_BUG


def write_or_rescue(path, write, what="results"):
    """``write(path)``; if that fails, ``write`` into a fresh temporary folder instead.

    Args:
        path: where the user asked for the output (a file or a folder).
        write: a function of one path that writes the output there.
        what: words for the message.

    Returns:
        ``path``.

    Raises:
        NotWritten: ``path`` could not be written; the message names the error and
            where the output was saved instead.
    """
    try:
        write(path)
        return path
    except OSError as err:
        import tempfile

        rescue_dir = tempfile.mkdtemp(prefix="keras-iml-rescued-")
        rescued = os.path.join(rescue_dir, os.path.basename(os.path.normpath(path)) or "out")
        write(rescued)
        raise NotWritten(f"could not write the {what} to {path!r} ({err}); they were saved to "
                         f"{rescued!r} instead", rescued) from err


def load_model(path, name="MODEL"):
    """A ``.keras`` file as a model, keras_iml's own saved classes included: a wrapped
    model (``IMLModel``, with its metadata, e.g. a zoo model's class names) reads back
    as itself, because their modules are imported (and so registered with Keras) first.

    Raises:
        FileNotFoundError, ValueError: see :func:`keras_iml.io.load_model`.
    """
    import keras_iml.wrapper  # noqa: F401 - registers IMLModel
    import keras_iml.zoo.load  # noqa: F401 - registers ZooModel
    from keras_iml import io

    return io.load_model(path, name=name)
