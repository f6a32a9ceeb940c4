"""``python -m keras_iml`` runs the command-line interface."""

import sys

from keras_iml.cli import main

if __name__ == "__main__":
    sys.exit(main())
