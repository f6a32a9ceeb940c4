"""In-silico saturation mutagenesis (ISM): the effect of every single-base substitution."""


import numpy as np

import keras
from keras_iml.engine import fast_paths
from keras_iml.methods import _fast_ism  # noqa: F401 - registers the receptive-field fast path
from keras_iml.methods.base import AttributionMethod, register
from keras_iml.methods.integrated_gradients import check_bool

__all__ = ["ISM"]

# Floats held per chunk of mutants (8 MB): measured on the Basset-like CNN, chunks of
# this size run faster than larger ones (they stay in the CPU caches).
_CHUNK_FLOATS = 2**21


def mutants(x):
    """The substitutions ISM makes: index arrays ``(n, i, b)`` of every mutant.

    Base ``b`` is substituted at position ``i`` of sequence ``n`` unless it is already
    there, i.e. 3 mutants at a one-hot position and 4 at an ``N`` (0.25) or all-zero
    position, where every base is a substitution.
    """
    n, i, b = np.nonzero(np.asarray(x) < 0.5)
    return n.astype(np.int32), i.astype(np.int32), b.astype(np.int32)


class GeneralISM:
    """Every mutant through the full model, in compiled chunks (any Keras model, any backend).

    Mutants are built inside the compiled function from ``x`` and index arrays, so
    ``model.predict``'s per-call overhead and the host-side copies are avoided.
    """

    def __init__(self, function, length):
        self.function = function
        # model activations per mutant are unknown; assume ~16 floats per position
        self.feature_size = length * 16
        ints = [((None,), "int32")] * 3
        self._value = function.compile(function.output, [((None, length, 4), "float32")])
        self._mutants = function.compile(self._mutants_impl,
                                         [((None, length, 4), "float32"), *ints])
        self.length = length

    def _mutants_impl(self, x, n, i, b):
        ops = keras.ops
        at = ops.expand_dims(ops.one_hot(i, self.length, dtype="float32"), -1)
        base = ops.expand_dims(ops.one_hot(b, 4, dtype="float32"), 1)
        xm = ops.take(x, n, axis=0) * (1.0 - at) + at * base
        return self.function.output(xm)

    def __call__(self, x, n, i, b, chunk):
        """Returns ``(f(x) (B,), f(mutant) (M,))`` for mutants ``(n, i, b)``."""
        x = np.asarray(x, np.float32)
        outs = [self._mutants(x, *(np.ascontiguousarray(a[s : s + chunk], np.int32) for a in (n, i, b)))
                for s in range(0, len(n), chunk)]
        return self._value(x), np.concatenate(outs) if outs else np.zeros(0, np.float32)


@register("ism")
class ISM(AttributionMethod):
    """In-silico saturation mutagenesis: all ``3·L`` single-base substitutions.

    ``values[n, i, b] = f(x_n with base b at position i) - f(x_n)``, which is 0 at the
    original base. With ``center=True`` the mean over the 4 bases is subtracted at
    each position (every position then sums to zero). ISM is defined at every base,
    so ``hypothetical`` is the same array as ``values``.

    Positions that are ``N`` (uniform 0.25) or all-zero have no original base: each
    of the 4 bases is substituted there (the column becomes one-hot), so all 4 values
    are ``f(x with base b at i) - f(x)`` and none is forced to 0.

    Speed: exact fast paths registered for the ``"ism"`` hook of
    :mod:`keras_iml.engine.fast_paths` are tried first. The built-in one (TensorFlow
    backend) serves models that are a chain of layers starting with local layers
    (Conv1D with any padding, stride or dilation; Max/AveragePooling1D;
    activations, BatchNormalization, Dropout and other position-wise layers),
    followed by any tail (GlobalMax/AveragePooling1D, Flatten, Dense, ...): only the
    window of feature maps each mutation reaches is recomputed (the fastISM idea,
    implemented natively because fastISM does not run under Keras 3 and does not
    handle GlobalMaxPooling). Model families register their own (DeepBind's scan
    re-scores only the windows a mutation touches). Other models (subclassed,
    branching, multi-input) run every mutant through the full model, in large
    compiled chunks. All paths give the same values up to float rounding;
    ``fast=False`` forces the general one.

    Args:
        center: subtract the per-position mean over the 4 bases.
        fast: use the receptive-field path when the model allows it.
        chunk_size: mutants per compiled call; None chooses it from the size of
            the feature maps (about 8 MB per chunk).

    Example:
        >>> attr = keras_iml.explain(model, x, "ism")
        >>> attr.values[0, 10]  # effect of each base at position 10 of sequence 0
    """

    order = 4
    default_options = {}

    def __init__(self, center=False, fast=True, chunk_size=None):
        self.center = center
        self.fast = fast
        self.chunk_size = chunk_size

    def check_params(self, function):  # noqa: ARG002
        check_bool(self.center, "center")
        check_bool(self.fast, "fast")
        size = self.chunk_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer))
                                 or size < 1):
            raise ValueError(
                f"`chunk_size` must be a positive int or None. Received: chunk_size={size!r}"
            )

    def runner(self, function, x):
        """The fast or general ISM pass for ``function`` at the length of ``x``.

        Runners (compiled graphs, no results) are kept in the ModelFunction's own
        memo (:meth:`~keras_iml.engine.ModelFunction.compiled`), so the batches of one
        ``explain`` call, and later calls through the same wrapper, reuse them.
        """
        length, fast = int(x.shape[1]), bool(self.fast)

        def build():
            runner = None
            if fast:
                _, runner = fast_paths.first("ism", function, length, x[:2])
            return runner or GeneralISM(function, length)

        return function.compiled(("keras_iml.ism", length, fast), build)

    def attribute(self, function, x, rngs):  # noqa: ARG002 - deterministic
        x = np.asarray(x, np.float32)
        n, i, b = mutants(x)
        runner = self.runner(function, x)
        chunk = self.chunk_size or int(np.clip(_CHUNK_FLOATS // runner.feature_size, 16, 4096))
        if self.chunk_size is None:  # and never more than the memory budget allows
            chunk = function.rows_per_call(None, x.shape[1], upper=chunk, passes=1)
        f0, fm = runner(x, n, i, b, chunk)
        values = np.zeros(x.shape, np.float32)
        values[n, i, b] = fm - f0[n]
        if self.center:
            values -= values.mean(axis=-1, keepdims=True)
        return {"values": values, "hypothetical": values}
