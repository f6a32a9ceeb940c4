"""Interpretable distillation: readable surrogate models that expose confounders and blind spots.

:func:`distill` queries a model on designed libraries of sequences (point mutants,
dinucleotide shuffles, implanted motifs, GC and k-mer shifts, out-of-distribution
sequences), fits readable surrogates (additive PWM-like, k-mer, motif grammar, local
additive) and reports how faithfully each reproduces the model on each library.

Example:
    >>> from keras_iml import surrogate
    >>> result = surrogate.distill(model, x, motifs={"CTCF": "MA0139.2"}, seed=0)
    >>> result.fidelity
    >>> result.surrogates["kmer"].weights_.sort_values().tail()
"""

from keras_iml.surrogate import family_library, libraries, models  # family_library registers "families"
from keras_iml.surrogate.distill import DEFAULT_LIBRARIES, Distillation, distill
from keras_iml.surrogate.libraries import Library, QuerySet
from keras_iml.surrogate.models import Surrogate

__all__ = ["DEFAULT_LIBRARIES", "Distillation", "Library", "QuerySet", "Surrogate", "distill",
           "family_library", "libraries", "models"]
