"""Small Keras models for DNA, a seeded trainer with early stopping, and held-out metrics.

Example:
    >>> from functools import partial
    >>> from keras_iml import models
    >>> model = models.basset_like(200, seed=0)
    >>> history = models.train(model, x_train, y_train, seed=0)
    >>> models.evaluate(model, x_test, y_test)
    {'auroc': ..., 'auprc': ..., 'n': ..., 'n_positive': ...}
"""

from keras_iml.models.builders import basset_like, deepbind_like
from keras_iml.models.evaluation import auprc, auroc, evaluate
from keras_iml.models.training import train, train_ensemble

__all__ = ["auprc", "auroc", "basset_like", "deepbind_like", "evaluate", "train", "train_ensemble"]
