"""A faster input gradient for the first convolution of DNA models, in the DeepLIFT trace.

DeepLIFT keeps the plain gradient of linear layers, so this changes no value
(beyond float rounding): it only computes the input gradient of a stride-1 1-D
convolution with few input channels (the one-hot input's 4) differently.
oneDNN's ``Conv2DBackpropInput`` runs such a convolution (64 output channels
back to 4 input channels, kernel 19) at a third of the speed of its forward pass
on CPU, and with many references per input it is the largest single cost of
DeepLIFT-SHAP. Written natively as one matrix product ``G = g W^T`` (every
output position's contribution to each kernel tap) and an overlap-add of the
``K`` taps, compiled with XLA: about half the time.

The override applies only inside the DeepLIFT engine's trace of the references,
which differentiates the input and never the filter (its gradient is None). Any
other ``Conv2D`` (strided, dilated, many input channels, channels-first, or
outside the fused variant of the trace) gets TensorFlow's own input gradient.
"""

import tensorflow as tf

from keras_iml.methods import _deeplift_rules as rules

__all__ = ["MAX_CHANNELS", "OVERRIDES"]

#: Convolutions with at most this many input channels take the native gradient.
MAX_CHANNELS = 8


def _fast_path(op):
    """``(kernel, pad_before)`` when ``op`` qualifies for the native gradient, else None."""
    filt = op.inputs[1].shape
    if op.get_attr("data_format") not in (b"NHWC", "NHWC") or not filt.is_fully_defined():
        return None
    if list(op.get_attr("strides")) != [1, 1, 1, 1] or list(op.get_attr("dilations")) != [1] * 4:
        return None
    kh, kw, channels, _ = filt.as_list()
    padding = op.get_attr("padding")
    if kh != 1 or kw < 2 or channels > MAX_CHANNELS or padding not in (b"VALID", b"SAME"):
        return None
    return kw, (kw - 1) // 2 if padding == b"SAME" else 0


def _overlap_add(grad, filt, pad_before, length):
    """Input gradient of a stride-1 1-D convolution: ``G = g W^T``, then sum the taps.

    ``grad`` ``(N, 1, Lo, O)``, ``filt`` ``(1, K, C, O)``; returns ``(N, 1, length, C)``.
    """
    _, k, c, o = filt.shape.as_list()
    n, lo = tf.shape(grad)[0], tf.shape(grad)[2]
    taps = tf.matmul(tf.reshape(grad, [-1, o]), tf.reshape(filt, [k * c, o]), transpose_b=True)
    taps = tf.reshape(taps, tf.stack([n, lo, k, c]))
    # input position l + j - pad_before receives tap j of output position l
    full = tf.add_n([tf.pad(taps[:, :, j], [[0, 0], [j, k - 1 - j], [0, 0]]) for j in range(k)])
    return tf.expand_dims(full[:, pad_before : pad_before + length], 1)


@tf.RegisterGradient("KerasImlDeepLiftConv2DInput")
def _conv2d_input_grad(op, grad):
    x, filt = op.inputs
    fast = _fast_path(op)
    if fast is not None and rules.fusing(op.graph):
        kernel, pad_before = fast
        length = tf.shape(x)[2]
        fused = tf.function(lambda g, f, n: _overlap_add(g, f, pad_before, n),
                            jit_compile=True, autograph=False)
        return fused(grad, filt, length), None
    attrs = {k: op.get_attr(k) for k in
             ("strides", "padding", "explicit_paddings", "dilations", "data_format")}
    attrs["use_cudnn_on_gpu"] = op.get_attr("use_cudnn_on_gpu")
    dx = tf.raw_ops.Conv2DBackpropInput(input_sizes=tf.shape(x), filter=filt,
                                        out_backprop=grad, **attrs)
    return dx, None


#: Op type -> registered gradient name (merged with the rules' overrides).
OVERRIDES = {"Conv2D": "KerasImlDeepLiftConv2DInput"}
