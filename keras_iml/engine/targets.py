"""Which output is explained: the target policy, and the logit of a final squashing layer.

Target policy (``target=``):

* ``None``: the model must have a single scalar output per sequence (``(N,)`` or
  ``(N, 1)``); otherwise a ``ValueError`` asks for a target.
* ``int``: that column of a ``(N, K)`` output.
* ``slice`` or ``list`` of ints: the **sum** of those columns.
* ``str``: the output of that name in a multi-output model; ``(name, index)`` also
  selects a column of it.
* ``(class, position)``, for an output with a value per position and class
  ``(N, L, C)`` (SpliceAI: ``(N, L - 10000, 3)``; a BPNet profile head): ``class`` is an
  int (or a class name the model declares, see below) and ``position`` an index along
  the output's own position axis (an int, negative from the end), a ``slice`` (the
  **sum** over that window) or ``"weighted"`` (BPNet's profile reduction:
  ``sum_p w_p z_p`` of the logits ``z`` at every position, with ``w = softmax(z)`` over
  positions held fixed, i.e. outside the gradient). ``(name, class, position)`` does the
  same on the output ``name`` of a multi-output model. A per-position output is never
  summed over every position: an int, a list of columns or None on it raise a
  ``ValueError`` that asks for a ``(class, position)``.
* callable: ``target(outputs) -> (N,)`` on the raw model outputs.

Class names: a model wrapped with ``metadata={"classes": [...]}`` (zoo loaders set it:
SpliceAI's are ``["none", "acceptor", "donor"]``) takes ``("donor", 5000)``;
:func:`name_classes` turns the name into its index before anything is traced.

Nothing else is read as a target: a float (``1.0``), a bool, a NumPy array or a
slice with non-int bounds raises ``TypeError`` (a float column index is more often
a label value or a threshold passed by mistake than a column), an empty list or a
slice step of 0 raises ``ValueError``, before any model output is computed.

``logit=True`` explains the pre-activation of a final sigmoid/softmax (a final
``Dense`` with that activation, or a final ``Activation`` layer) instead of the
probability, which saturates.

Everything here is written with ``keras.ops``, so it runs inside the compiled
functions of every backend.
"""

import numpy as np

import keras

__all__ = ["check_target", "logit_model", "name_classes", "select", "target_key"]

_SQUASHING = ("sigmoid", "softmax")


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


_KINDS = ("None, an int, a slice of ints, a list of ints, an output name, (name, index), "
          "(class, position), (name, class, position) or a callable")

#: The position of BPNet's profile reduction (see the module docstring).
WEIGHTED = "weighted"


def _is_position(value):
    """An int, a slice of ints or ``"weighted"``: the position part of a per-position target."""
    if isinstance(value, slice):
        return all(b is None or _is_int(b) for b in (value.start, value.stop, value.step))
    return _is_int(value) or (isinstance(value, str) and value == WEIGHTED)


def _per_position_form(target):
    """``(class, position)`` with a str or int class and a position that is not an int
    column list (``(0, 1)`` stays two columns until the output's rank says otherwise)."""
    return (isinstance(target, tuple) and len(target) == 2 and isinstance(target[0], (str, int, np.integer))
            and not isinstance(target[0], (bool, np.bool_)) and _is_position(target[1]))


def _check_columns(target, original):
    """Checks a column selection: None, an int, a slice of ints or a non-empty list of ints."""
    if target is None or _is_int(target):
        return
    if isinstance(target, slice):
        bounds = (target.start, target.stop, target.step)
        if not all(b is None or _is_int(b) for b in bounds):
            raise TypeError(
                f"A `target` slice must have int (or None) bounds. Received: target={original!r}")
        if target.step == 0:
            raise ValueError(f"A `target` slice step cannot be 0. Received: target={original!r}")
        return
    if isinstance(target, (list, tuple)) and all(_is_int(t) for t in target):
        if not target:
            raise ValueError(f"A `target` list must name at least one column. Received: "
                             f"target={original!r}")
        return
    what = "" if target is original else "an index "
    raise TypeError(
        f"`target` must be {_KINDS}. Received: target={original!r} ({what}of type "
        f"{type(target).__name__})"
    )


def check_target(target):
    """Checks that ``target`` is of a kind the policy knows (see the module docstring).

    Whether the output or column exists is checked against the model's outputs
    (:func:`select`), on the first batch.

    Args:
        target: the ``target=`` argument of an explainer.

    Raises:
        TypeError: ``target`` is of another kind (a float, a bool, an array, a slice
            with non-int bounds, ...).
        ValueError: an empty list of columns or a slice step of 0.

    Example:
        >>> check_target(1)
        >>> check_target(1.0)
        Traceback (most recent call last):
        TypeError: `target` must be None, an int, ... Received: target=1.0 (of type float)
    """
    if callable(target) or isinstance(target, str):
        return
    if isinstance(target, tuple) and len(target) == 3 and isinstance(target[0], str):
        if _per_position_form(target[1:]):  # (name, class, position)
            _check_step(target[2], target)
            return
    if _per_position_form(target) and not all(_is_int(t) for t in target):  # (class, position)
        _check_step(target[1], target)
        return
    if isinstance(target, tuple) and len(target) == 2 and isinstance(target[0], str):
        if target[1] is None or not isinstance(target[1], str):  # (name, index)
            _check_columns(target[1], target)
            return
    _check_columns(target, target)


def _check_step(position, original):
    if isinstance(position, slice) and position.step == 0:
        raise ValueError(f"A `target` slice step cannot be 0. Received: target={original!r}")


def name_classes(target, classes, output_names=()):
    """``target`` with a class name replaced by its index in ``classes``.

    ``("donor", 5000)`` becomes ``(2, 5000)`` for ``classes=["none", "acceptor", "donor"]``,
    and ``("splice", "donor", 5000)`` becomes ``("splice", 2, 5000)``; a name that is an
    output of the model keeps its meaning (``(name, index)``). Anything else is returned
    as it is.

    Args:
        target: a target (see the module docstring).
        classes: the class names along the last axis of the per-position output, or None.
        output_names: the model's output names.

    Raises:
        ValueError: a class name that is neither an output nor in ``classes`` (given).

    Example:
        >>> name_classes(("donor", slice(5000, 5010)), ["none", "acceptor", "donor"])
        (2, slice(5000, 5010, None))
    """
    names = list(output_names or ())
    if isinstance(target, tuple) and len(target) == 3 and isinstance(target[0], str) \
            and isinstance(target[1], str):
        return (target[0], _class_index(target[1], classes, target)) + tuple(target[2:])
    if _per_position_form(target) and isinstance(target[0], str) and target[0] not in names:
        return (_class_index(target[0], classes, target), target[1])
    return target


def _class_index(name, classes, target):
    if classes is None:
        return name  # select() says that the model names no classes
    classes = list(classes)
    if name not in classes:
        raise ValueError(f"{name!r} is not a class of the model (its classes: {classes}). "
                         f"Received: target={target!r}")
    return classes.index(name)


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
    if not isinstance(outputs, (dict, list, tuple)) and list(output_names) == [name]:
        return outputs  # the single output, named
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


def _columns_unknown_width(target, original):
    """Columns of an output whose width is known only at run time: ints (from the end
    when negative, as Python indexing), taken one by one so no width is needed."""
    if _is_int(target):
        cols = [int(target)]
    elif isinstance(target, (list, tuple)) and target and all(_is_int(t) for t in target):
        cols = [int(t) for t in target]
    else:
        raise ValueError(
            "The output's width depends on the sequence length, so `target` must name its "
            f"columns as ints (a slice needs a known width). Received: target={original!r}"
        )
    return cols


def _parts(target, outputs, names):
    """``target`` split into ``(output name or None, what to take from that output)``."""
    if isinstance(target, str):
        return target, None
    if isinstance(target, tuple) and target and isinstance(target[0], str):
        known = list(outputs) if isinstance(outputs, dict) else names
        if len(target) == 3:
            return target[0], tuple(target[1:])
        if len(target) == 2 and (target[0] in known or not _per_position_form(target)):
            return target
    return None, target


def _single(outputs, names, original):
    if not isinstance(outputs, (dict, list, tuple)):
        return outputs
    if len(outputs) != 1:
        names = list(outputs) if isinstance(outputs, dict) else names
        hint = f" {names}; name one with `target` (e.g. target={names[0]!r})" if names \
            else "; name one with `target`"
        raise ValueError(
            f"The model has several outputs ({len(outputs)}){hint}. Received: target={original!r}"
        )
    return list(outputs.values())[0] if isinstance(outputs, dict) else outputs[0]


def _per_position(outputs, target, original):
    """One value per sequence from an ``(N, L, C)`` output: a class at a position, the
    sum over a window, or the profile reduction."""
    ops = keras.ops
    length, k = tuple(outputs.shape)[1:]
    if not _per_position_form(target):
        raise ValueError(
            f"The model output has a value per position and class, shape (N, {length}, {k}); "
            "choose a class and a position with target=(class, position), e.g. (2, 500), "
            "(2, slice(500, 510)) for the sum over a window or (2, 'weighted') for the "
            f"profile reduction. It is never summed over every position. Received: target={original!r}"
        )
    cls, position = target
    if isinstance(cls, str):
        raise ValueError(
            f"{cls!r} is not an output of the model, and the model names no classes: give the "
            "class as an int, or name them with keras_iml.wrap(model, metadata={'classes': "
            f"[...]}}). Received: target={original!r}")
    if k is not None and not -k <= cls < k:
        raise ValueError(f"target={original!r} does not exist: the output has {k} classes.")
    if position == WEIGHTED:
        logits = outputs[:, :, cls]
        weights = ops.stop_gradient(ops.softmax(logits, axis=1))
        return ops.sum(weights * logits, axis=1)
    if length is not None:
        picked = list(range(length))[position] if isinstance(position, slice) else \
            [position] if -length <= position < length else []
        if not picked:
            raise ValueError(f"target={original!r} selects no position: the output has {length} "
                             "positions (an index along the output, not along the input).")
    if isinstance(position, slice):
        return ops.sum(outputs[:, position, cls], axis=1)
    return outputs[:, position, cls]


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
    names = list(output_names or ())
    name, target = _parts(target, outputs, names)
    if name is not None:
        outputs = _named_output(outputs, name, names, original)
    else:
        outputs = _single(outputs, names, original)
    outputs = ops.convert_to_tensor(outputs)
    rank = len(outputs.shape)
    if rank == 3:
        return _per_position(outputs, target, original)
    if _per_position_form(target) and not all(_is_int(t) for t in target):
        if isinstance(target[0], str):
            raise ValueError(f"target={original!r}: {target[0]!r} is not an output of the model. "
                             f"Outputs: {names or 'unnamed'}")
        raise ValueError(
            f"target={original!r} names a class and a position, but the output has shape "
            f"(N, {', '.join(str(d) for d in tuple(outputs.shape)[1:])}), not (N, L, C)")
    if rank == 1:
        if target is not None and _columns(target, 1, original) != [0]:
            raise ValueError(
                f"target={original!r} does not exist: the model has a single output."
            )
        return outputs
    if rank != 2:
        raise ValueError(
            "The model output has shape "
            f"(N, {', '.join(str(d) for d in tuple(outputs.shape)[1:])}) for N sequences; pass a callable `target` "
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
    if k is None:  # width known only at run time (e.g. Flatten over an unknown length)
        picked = [outputs[:, c] for c in _columns_unknown_width(target, original)]
        return picked[0] if len(picked) == 1 else ops.sum(ops.stack(picked, axis=1), axis=1)
    columns = _columns(target, k, original)
    if len(columns) == 1:
        return outputs[:, columns[0]]
    return ops.sum(ops.take(outputs, columns, axis=1), axis=1)
