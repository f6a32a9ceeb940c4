"""The shallow base class of attribution methods and the method registry."""

import numpy as np

from keras_iml.engine import backend as backend_lib
from keras_iml.registry import Configurable, Registry

__all__ = ["AttributionMethod", "REGISTRY", "register", "get", "names", "serialize",
           "hypothetical_from_multipliers"]


class AttributionMethod(Configurable):
    """Base of every attribution method.

    A subclass's ``__init__`` takes explicit keyword parameters and only stores them
    under the same names (scikit-learn style): that is what ``get_config`` reads.
    Parameter values are checked in ``check_params``, which the engine calls before
    running. ``attribute`` does the work for one batch.

    Declared hooks (class attributes or methods a subclass overrides; the engine and
    the metrics read them, never guess):

    * ``stochastic``: True when the method draws random numbers (references,
      noise); it then draws only from the per-sequence generators it is given,
      which are keyed by each sequence (:mod:`keras_iml.engine.seeds`).
    * ``multiplies_input``: True for reference-based methods whose attribution is
      ``(x - r) * m``; the engine puts their per-position sums on the observed bases
      (:func:`keras_iml.explainer.project`), and SmoothGrad multiplies their
      averaged hypothetical contributions by the clean input.
    * ``backends``: the Keras backends the method runs on (None: every backend).
    * ``control``: True for a control map (the ``placebo``), not an explanation: the
      validation runs it as a control arm, and the demo does not list it as a method.
    * ``default_options``: the method's options in :meth:`Protocol.default` (None:
      not part of it); ``quick_options`` likewise for :meth:`Protocol.quick`.
    * ``order``: its place among a default protocol's methods (the first is the one
      the randomised-model arm re-runs; ties by name).
    * ``attributes_aux``: True when the method also attributes a model's auxiliary
      (non-DNA) inputs through :meth:`attribute_aux` (``explain(...,
      attribute_aux=True)``; the gradient methods).
    * :meth:`per_sequence_options`: options holding one entry per sequence.
    * :meth:`alternatives`: other settings of the method's arbitrary choices, which
      the hyper-parameter sensitivity metric compares with the configured one.
    """

    stochastic = False
    multiplies_input = False
    backends = None
    control = False
    default_options = None
    quick_options = None
    order = 100
    attributes_aux = False

    def per_sequence_options(self):
        """Names of options that hold one entry per sequence (along their first axis).

        The engine gives each batch a copy of the method with those options cut to
        the batch's rows (:meth:`for_rows`), so per-sequence arrays (e.g. one baseline
        per sequence) work with any ``batch_size`` and on any subsample. None by default.
        """
        return ()

    def for_rows(self, index, n_total=None):
        """A copy with the per-sequence options cut to the sequences ``index``.

        Args:
            index: indices of the sequences (into the data the options describe).
            n_total: number of sequences in that data when known; an option array
                of another length is left for the method to refuse (its error names
                the option).
        """
        names = self.per_sequence_options()
        if not names:
            return self
        index = np.asarray(index)
        config = self.get_config()
        cut = {}
        for name in names:
            arr = np.asarray(config[name])
            if n_total is not None and (arr.shape[0] != n_total or (
                    len(index) == n_total and np.array_equal(index, np.arange(n_total)))):
                continue
            if len(index) and index.max() >= arr.shape[0]:
                raise ValueError(
                    f"`{name}` holds {arr.shape[0]} per-sequence entries, too few for sequence "
                    f"{int(index.max())}. Received: {name}.shape={arr.shape}"
                )
            cut[name] = arr[index]
        return type(self).from_config({**config, **cut}) if cut else self

    def alternatives(self):
        """Option dicts of other reasonable settings of the method's arbitrary choices.

        Each is merged over the configured options by the ``hyperparameter_sensitivity``
        metric, which compares the attributions under them with the configured ones.
        None (the default) says the method has no such choice.
        """
        return []

    def check_backend(self):
        """Raises ValueError when Keras runs on a backend the method does not support."""
        if self.backends is not None:
            backend_lib.require(tuple(self.backends), f"The {self.name!r} method")

    def check_params(self, function):  # noqa: ARG002 - hook
        """Raises ValueError for invalid parameter values. ``function`` is the ModelFunction."""

    def attribute(self, function, x, rngs):
        """Attributions for one batch.

        Args:
            function: a :class:`keras_iml.engine.ModelFunction`.
            x: float32 one-hot batch ``(B, L, 4)``.
            rngs: one ``numpy.random.Generator`` per sequence of the batch.

        Returns:
            dict with ``"values"`` ``(B, L, 4)`` and optionally ``"hypothetical"``
            ``(B, L, 4)`` and ``"convergence_delta"`` ``(B,)``.
        """
        raise NotImplementedError

    def attribute_aux(self, function, x, aux):  # noqa: ARG002 - hook
        """Attributions of the auxiliary inputs for one batch (methods with ``attributes_aux``).

        Args:
            function: the :class:`keras_iml.engine.ModelFunction`, with ``aux`` bound.
            x: float32 one-hot batch ``(B, L, 4)``, held fixed.
            aux: the auxiliary values of the batch, one float32 array per auxiliary
                input (in ``function.aux_names`` order), each with ``B`` rows.

        Returns:
            A list of arrays shaped like ``aux``.
        """
        raise NotImplementedError(f"The {self.name!r} method does not attribute auxiliary inputs.")


def hypothetical_from_multipliers(multipliers, reference):
    """Hypothetical contributions from per-base multipliers and a reference.

    For a method whose attribution is ``(x - r) * m``, the contribution that base
    ``b`` would make at position ``i`` is ``sum_c (e_b - r)[i, c] * m[i, c]``
    ``= m[i, b] - sum_c r[i, c] * m[i, c]``. With ``x`` one-hot this satisfies
    ``values == hypothetical * x``.

    Args:
        multipliers: ``(B, L, 4)``.
        reference: ``(B, L, 4)`` (broadcastable), or None for a zero reference.
    """
    if reference is None:
        return multipliers
    return multipliers - np.sum(reference * multipliers, axis=-1, keepdims=True)


REGISTRY = Registry("method", AttributionMethod)

#: Class decorator adding an attribution method to the registry (see
#: :meth:`keras_iml.registry.Registry.register`).
register = REGISTRY.register
#: Sorted names of every registered method.
names = REGISTRY.names
#: A method instance from a name, a config dict, a class or an instance.
get = REGISTRY.get
#: ``{"class_name": name, "config": {...}}`` of a method instance.
serialize = REGISTRY.serialize
