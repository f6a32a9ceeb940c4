"""The scalar function an attribution method explains: ``f(x) = target(model(x))``.

`ModelFunction` binds a Keras model to a target (which output, optionally its logit)
and exposes compiled, batched forward and gradient functions. Every attribution
method receives one; none of them touches the user's model directly except through
it (DeepLIFT traces ``raw_call`` under its own gradient rules).

Target policy (``target=``):

* ``None``: the model must have a single scalar output per sequence (``(N,)`` or
  ``(N, 1)``); otherwise a ``ValueError`` asks for a target.
* ``int``: that column of a ``(N, K)`` output.
* ``slice`` or ``list`` of ints: the **sum** of those columns.
* ``str``: the output of that name in a multi-output model; ``(name, index)`` also
  selects a column of it.
* callable: ``target(outputs) -> (N,)`` on the raw model outputs.

``logit=True`` explains the pre-activation of a final sigmoid/softmax (a final
``Dense`` with that activation, or a final ``Activation`` layer) instead of the
probability, which saturates.
"""

import numpy as np
import tensorflow as tf

import keras

__all__ = ["ModelFunction"]

_SQUASHING = ("sigmoid", "softmax")


def _activation_name(layer):
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", None)


def _logit_model(model):
    """Returns a function x -> pre-activation outputs of the model's final layer."""
    layers = getattr(model, "layers", None)
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not layers or not inputs:
        raise ValueError(
            "`logit=True` needs a Sequential or functional model whose last layer is a "
            "Dense or Activation with sigmoid/softmax; for other models pass a callable "
            f"`target` that computes the logit. Received: model of type {type(model).__name__}"
        )
    last = layers[-1]
    name = _activation_name(last)
    if name not in _SQUASHING:
        raise ValueError(
            "`logit=True` needs a final sigmoid or softmax activation. "
            f"Received: last layer {last.name!r} with activation {name!r}"
        )
    features = keras.Model(inputs, last.input)
    if isinstance(last, keras.layers.Activation):
        return features
    if isinstance(last, keras.layers.Dense):

        def pre_activation(x, training=False):
            h = features(x, training=training)
            z = keras.ops.matmul(h, last.kernel)
            if last.use_bias:
                z = z + last.bias
            return z

        return pre_activation
    raise ValueError(
        "`logit=True` supports a final Dense or Activation layer. "
        f"Received: last layer {last.name!r} of type {type(last).__name__}"
    )


class ModelFunction:
    """A model bound to a target, with compiled batched forward and gradient passes.

    Args:
        model: the Keras model (never modified).
        target: see the module docstring.
        logit: explain the pre-activation of a final sigmoid/softmax.
        gradient_correction: subtract the per-position mean over the 4 bases from
            every gradient (Majdandzic et al. 2023), removing the off-simplex
            component that one-hot inputs cannot move along.
        example: one input batch used to check the target against real outputs.
    """

    def __init__(self, model, target=None, logit=False, gradient_correction=False, example=None):
        self.model = model
        self.target = target
        self.logit = bool(logit)
        self.gradient_correction = bool(gradient_correction)
        self._forward = _logit_model(model) if self.logit else model
        if example is not None:
            self._check_target(example)
        self._memo = {}
        # One trace per ModelFunction: any batch size and length, 4 channels.
        spec = [tf.TensorSpec([None, None, 4], tf.float32)]
        self._compiled_value = tf.function(lambda x: self._value(x), input_signature=spec)
        self._compiled_grad = tf.function(
            lambda x: self._value_and_grad(x), input_signature=spec
        )

    # -- target ---------------------------------------------------------------------
    def raw_call(self, x):
        """Model outputs (or logits) for a batch, in the current TF context."""
        return self._forward(x, training=False)

    def select(self, outputs):
        """Reduces raw model outputs to one scalar per sequence, shape ``(N,)``."""
        target = self.target
        if callable(target):
            return tf.convert_to_tensor(target(outputs))
        index = None
        if isinstance(target, tuple) and len(target) == 2 and isinstance(target[0], str):
            target, index = target
        if isinstance(target, str):
            outputs = self._named_output(outputs, target)
            target = index
        elif isinstance(outputs, (dict, list, tuple)):
            if len(outputs) != 1:
                raise ValueError(
                    "The model has several outputs; name one with `target`. "
                    f"Received: target={self.target!r}"
                )
            outputs = list(outputs.values())[0] if isinstance(outputs, dict) else outputs[0]
        outputs = tf.convert_to_tensor(outputs)
        if outputs.shape.rank == 1:
            if target not in (None, 0, [0]):
                raise ValueError(
                    f"target={self.target!r} does not exist: the model has a single output."
                )
            return outputs
        if outputs.shape.rank != 2:
            raise ValueError(
                "The model output has shape "
                f"{tuple(outputs.shape)}; pass a callable `target` that reduces it to one "
                f"value per sequence. Received: target={self.target!r}"
            )
        k = outputs.shape[-1]
        if target is None:
            if k != 1:
                raise ValueError(
                    f"The model has {k} outputs per sequence; choose one with `target` "
                    "(an int, a list or slice of ints, or a callable). Received: target=None"
                )
            return outputs[:, 0]
        columns = self._columns(target, k)
        return tf.reduce_sum(tf.gather(outputs, columns, axis=1), axis=1)

    def _columns(self, target, k):
        if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
            cols = [int(target)]
        elif isinstance(target, slice):
            cols = list(range(k))[target]
        elif isinstance(target, (list, tuple)) and all(
            isinstance(t, (int, np.integer)) for t in target
        ):
            cols = [int(t) for t in target]
        else:
            raise ValueError(
                "`target` must be None, an int, a slice, a list of ints, an output name "
                f"or a callable. Received: target={self.target!r}"
            )
        if not cols or any(c >= k or c < -k for c in cols):
            raise ValueError(
                f"target={self.target!r} does not exist: the model has {k} outputs."
            )
        return [c % k for c in cols]

    def _named_output(self, outputs, name):
        if isinstance(outputs, dict):
            if name not in outputs:
                raise ValueError(
                    f"target={name!r} is not an output of the model. "
                    f"Outputs: {sorted(outputs)}"
                )
            return outputs[name]
        names = list(getattr(self.model, "output_names", None) or [])
        if isinstance(outputs, (list, tuple)) and name in names:
            return outputs[names.index(name)]
        raise ValueError(
            f"target={name!r} is not an output of the model. Outputs: {names or 'unnamed'}"
        )

    def _check_target(self, example):
        value = self.select(self.raw_call(tf.convert_to_tensor(example[:1])))
        if value.shape.rank != 1 or value.shape[0] != 1:
            raise ValueError(
                "`target` must reduce the model output to one value per sequence. "
                f"Received: a value of shape {tuple(value.shape)} for 1 sequence"
            )

    def describe(self):
        """A JSON-friendly description of the target, stored in Attributions."""
        t = self.target
        desc = getattr(t, "__name__", "callable") if callable(t) else repr(t) if t is not None else None
        return {"target": desc, "logit": self.logit, "gradient_correction": self.gradient_correction}

    # -- compiled passes ------------------------------------------------------------
    def _value(self, x):
        return self.select(self.raw_call(x))

    def _value_and_grad(self, x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = self.select(self.raw_call(x))
        grad = tape.gradient(value, x)
        if self.gradient_correction:
            grad = grad - tf.reduce_mean(grad, axis=-1, keepdims=True)
        return value, grad

    def __call__(self, x):
        """``f(x)`` as a numpy array ``(N,)``."""
        return self._compiled_value(tf.convert_to_tensor(x, tf.float32)).numpy()

    def value_and_gradient(self, x):
        """Returns ``(f(x), df/dx)`` as numpy arrays ``(N,)`` and ``(N, L, 4)``."""
        value, grad = self._compiled_grad(tf.convert_to_tensor(x, tf.float32))
        return value.numpy(), grad.numpy()

    def gradient(self, x):
        """``df/dx`` as a numpy array ``(N, L, 4)`` (corrected if requested)."""
        return self.value_and_gradient(x)[1]

    def compiled(self, key, build):
        """Returns ``build()``, built once per ``key`` for this function.

        Methods keep their own compiled graphs (e.g. DeepLIFT's) here, so a model
        explained repeatedly through the same wrapper is traced once. The memo lives
        and dies with this object; nothing is global.
        """
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    def batched(self, fn, x, chunk):
        """Applies ``fn`` to ``x`` in chunks of ``chunk`` rows and concatenates."""
        outs = [fn(x[i : i + chunk]) for i in range(0, len(x), chunk)]
        if isinstance(outs[0], tuple):
            return tuple(np.concatenate(parts) for parts in zip(*outs))
        return np.concatenate(outs)
