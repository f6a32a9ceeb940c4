"""Synthetic ground-truth benchmarks: TF binding with real JASPAR motifs, and splicing.

Example:
    >>> from keras_iml import datasets
    >>> data = datasets.make_tf_binding(n=1000, length=200, seed=0)
    >>> data.x.shape, data.y.mean()
    ((1000, 200, 4), 0.5)
    >>> data.instances.head()
"""

from keras_iml.datasets.motif import Motif, as_motif, load_motif, load_motifs
from keras_iml.datasets.planting import plant_site, sample_site
from keras_iml.datasets.splicing import SplicingData, make_splicing
from keras_iml.datasets.tf_binding import TFBindingData, make_tf_binding

__all__ = ["Motif", "SplicingData", "TFBindingData", "as_motif", "load_motif", "load_motifs",
           "make_splicing", "make_tf_binding", "plant_site", "sample_site"]
