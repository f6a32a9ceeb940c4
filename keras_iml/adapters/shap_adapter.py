"""shap's DeepExplainer and GradientExplainer behind keras_iml's interface.

shap 0.4x-0.5x runs on Keras 3 models with TensorFlow's eager backend, with two
limits handled here:

* ``DeepExplainer`` treats TensorFlow's ``Max`` reduction (``GlobalMaxPooling``
  layers) as an elementwise nonlinearity and fails on it; the adapter finds such
  layers before running and raises a ``ValueError`` naming them. (The same function
  written as ``MaxPooling1D(L) + Flatten`` runs.) When shap fails anyway, its
  exception is re-raised as a ``RuntimeError`` naming shap, after undoing the
  TensorFlow gradient-recording hook that shap leaves installed when it fails
  mid-run (which would otherwise break every later gradient in the process).
* ``GradientExplainer`` seeds numpy's global random state (``np.random.seed``); the
  adapter restores that state afterwards.
"""

import numpy as np

from keras_iml.adapters._common import import_optional, predict_column, prepare
from keras_iml.attributions import Attributions
from keras_iml.methods.deeplift import traced_ops

__all__ = ["shap_deep", "shap_gradient", "shap_deep_incompatibilities"]


def _references(references, x):
    ref = np.asarray(references, dtype=np.float32)
    if ref.ndim == 2:
        ref = ref[None]
    if ref.ndim != 3 or ref.shape[1:] != x.shape[1:]:
        raise ValueError(
            f"`references` must have shape (k, L, 4) with L = {x.shape[1]}. "
            f"Received: references.shape={np.shape(references)}"
        )
    return ref


def shap_deep_incompatibilities(model):
    """Layers of ``model`` that shap's DeepExplainer cannot handle (a list of names).

    shap's op table maps TensorFlow's ``Max`` reduction to its elementwise rule,
    which fails because the reduction changes the tensor's shape.
    """
    ops = traced_ops(model)
    return sorted({layer for kind, layer in ops if kind == "Max"})


def _restore_gradient_recording():
    """Undoes the gradient-recording hook shap's DeepExplainer leaves after a failure."""
    deep_tf = import_optional("shap.explainers._deep.deep_tf", "shap")
    execute, backprop = deep_tf.tf_execute, deep_tf.tf_backprop
    if execute.record_gradient is deep_tf.custom_record_gradient:
        execute.record_gradient = getattr(backprop, "_record_gradient", None) or \
            backprop.record_gradient


def _select(values, n, column):
    """shap's output for one target column, as ``(N, L, 4)`` float32."""
    if isinstance(values, list):  # older shap: one array per model output
        arr = np.asarray(values[column or 0])
    else:  # shap >= 0.45: (N, L, 4, K)
        arr = np.asarray(values)
        if arr.ndim == 4:
            arr = arr[..., column or 0]
    return arr.reshape((n,) + arr.shape[1:3]).astype(np.float32)


def shap_deep(model, x, references, *, target=None):
    """shap's ``DeepExplainer`` (DeepLIFT-SHAP) on a Keras model.

    Every input is explained against every reference (shap's background set) and
    the attributions are averaged, so with the same references this equals
    ``keras_iml.explain(model, x, "deeplift_shap", references=references,
    n_references=len(references))``.

    Args:
        model: a Keras model with one output ``(N,)`` or ``(N, K)``.
        x: one-hot sequences ``(N, L, 4)`` (or DNA strings).
        references: background sequences ``(k, L, 4)`` (or one ``(L, 4)``).
        target: None (single-column output) or an int column.

    Returns:
        :class:`keras_iml.Attributions` with ``method="shap.DeepExplainer"`` and
        ``convergence_delta = sum(values) - (f(x) - mean_k f(r_k))``.

    Raises:
        ValueError: the model has layers shap cannot handle (GlobalMaxPooling).
        RuntimeError: shap failed on the model for another reason.

    Example:
        >>> attr = keras_iml.adapters.shap_deep(model, x, references=background)
    """
    shap = import_optional("shap", "shap")
    x, column = prepare(model, x, target)
    ref = _references(references, x)
    bad = shap_deep_incompatibilities(model)
    if bad:
        raise ValueError(
            "shap's DeepExplainer cannot run on this model: its op table treats "
            "TensorFlow's Max reduction (GlobalMaxPooling) as an elementwise nonlinearity "
            f"and fails on layer(s) {bad}. Use keras_iml's 'deeplift_shap' instead, or "
            "write the head as MaxPooling1D(L) + Flatten for the cross-check."
        )
    try:
        explainer = shap.DeepExplainer(model, ref)
        values = explainer.shap_values(x, check_additivity=False)
    except Exception as err:  # noqa: BLE001 - re-raised naming the library
        _restore_gradient_recording()
        raise RuntimeError(
            f"shap's DeepExplainer failed on this model ({type(err).__name__}: "
            f"{str(err).strip().splitlines()[-1] if str(err).strip() else err!r})."
        ) from err
    values = _project(_select(values, len(x), column), x)
    gain = predict_column(model, x, column) - predict_column(model, ref, column).mean()
    return Attributions(
        values, method="shap.DeepExplainer",
        params={"library": "shap", "version": shap.__version__, "n_references": len(ref)},
        target={"target": None if column is None else column}, inputs=x,
        convergence_delta=values.sum(axis=(1, 2), dtype=np.float64) - gain,
    )


def shap_gradient(model, x, references, *, target=None, n_samples=200, seed=0,
                  batch_size=50):
    """shap's ``GradientExplainer`` (expected gradients) on a Keras model.

    For each input, ``n_samples`` (reference, interpolation point) pairs are drawn
    by shap from the background set; the attribution is the mean of
    ``grad f(r + a (x - r)) * (x - r)`` - the quantity keras_iml's
    ``expected_gradients`` estimates with per-sequence generators.

    Args:
        model: a Keras model with one output ``(N,)`` or ``(N, K)``.
        x: one-hot sequences ``(N, L, 4)`` (or DNA strings).
        references: background sequences ``(k, L, 4)``.
        target: None (single-column output) or an int column.
        n_samples: samples per input.
        seed: shap's ``rseed`` (numpy's global state is restored afterwards).
        batch_size: shap's batch size.

    Returns:
        :class:`keras_iml.Attributions` with ``method="shap.GradientExplainer"``.

    Example:
        >>> attr = keras_iml.adapters.shap_gradient(model, x, background, n_samples=500)
    """
    shap = import_optional("shap", "shap")
    x, column = prepare(model, x, target)
    ref = _references(references, x)
    state = np.random.get_state()
    try:
        explainer = shap.GradientExplainer(model, ref, batch_size=batch_size)
        values = explainer.shap_values(x, nsamples=n_samples, rseed=seed)
    except Exception as err:  # noqa: BLE001 - re-raised naming the library
        raise RuntimeError(
            f"shap's GradientExplainer failed on this model ({type(err).__name__}: {err})."
        ) from err
    finally:
        np.random.set_state(state)
    values = _project(_select(values, len(x), column), x)
    return Attributions(
        values, method="shap.GradientExplainer",
        params={"library": "shap", "version": shap.__version__, "n_samples": n_samples,
                "seed": seed, "n_references": len(ref)},
        target={"target": None if column is None else column}, inputs=x,
    )


def _project(values, x):
    """shap's ``(x - r) * m`` summed per position onto the observed base.

    keras_iml's convention for reference-based methods (see ``Attributions``);
    per-position and total sums are unchanged.
    """
    return (np.asarray(values, np.float32).sum(-1, keepdims=True) * x).astype(np.float32)

