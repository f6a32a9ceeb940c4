"""Which output is explained: the target policy, and the logit of a final squashing layer.

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

Everything here is written with ``keras.ops``, so it runs inside the compiled
functions of every backend.
"""

import numpy as np

import keras

__all__ = ["check_target", "logit_model", "select", "target_key"]

_SQUASHING = ("sigmoid", "softmax")


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_target(target):
    """Raises TypeError for a ``target`` of a kind the policy does not know.

    Whether the output or column exists is checked against the model's outputs
    (:func:`select`), on the first batch.
    """
    if target is None or callable(target) or _is_int(target) or isinstance(target, (str, slice)):
        return
    if isinstance(target, tuple) and len(target) == 2 and isinstance(target[0], str):
        check_target(target[1])
        return
    if isinstance(target, (list, tuple)) and target and all(_is_int(t) for t in target):
        return
    raise TypeError(
        "`target` must be None, an int, a slice, a list of ints, an output name, "
        f"(name, index) or a callable. Received: target={target!r} of type "
        f"{type(target).__name__}"
    )


def target_key(target):
    """A hashable key of a target (lists and slices by their repr; callables by identity)."""
    if isinstance(target, (list, slice)) or (isinstance(target, tuple) and not callable(target)):
        return repr(target)
    return target


def _activation_name(layer):
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", None)


def logit_model(model):
    """A function ``x -> pre-activation outputs`` of the model's final layer.

    Raises:
        ValueError: the model is not a Sequential/functional model ending in a Dense
            or Activation layer with a sigmoid or softmax.
    """
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


def _named_output(outputs, name, output_names, target):
    if isinstance(outputs, dict):
        if name not in outputs:
            raise ValueError(
                f"target={target!r} is not an output of the model. Outputs: {sorted(outputs)}"
            )
        return outputs[name]
    if isinstance(outputs, (list, tuple)) and name in output_names:
        return outputs[output_names.index(name)]
    raise ValueError(
        f"target={target!r} is not an output of the model. "
        f"Outputs: {list(output_names) or 'unnamed'}"
    )


def _columns(target, k, original):
    if _is_int(target):
        cols = [int(target)]
    elif isinstance(target, slice):
        cols = list(range(k))[target]
    elif isinstance(target, (list, tuple)) and all(_is_int(t) for t in target):
        cols = [int(t) for t in target]
    else:
        raise ValueError(
            "`target` must be None, an int, a slice, a list of ints, an output name "
            f"or a callable. Received: target={original!r}"
        )
    if not cols or any(c >= k or c < -k for c in cols):
        raise ValueError(f"target={original!r} does not exist: the model has {k} outputs.")
    return [c % k for c in cols]


def select(outputs, target, output_names=()):
    """Reduces raw model outputs to one value per sequence, shape ``(N,)``.

    Args:
        outputs: what the model returned (a tensor, a list or a dict of tensors).
        target: see the module docstring.
        output_names: the model's output names (for ``target="name"``).

    Raises:
        ValueError: the target does not exist or does not give one value per sequence.
    """
    ops = keras.ops
    original = target
    if callable(target):
        return ops.convert_to_tensor(target(outputs))
    index = None
    if isinstance(target, tuple) and len(target) == 2 and isinstance(target[0], str):
        target, index = target
    if isinstance(target, str):
        outputs = _named_output(outputs, target, list(output_names or ()), original)
        target = index
    elif isinstance(outputs, (dict, list, tuple)):
        if len(outputs) != 1:
            names = list(outputs) if isinstance(outputs, dict) else list(output_names or ())
            hint = f" {names}; name one with `target` (e.g. target={names[0]!r})" if names \
                else "; name one with `target`"
            raise ValueError(
                f"The model has several outputs ({len(outputs)}){hint}. Received: target={original!r}"
            )
        outputs = list(outputs.values())[0] if isinstance(outputs, dict) else outputs[0]
    outputs = ops.convert_to_tensor(outputs)
    rank = len(outputs.shape)
    if rank == 1:
        if target not in (None, 0, [0]):
            raise ValueError(
                f"target={original!r} does not exist: the model has a single output."
            )
        return outputs
    if rank != 2:
        raise ValueError(
            f"The model output has shape {tuple(outputs.shape)}; pass a callable `target` "
            f"that reduces it to one value per sequence. Received: target={original!r}"
        )
    k = outputs.shape[-1]
    if target is None:
        if k != 1:
            raise ValueError(
                f"The model has {k} outputs per sequence; choose one with `target` "
                "(an int, a list or slice of ints, or a callable). Received: target=None"
            )
        return outputs[:, 0]
    columns = _columns(target, k, original)
    if len(columns) == 1:
        return outputs[:, columns[0]]
    return ops.sum(ops.take(outputs, columns, axis=1), axis=1)
