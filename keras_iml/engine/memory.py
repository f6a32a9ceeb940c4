"""Chunk sizes that follow from a stated memory budget.

Every compiled call of a method (a chunk of interpolated inputs, of (input,
reference) pairs, of mutants) holds the model's activations for each of its rows,
for the forward pass and, for gradients and DeepLIFT, again for the backward pass.
:func:`activation_floats` counts a model's activations per input from its layers'
output shapes; :func:`rows_per_call` turns :data:`CALL_BUDGET_MB` into the number
of rows per call, so a large model (FactorNet's 1-kb inputs through a recurrent
layer) gets small chunks and a small one keeps the method's usual chunk. The
figures per zoo family are measured in ``benchmarks/bench_memory.py``.
"""

import math

import keras

__all__ = ["CALL_BUDGET_MB", "activation_floats", "rows_per_call"]

#: Memory one compiled call of a method may take for the model's activations (MB).
CALL_BUDGET_MB = 256


def _floats(shape, length):
    dims = [length if d is None else int(d) for d in tuple(shape)[1:]]
    return math.prod(dims) if dims else 1


def activation_floats(model, length):
    """Floats of activations one input of ``length`` positions creates in ``model``.

    The sum of every layer's output size (inside nested models too), a free length
    read as ``length``: an upper bound where a layer downsamples a free length.

    Returns:
        An int, or None when the layers' shapes cannot be read (subclassed models).
    """
    total = 0
    try:
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            if isinstance(layer, keras.Model):
                inner = activation_floats(layer, length)
                if inner is None:
                    return None
                total += inner
                continue
            for tensor in keras.tree.flatten(layer.output):
                total += _floats(tensor.shape, length)
    except (AttributeError, ValueError, TypeError):
        return None
    return total or None


def rows_per_call(model, length, *, upper, passes=3, budget_mb=None):
    """Rows of one compiled call that fit the budget, at most ``upper``.

    Args:
        model: the Keras model (taking one-hot DNA).
        length: the inputs' length.
        upper: the most rows per call (the method's usual chunk).
        passes: activation copies a row holds (3: forward, backward and the
            gradients of a gradient pass).
        budget_mb: the budget (default :data:`CALL_BUDGET_MB`).

    Returns:
        An int in ``[1, upper]``; ``upper`` when the activations cannot be counted.
    """
    floats = activation_floats(model, length)
    if not floats:
        return int(upper)
    budget = (CALL_BUDGET_MB if budget_mb is None else budget_mb) * 2**20
    return int(max(1, min(upper, budget // (4 * passes * floats))))
