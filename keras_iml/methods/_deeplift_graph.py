"""Checks that every op between the input and the output has a correct DeepLIFT rule.

After the model is traced under the DeepLIFT gradient overrides, the ops on a path
from the (stacked) input to the explained output are inspected. Each must be:

* handled by a rule in :mod:`keras_iml.methods._deeplift_rules`;
* linear (or affine) in the input, where the plain gradient is already the exact
  DeepLIFT multiplier: convolutions, dense layers, bias adds, pooling averages,
  reshapes, slices, batch normalisation in inference (a product with constants)...;
* a product/quotient in which only one operand depends on the input.

Anything else (a product of two input-dependent tensors as in gating, GELU or
SiLU; ``Erf`` inside GELU is fine but its product is not; control flow; custom
gradients; ops we do not know) raises a ``ValueError`` listing the op types and the
Keras layers they come from, so DeepLIFT never returns a silently wrong answer.
"""

import re

import numpy as np
import tensorflow as tf

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

    spec = tf.TensorSpec([None, None, 4], tf.float32)
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
    names = layer_names(model)
    problems = {}
    for op in on_path:
        why = _problem(op, dependent)
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
