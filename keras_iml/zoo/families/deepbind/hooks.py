"""DeepBind's fast paths, registered with :mod:`keras_iml.engine.fast_paths`.

A DeepBind model is one :class:`~keras_iml.zoo.families.deepbind.scan.DeepBindScan` layer,
which knows more about its own computation than the generic paths can see:

* ``"deepbind_window_envelope"`` (hook ``path_gradients``, priority 20): integrated
  gradients follow each window's few maximal lines along the path
  (:mod:`keras_iml.zoo.families.deepbind.envelope`), 3-4x faster than the affine
  split.
* ``"deepbind_affine_split"`` (``path_gradients``, priority 10): the window scan's
  N-padded convolution is affine in the input, so the steps interpolate it (1.4x).
* ``"deepbind_windows"`` (hook ``ism``, priority 10): ISM re-scores only the windows
  a mutation touches (:mod:`keras_iml.zoo.families.deepbind.mutagenesis`).
* ``"deepbind_scale"`` (hook ``activation_scale``): the scan has ~37 activation
  positions per base at 101 bp, which chooses DeepLIFT's XLA-fused rules.

Each is checked on a probe to reproduce the model before it is used, and the
generic path remains the reference they are tested against. The TensorFlow-only
ones return None on other Keras backends (the generic paths run there).
"""

import numpy as np
import tensorflow as tf

import keras

from keras_iml.engine import backend as backend_lib
from keras_iml.engine import fast_paths
from keras_iml.methods.integrated_gradients import path_signature, reproduces, split_path_function
from keras_iml.methods.ism import GeneralISM
from keras_iml.zoo.families.deepbind.envelope import max_path_gradients
from keras_iml.zoo.families.deepbind.scan import DeepBindScan

__all__ = ["EnvelopePath", "LayerISM"]


def _example(rng, length=40):
    """``(model, x)``: a small DeepBind scan (8 detectors of 6 bp, a hidden layer, both
    strands) with seeded weights, and one-hot DNA: the ``example`` of every plugin here."""
    inputs = keras.Input((length, 4), name="seq")
    layer = DeepBindScan(num_detectors=8, detector_len=6, num_hidden=4, reverse_complement=True,
                         name="deepbind")
    model = keras.Model(inputs, layer(inputs), name="deepbind_example")
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    x = np.eye(4, dtype="float32")[rng.integers(0, 4, (6, length))]
    return model, x


def _scan(function):
    """The model's DeepBindScan when the model is only that layer (and no logit/aux)."""
    if function.logit or function.aux_names:
        return None
    return fast_paths.only_layer(function.model, DeepBindScan)


@fast_paths.register("path_gradients", "deepbind_affine_split", priority=10, example=_example)
def _affine_split(function):
    layer = _scan(function)
    if layer is None:
        return None
    pre_activation, activation, rest = layer.iml_affine_split()
    if not reproduces(function.model, lambda v: rest(activation(pre_activation(v)))):
        return None
    return split_path_function(function, pre_activation, activation, rest)


class EnvelopePath:
    """The path function of a DeepBind scan through its window maxima (TensorFlow).

    The envelope (:func:`keras_iml.zoo.families.deepbind.envelope.max_path_gradients`)
    is many small ops: XLA fuses them (~3x faster than the plain graph on DeepBind) but takes
    ~2 s to compile, which a one-off explain of a few sequences would not win back.
    So the first ``xla_after`` calls of this object run the plain graph and later
    calls the XLA-compiled one (the same values to float rounding); ``calls`` counts
    them. The object lives in its ModelFunction's memo, as the other path functions.
    """

    xla_after = 16

    def __init__(self, function, split):
        pre, group, head, mean_of = split
        self.calls = 0
        select = function.select
        signature = [tf.TensorSpec(shape, dtype) for shape, dtype in path_signature(function)]

        def correct(grad):
            if function.gradient_correction:
                grad = grad - tf.reduce_mean(grad, axis=-1, keepdims=True)
            return grad

        def envelope(zx, zr, alphas, weights):
            return max_path_gradients(zx, zr, alphas, weights, group,
                                      lambda *feats: select(head(*feats)), mean_of=mean_of)

        def build(inner):
            @tf.function(input_signature=signature)
            def path_fn(x, refs, alphas, weights):
                dz = inner(pre(x), pre(refs), alphas, weights)
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    zx = pre(x)
                return correct(tape.gradient(zx, x, output_gradients=dz))

            return path_fn

        self._plain = build(envelope)
        self._fused = build(tf.function(envelope, jit_compile=True))

    def __call__(self, x, refs, alphas, weights):
        self.calls += 1
        fn = self._fused if self.calls > self.xla_after else self._plain
        return fn(x, refs, alphas, weights).numpy()


def _envelope_reproduces(model, split):
    pre_activation, group, head, mean_of = split

    def whole(probe):
        z = pre_activation(probe)
        z = tf.reshape(z, (tf.shape(z)[0], -1, group, z.shape[-1]))
        feats = [tf.nn.relu(tf.reduce_max(z, axis=2))]
        if mean_of is not None:
            feats.append(tf.reduce_sum(tf.nn.relu(z), axis=2) / float(mean_of))
        return head(*feats)

    return reproduces(model, whole)


@fast_paths.register("path_gradients", "deepbind_window_envelope", priority=20, example=_example)
def _envelope(function):
    layer = _scan(function)
    if layer is None or backend_lib.name() != "tensorflow":
        return None
    split = layer.iml_window_pool_split()
    if split is None or not _envelope_reproduces(function.model, split):
        return None
    return EnvelopePath(function, split)


class LayerISM:
    """ISM through the scan's own substitution scorer (TensorFlow).

    :meth:`DeepBindScan.iml_substitution_outputs` gives the outputs for the 3
    substitutions at every position of one-hot ``x`` ``(B, L, 4)``, as rows in
    (sequence, position, r) order where substitution ``r`` puts base
    ``(original + r + 1) % 4``, re-scoring only the windows a mutation touches.
    Batches with ``N`` or all-zero positions (4 substitutions there) use the
    general path.
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
        return self.function(x), subs[n, i, r]


@fast_paths.register("ism", "deepbind_windows", priority=10, example=_example)
def _layer_ism(function, length, example=None):  # noqa: ARG001
    layer = _scan(function)
    if layer is None or backend_lib.name() != "tensorflow":
        return None
    return LayerISM(function, layer, length)


@fast_paths.register("activation_scale", "deepbind_scale", example=_example)
def _scale(layer):
    return layer.iml_positions_per_base if isinstance(layer, DeepBindScan) else None
