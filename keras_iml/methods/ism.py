"""In-silico saturation mutagenesis (ISM): the effect of every single-base substitution."""


import numpy as np
import tensorflow as tf

from keras_iml.methods import _fast_ism
from keras_iml.methods.base import AttributionMethod, register

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
    """Every mutant through the full model, in compiled chunks (any Keras model).

    Mutants are built inside the ``tf.function`` from ``x`` and index arrays, so
    ``model.predict``'s per-call overhead and the host-side copies are avoided.
    """

    def __init__(self, function, length):
        self.function = function
        # model activations per mutant are unknown; assume ~16 floats per position
        self.feature_size = length * 16
        x_spec = tf.TensorSpec([None, length, 4], tf.float32)
        ints = [tf.TensorSpec([None], tf.int32)] * 3
        self._value = tf.function(self._value_impl, input_signature=[x_spec])
        self._mutants = tf.function(self._mutants_impl, input_signature=[x_spec, *ints])

    def _value_impl(self, x):
        return self.function.select(self.function.raw_call(x))

    def _mutants_impl(self, x, n, i, b):
        at = tf.one_hot(i, tf.shape(x)[1], dtype=tf.float32)[..., None]
        base = tf.one_hot(b, 4, dtype=tf.float32)[:, None, :]
        xm = tf.gather(x, n) * (1.0 - at) + at * base
        return self._value_impl(xm)

    def __call__(self, x, n, i, b, chunk):
        """Returns ``(f(x) (B,), f(mutant) (M,))`` for mutants ``(n, i, b)``."""
        x = tf.convert_to_tensor(x, tf.float32)
        outs = [
            self._mutants(x, *(tf.constant(a[s : s + chunk], tf.int32) for a in (n, i, b))).numpy()
            for s in range(0, len(n), chunk)
        ]
        return self._value(x).numpy(), np.concatenate(outs) if outs else np.zeros(0, np.float32)


class LayerISM:
    """ISM through a layer's own substitution scorer, for a model that is that one layer.

    A layer may provide ``iml_substitution_outputs(x)``: its outputs for the 3
    substitutions at every position of one-hot ``x`` ``(B, L, 4)``, as rows in
    (sequence, position, r) order where substitution ``r`` puts base
    ``(original + r + 1) % 4`` — computed faster than running every mutant through
    it (e.g. :class:`keras_iml.zoo.deepbind.DeepBindScan` re-scores only the windows
    a mutation touches). Batches with ``N`` or all-zero positions (4 substitutions
    there) use the general path.
    """

    #: sequences per compiled call (the scorer's intermediates grow with L^2)
    sequences_per_call = 1

    def __init__(self, function, layer, length):
        self.function, self.layer = function, layer
        self.feature_size = length * 16
        spec = [tf.TensorSpec([None, length, 4], tf.float32)]
        self._general = GeneralISM(function, length)
        self._substitutions = tf.function(
            lambda x: function.select(layer.iml_substitution_outputs(x)), input_signature=spec)

    @classmethod
    def build(cls, function, length):
        """A LayerISM when the model is one layer with the hook (and no logit), else None."""
        if function.logit:
            return None
        layers = _fast_ism.chain_layers(function.model)
        if not layers or len(layers) != 1 or not hasattr(layers[0], "iml_substitution_outputs"):
            return None
        return cls(function, layers[0], length)

    def __call__(self, x, n, i, b, chunk):
        """Returns ``(f(x) (B,), f(mutant) (M,))`` for mutants ``(n, i, b)``."""
        x = np.asarray(x, np.float32)
        if len(n) != 3 * x.shape[0] * x.shape[1]:
            return self._general(x, n, i, b, chunk)
        step = self.sequences_per_call
        subs = np.concatenate([
            self._substitutions(tf.constant(x[s : s + step])).numpy().reshape(-1, x.shape[1], 3)
            for s in range(0, len(x), step)])
        r = (b - x.argmax(-1)[n, i]) % 4 - 1
        return self._general._value(tf.constant(x)).numpy(), subs[n, i, r]


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

    Speed: for models that are a chain of layers starting with local layers
    (Conv1D with any padding, stride or dilation; Max/AveragePooling1D;
    activations, BatchNormalization, Dropout and other position-wise layers),
    followed by any tail (GlobalMax/AveragePooling1D, Flatten, Dense, ...), only the
    window of feature maps each mutation reaches is recomputed (the fastISM idea,
    implemented natively because fastISM does not run under Keras 3 and does not
    handle GlobalMaxPooling). Other models (subclassed, branching, multi-input)
    run every mutant through the full model, in large compiled chunks, unless the
    model is one layer that scores its own substitutions (see :class:`LayerISM`;
    DeepBind models do). All paths give the same values up to float rounding;
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

    def __init__(self, center=False, fast=True, chunk_size=None):
        self.center = center
        self.fast = fast
        self.chunk_size = chunk_size

    def check_params(self, function):  # noqa: ARG002
        for name in ("center", "fast"):
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"`{name}` must be True or False. Received: {name}={value!r}")
        size = self.chunk_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer))
                                 or size < 1):
            raise ValueError(
                f"`chunk_size` must be a positive int or None. Received: chunk_size={size!r}"
            )

    def runner(self, function, x):
        """The fast or general ISM pass for ``function`` at the length of ``x``.

        Runners (compiled graphs, no results) are kept in the ModelFunction's own
        memo (:meth:`~keras_iml.targets.ModelFunction.compiled`), so the batches of one
        ``explain`` call, and later calls through the same wrapper, reuse them.
        """
        length, fast = int(x.shape[1]), bool(self.fast)

        def build():
            runner = None
            if fast:
                runner = _fast_ism.build(function, length, example=x[:2]) or LayerISM.build(function, length)
            return runner or GeneralISM(function, length)

        return function.compiled(("keras_iml.ism", length, fast), build)

    def attribute(self, function, x, rngs):  # noqa: ARG002 - deterministic
        x = np.asarray(x, np.float32)
        n, i, b = mutants(x)
        runner = self.runner(function, x)
        chunk = self.chunk_size or int(np.clip(_CHUNK_FLOATS // runner.feature_size, 16, 4096))
        f0, fm = runner(x, n, i, b, chunk)
        values = np.zeros(x.shape, np.float32)
        values[n, i, b] = fm - f0[n]
        if self.center:
            values -= values.mean(axis=-1, keepdims=True)
        return {"values": values, "hypothetical": values.copy()}
