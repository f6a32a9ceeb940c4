"""Checks that every op between the input and the output has a correct DeepLIFT rule.

After the model is traced under the DeepLIFT gradient overrides, the ops on a path
from the (stacked) input to the explained output are inspected. Each must be:

* handled by a rule in :mod:`keras_iml.methods._deeplift_rules`;
* linear (or affine) in the input, where the plain gradient is already the exact
  DeepLIFT multiplier: convolutions, dense layers, bias adds, pooling averages,
  reshapes, slices, batch normalisation in inference (a product with constants)...;
* a product/quotient in which only one operand depends on the input.

The rules pair each input's activations with those of its references row by row
(the references of input ``i`` are rows ``i * k ... i * k + k - 1``), so the batch
must stay the outermost axis of every tensor that reaches a nonlinearity: an op
that moves or mixes it (a transpose of axis 0, a concatenation, slice or gather
along it, ``SpaceToBatchND`` until its ``BatchToSpaceND``) before a rule is
refused too.

Anything else (a product of two input-dependent tensors as in gating, GELU or
SiLU; ``Erf`` inside GELU is fine but its product is not; control flow; custom
gradients; ops we do not know) raises a ``ValueError`` listing the op types and the
Keras layers they come from, so DeepLIFT never returns a silently wrong answer.
"""

import re

import numpy as np
import tensorflow as tf

from keras_iml.engine.function import declared_length
from keras_iml.methods import _deeplift_rules as rules

__all__ = ["check_path", "layer_names", "layer_of", "path_ops"]

# Linear or affine in every input (sums of input-dependent terms are fine).
_LINEAR = frozenset({
    "Identity", "Snapshot", "PreventGradient", "Cast", "Neg",
    "Add", "AddV2", "AddN", "Sub", "BiasAdd",
    "Reshape", "ExpandDims", "Squeeze", "Transpose", "ConjugateTranspose",
    "ConcatV2", "Concat", "Pack", "Unpack", "Split", "SplitV", "Tile",
    "StridedSlice", "Slice", "Pad", "PadV2", "MirrorPad", "ReverseV2",
    "Sum", "Mean", "AvgPool", "AvgPool3D", "Cumsum",
    "ZerosLike", "OnesLike",
    "SpaceToBatchND", "BatchToSpaceND", "SpaceToDepth", "DepthToSpace",
    "BroadcastTo", "EnsureShape",
})
# Linear in each operand separately: fine when exactly one operand depends on x.
_BILINEAR = frozenset({
    "Mul", "MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum",
    "Conv2D", "Conv3D", "DepthwiseConv2dNative", "Conv2DBackpropInput",
    "Conv3DBackpropInputV2", "TensorDot",
})
# Linear in the first operand only (the divisor must not depend on x).
_FIRST_ONLY = frozenset({"RealDiv", "Div", "DivNoNan"})
# Linear in the params, with constant indices.
_GATHER = frozenset({"GatherV2", "Gather", "GatherNd", "ResourceGather"})
# Ops whose outputs describe shapes, not values: they end input dependence.
_SHAPE_ONLY = frozenset({"Shape", "ShapeN", "Size", "Rank"})
# Reductions: must never reduce the batch axis (rows are explained independently).
_REDUCTIONS = frozenset({"Sum", "Mean", "Max", "Cumsum"})


def layer_names(model):
    """All layer names of a model, nested models included."""
    names, stack = set(), [model]
    while stack:
        layer = stack.pop()
        names.add(layer.name)
        stack.extend(getattr(layer, "layers", None) or [])
    return names


def layer_of(op, names):
    """The Keras layer an op was created in, read from its name scope.

    TensorFlow suffixes re-entered name scopes (``conv1d`` becomes ``conv1d_1``), so a
    scope component matches a layer name either exactly or with one ``_N`` suffix.
    Sub-scopes inside the layer are kept: ``"conv1d/Gelu"`` for a GELU activation.
    """
    parts = op.name.split("/")[:-1]
    found, index = None, None
    for i, part in enumerate(parts):
        stripped = re.sub(r"_\d+$", "", part)
        if stripped in names and stripped != part:
            found, index = stripped, i
        elif part in names:
            found, index = part, i
    if found is None:
        return "/".join(parts) or op.name
    return "/".join([found] + parts[index + 1 :])


def _reduces_batch(op):
    if op.type not in _REDUCTIONS or len(op.inputs) < 2:
        return False
    axes = op.inputs[1]
    value = tf.get_static_value(axes)
    if value is None:
        return True
    rank = op.inputs[0].shape.rank
    axes = np.atleast_1d(value).astype(int)
    return any((a % rank if rank else a) == 0 for a in axes)


def _static(tensor):
    value = tf.get_static_value(tensor)
    return None if value is None else np.atleast_1d(value).astype(int)


def _bit0(op, mask):
    return bool(op.get_attr(mask) & 1)


def _touches_axis0(axes, rank):
    """Whether constant ``axes`` (None: unknown) include axis 0 of a rank-``rank`` tensor."""
    if axes is None or rank is None:
        return True
    return any(int(a) % max(rank, 1) == 0 for a in axes)


def _mixes_batch(op):
    """Whether ``op`` moves the batch axis from the outside or mixes its rows."""
    kind, rank = op.type, op.inputs[0].shape.rank
    if kind in ("ReverseV2", "Split", "SplitV", "GatherV2", "ConcatV2", "Pack", "Unpack"):
        axis_of = {"ReverseV2": (1, rank), "Split": (0, op.inputs[-1].shape.rank),
                   "SplitV": (2, rank), "GatherV2": (2, rank),
                   "ConcatV2": (-1, rank)}
        if kind in ("Pack", "Unpack"):
            extra = 1 if kind == "Pack" else 0
            return _touches_axis0([op.get_attr("axis")], None if rank is None else rank + extra)
        index, axis_rank = axis_of[kind]
        return _touches_axis0(_static(op.inputs[index]), axis_rank)
    if kind == "Tile":
        multiples = _static(op.inputs[1])
        return multiples is None or multiples[0] != 1
    if kind == "Slice":
        begin, size = _static(op.inputs[1]), _static(op.inputs[2])
        return begin is None or size is None or begin[0] != 0 or size[0] != -1
    if kind == "StridedSlice":
        if _bit0(op, "ellipsis_mask"):  # t[..., i:j]: the batch stays whole
            return False
        if _bit0(op, "new_axis_mask") or _bit0(op, "shrink_axis_mask"):
            return True
        begin, strides = _static(op.inputs[1]), _static(op.inputs[3])
        full_begin = _bit0(op, "begin_mask") or (begin is not None and begin[0] == 0)
        return not (full_begin and _bit0(op, "end_mask") and strides is not None
                    and strides[0] == 1)
    return kind in ("SpaceToBatchND", "Gather", "GatherNd", "ResourceGather", "Concat")


# Ops that keep every input's layout (a batch axis moved by a transpose stays put).
_KEEPS_LAYOUT = frozenset({"Identity", "Cast", "Neg", "Add", "AddV2", "Sub", "Mul", "RealDiv",
                           "BiasAdd"}) | frozenset(rules.ELEMENTWISE)


def _full_along(op, axis):
    """Whether a StridedSlice keeps every index along ``axis`` (axes past its spec do)."""
    strides = _static(op.inputs[3])
    if strides is None:
        return False
    if axis >= len(strides):
        return True
    masks = op.get_attr("begin_mask") & op.get_attr("end_mask")
    return bool(masks >> axis & 1) and strides[axis] == 1


def _moved_axis(op, found):
    """Where the batch axis goes through ``op`` when it is not outermost (None: lost).

    Follows the moves a per-step layer makes (transpose time first, unstack or
    slice the steps, stack them back, transpose back).
    """
    if any(axis is None for axis in found) or len(set(found)) != 1:
        return None
    axis, kind = found[0], op.type
    rank = op.inputs[0].shape.rank
    if kind in _KEEPS_LAYOUT:
        return axis
    if kind in ("Pack", "Unpack") and rank is not None:
        where = op.get_attr("axis") % (rank + 1 if kind == "Pack" else rank)
        if kind == "Pack":
            return axis + (where <= axis)
        return None if where == axis else axis - (where < axis)
    if kind == "StridedSlice" and not (op.get_attr("ellipsis_mask") or op.get_attr("new_axis_mask")):
        shrink = op.get_attr("shrink_axis_mask")
        if shrink in (0, 1) and _full_along(op, axis):
            return axis - shrink
    return None


def _batch_axes(ops, dependent):
    """Where the batch axis of each input-dependent tensor is (None: rows mixed).

    Tensors not listed have the batch as their outermost axis (axis 0).
    """
    axes = {}
    for op in ops:
        found = [axes.get(t.ref(), 0) for t in op.inputs if t.ref() in dependent]
        if not found or op.type in _SHAPE_ONLY:
            continue
        if op.type == "BatchToSpaceND":  # undoes a SpaceToBatchND (dilated convolution)
            new = 0
        elif op.type in ("Transpose", "ConjugateTranspose"):
            perm = _static(op.inputs[1])
            new = None if perm is None or found[0] is None else list(perm).index(found[0])
        elif any(axis != 0 for axis in found) or op.type == "Pack":
            new = _moved_axis(op, found)
        else:
            new = None if _mixes_batch(op) else 0
        axes.update((out.ref(), new) for out in op.outputs)
    return axes


def _problem(op, dependent):
    """Why this op has no correct DeepLIFT rule, or None if it has one."""
    dep_inputs = [i for i, t in enumerate(op.inputs) if t.ref() in dependent]
    kind = op.type
    if kind in rules.RULE_TYPES:
        if kind == "Max" and _reduces_batch(op):
            return f"{kind} (reduces the batch axis)"
        if kind == "MaxPool" and op.get_attr("data_format") not in (b"NHWC", "NHWC"):
            return f"{kind} (channels-first)"
        if kind in rules.ELEMENTWISE and len(op.inputs) != 1:
            return kind
        return None
    if kind in _LINEAR:
        return f"{kind} (reduces the batch axis)" if _reduces_batch(op) else None
    if kind in _BILINEAR:
        return None if len(dep_inputs) == 1 else f"{kind} (both operands depend on the input)"
    if kind in _FIRST_ONLY:
        return None if dep_inputs == [0] else f"{kind} (divisor depends on the input)"
    if kind in _GATHER:
        return None if dep_inputs == [0] else f"{kind} (indices depend on the input)"
    if kind == "IdentityN":
        return "IdentityN (custom gradient)"
    return kind


def _path(ops, source, target):
    """Ops between ``source`` and ``target``, and the set of input-dependent tensors."""
    dependent = {source.ref()}
    for op in ops:
        if op.type not in _SHAPE_ONLY and any(t.ref() in dependent for t in op.inputs):
            dependent.update(out.ref() for out in op.outputs)
    # Ancestors of the target among the dependent ops.
    on_path, stack, seen = [], [target.op], set()
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        if not any(t.ref() in dependent for t in op.inputs):
            continue
        on_path.append(op)
        stack.extend(t.op for t in op.inputs if t.ref() in dependent)
    return on_path, dependent


def path_ops(call, model):
    """Traces ``call`` (one-hot batch -> output tensor) and lists the ops on its path.

    Args:
        call: a function of a ``(N, L, 4)`` float32 tensor returning the explained
            tensor.
        model: the Keras model (for layer names).

    Returns:
        list of ``(op_type, layer_name)`` for the ops between input and output.
    """
    found = []

    def trace(x):
        graph = tf.compat.v1.get_default_graph()
        start = len(graph.get_operations())
        y = call(x)
        on_path, _ = _path(graph.get_operations()[start:], x, y)
        names = layer_names(model)
        found.extend((op.type, layer_of(op, names)) for op in on_path)
        return y

    spec = tf.TensorSpec([None, declared_length(model), 4], tf.float32)
    tf.function(trace, input_signature=[spec], autograph=False).get_concrete_function()
    return found


def check_path(ops, source, target, model):
    """Finds the ops between ``source`` and ``target`` and those without a DeepLIFT rule.

    Args:
        ops: the graph ops created by the traced forward pass, in creation order.
        source: the input tensor.
        target: the explained output tensor.
        model: the Keras model (for layer names in the message).

    Returns:
        ``(on_path, error)``: the ops on the path, and None or the message of the
        ``ValueError`` to raise (raised by the caller outside the trace, so that
        TensorFlow does not rewrite it).
    """
    on_path, dependent = _path(ops, source, target)
    batch_axes = _batch_axes(ops, dependent)
    names = layer_names(model)
    problems = {}
    for op in on_path:
        why = _problem(op, dependent)
        if op.type in rules.RULE_TYPES and batch_axes.get(op.inputs[0].ref(), 0) != 0:
            why = f"{op.type} (after an operation that moves the batch axis)"
        if why is not None:
            problems.setdefault(why, set()).add(layer_of(op, names))
    if not problems:
        return on_path, None
    listing = "; ".join(
        f"{why} in layer(s) {sorted(where)}" for why, where in sorted(problems.items())
    )
    return on_path, (
        "DeepLIFT has no correct rule for some operations of this model, so it would "
        f"return wrong attributions. Unsupported: {listing}. Supported nonlinearities: "
        f"{sorted(rules.RULE_TYPES)}, plus linear layers (Dense, Conv, pooling averages, "
        "BatchNormalization, Dropout, Flatten, Reshape, slices). Use a gradient method "
        "(integrated_gradients, expected_gradients) for this model."
    )
