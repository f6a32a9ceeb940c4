"""From attributions to biology: TF-MoDISco patterns matched to known motifs.

``discover`` runs TF-MoDISco (tfmodisco-lite) on hypothetical contributions and
compares every pattern with JASPAR (pyjaspar's bundled releases, offline) using
memelite's TOMTOM; ``motif_recovery`` turns the patterns of several attribution
methods into the Tier-3 "motif recovery" result: which expected motifs each
method recovers and which patterns match a decoy or nothing known.

Motif data lives in one place each: :mod:`~keras_iml.motifs.pfm` validates
position frequency matrices and derives log-odds matrices from them,
:mod:`~keras_iml.motifs.jaspar` reads JASPAR and :mod:`~keras_iml.motifs.meme`
reads and writes MEME files; the datasets and PWM models use them too.

Example:
    >>> from keras_iml import motifs
    >>> db = motifs.load_jaspar()                      # build once, reuse
    >>> patterns = motifs.discover(attr, database=db, expected=["MA0139"])
    >>> motifs.write_patterns_meme(patterns, "patterns.meme")
"""

from keras_iml.motifs.database import MotifDatabase
from keras_iml.motifs.discover import PATTERN_COLUMNS, discover
from keras_iml.motifs.jaspar import (
    fetch_jaspar_motif, fetch_jaspar_motifs, jaspar_releases, load_jaspar,
)
from keras_iml.motifs.match import match
from keras_iml.motifs.meme import read_meme, write_meme, write_patterns_meme
from keras_iml.motifs.pfm import as_pfm, information_content, log_odds
from keras_iml.motifs.recovery import MotifRecovery, motif_recovery
from keras_iml.motifs.resolve import load_database
from keras_iml.motifs.tomtom import tomtom

__all__ = [
    "MotifDatabase",
    "MotifRecovery",
    "PATTERN_COLUMNS",
    "as_pfm",
    "discover",
    "fetch_jaspar_motif",
    "fetch_jaspar_motifs",
    "information_content",
    "jaspar_releases",
    "load_database",
    "load_jaspar",
    "log_odds",
    "match",
    "motif_recovery",
    "read_meme",
    "tomtom",
    "write_meme",
    "write_patterns_meme",
]
