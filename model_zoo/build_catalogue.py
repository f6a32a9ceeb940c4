"""Builds model_zoo/catalogue.tsv from the shared zoo files and pyjaspar (offline).

Usage (from the repository root):

    .venv/bin/python model_zoo/build_catalogue.py [--shared ../shared] [--out model_zoo]

Every registered zoo family lists its own models (``Family.catalogue_rows``): DeepBind
reads its index (``zoo/deepbind/db.tsv``) and parameter files (md5, variant) and
measures whether each TF's JASPAR consensus raises its score (about 1 min); the
Kipoi-described families read their specifications in ``zoo/kipoi-models`` and
``zoo/weights/MANIFEST.tsv``. TF names map to JASPAR motifs with pyjaspar's bundled
database (by name, then through ``keras_iml.zoo.catalogue.ALIASES``). A new family is
listed by declaring its ``catalogue_models`` (or ``catalogue_rows``): nothing here is
edited. Only the small TSV it writes is committed; nothing from ../shared is copied.
"""

import argparse
import os
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from keras_iml.zoo import catalogue  # noqa: E402
from keras_iml.zoo.families import REGISTRY  # noqa: E402


def catalogue_rows(shared, jaspar_db, families=None):
    """The rows of ``families`` (default: every registered family, in registration order)."""
    families = [family for _, family in REGISTRY.ordered()] if families is None else families
    return [row for family in families for row in family.catalogue_rows(shared, jaspar_db)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=os.environ.get("KERAS_IML_SHARED", REPO.parent / "shared"))
    parser.add_argument("--out", default=REPO / "model_zoo")
    args = parser.parse_args(argv)
    from pyjaspar import jaspardb

    jdb = jaspardb()
    rows = catalogue_rows(pathlib.Path(args.shared), jdb)
    path = pathlib.Path(args.out) / "catalogue.tsv"
    catalogue.write_catalogue(rows, path, jaspar_release=jdb.release)
    print(f"Wrote {len(rows)} models to {path} (JASPAR release {jdb.release})")


if __name__ == "__main__":
    main()
