"""tf-explain's gradient helpers behind keras_iml's interface.

tf-explain 0.3 is written for image classifiers: every ``Explainer.explain()``
post-processes attributions into image grids and fails on ``(N, L, 4)`` sequences
(:func:`tf_explain_explain` says why, per explainer). Its low-level gradient
helpers do run on sequence models and are wrapped here: ``VanillaGradients`` and
``GradientsInputs`` ``compute_gradients``, and ``IntegratedGradients``'
interpolation and path-gradient helpers (which return the mean path gradient: the
``x - baseline`` factor is applied here). They index the output as
``scores[:, class_index]``, so the model's output must be 2-D ``(N, K)``.
"""

import numpy as np

from keras_iml.adapters._common import import_optional, predict_column, prepare
from keras_iml.attributions import Attributions

__all__ = [
    "tf_explain_saliency",
    "tf_explain_gradients_inputs",
    "tf_explain_integrated_gradients",
    "tf_explain_explain",
    "EXPLAIN_INCOMPATIBILITIES",
]

_IMAGE_GRID = (
    "its explain() turns attributions into a grayscale image grid "
    "(tf_explain.utils.image.transform_to_normalized_grayscale needs (N, H, W, C) "
    "images) and fails on (N, L, 4) sequences"
)

#: Why each tf-explain ``explain()`` cannot run on one-hot DNA, by explainer name.
EXPLAIN_INCOMPATIBILITIES = {
    "VanillaGradients": f"{_IMAGE_GRID}; use tf_explain_saliency (its gradient helper)",
    "GradientsInputs": f"{_IMAGE_GRID}; use tf_explain_gradients_inputs",
    "IntegratedGradients": f"{_IMAGE_GRID}; use tf_explain_integrated_gradients",
    "SmoothGrad": (
        f"{_IMAGE_GRID}; its gradient helper reads `model.output` (undefined for Keras 3 "
        "Sequential models) and differentiates a categorical cross-entropy over the "
        "class, which is constant for a single-output model (all-zero gradients); use "
        "keras_iml's 'smoothgrad'"
    ),
    "GradCAM": (
        "it averages gradients over axes (0, 1) of each 3-D image feature map, which for a "
        "1-D map (L, filters) also averages over filters, and needs Keras 2 layer "
        "attributes (`output_shape`); use keras_iml's 'grad_cam'"
    ),
    "OcclusionSensitivity": (
        "it occludes square patches of (H, W, C) images (IndexError on sequences); use "
        "keras_iml's 'occlusion'"
    ),
    "ExtractActivations": "it draws feature maps of image layers as an image grid",
}


def _core(module, name):
    return getattr(import_optional(f"tf_explain.core.{module}", "tf-explain"), name)


def _prepare(model, x, target):
    x, column = prepare(model, x, target)
    if column is None:
        raise ValueError(
            "tf-explain's gradient helpers index the model output as scores[:, class_index] "
            "and need a 2-D output (N, K); this model's output is 1-D (N,)."
        )
    return x, column


def _attributions(values, method, x, column, params=None, **extra):
    return Attributions(
        np.asarray(values, np.float32), method=method,
        params={"library": "tf-explain", **(params or {})},
        target={"target": column}, inputs=x, **extra,
    )


def tf_explain_saliency(model, x, *, target=None):
    """tf-explain's ``VanillaGradients.compute_gradients``: ``df/dx`` (signed).

    Args:
        model: a Keras model with a 2-D output ``(N, K)``.
        x: one-hot sequences ``(N, L, 4)`` (or DNA strings).
        target: None (single-column output) or an int column.

    Returns:
        :class:`keras_iml.Attributions` (``method="tf_explain.VanillaGradients"``),
        comparable with keras_iml's ``"saliency"``.

    Example:
        >>> keras_iml.adapters.tf_explain_saliency(model, x)
    """
    x, column = _prepare(model, x, target)
    grads = _core("vanilla_gradients", "VanillaGradients").compute_gradients(x, model, column)
    grads = np.asarray(grads)
    return _attributions(grads, "tf_explain.VanillaGradients", x, column, hypothetical=grads)


def tf_explain_gradients_inputs(model, x, *, target=None):
    """tf-explain's ``GradientsInputs.compute_gradients``: ``x * df/dx``.

    Args:
        model: a Keras model with a 2-D output ``(N, K)``.
        x: one-hot sequences ``(N, L, 4)`` (or DNA strings).
        target: None (single-column output) or an int column.

    Returns:
        :class:`keras_iml.Attributions` (``method="tf_explain.GradientsInputs"``),
        comparable with keras_iml's ``"input_x_gradient"``.

    Example:
        >>> keras_iml.adapters.tf_explain_gradients_inputs(model, x)
    """
    x, column = _prepare(model, x, target)
    values = _core("gradients_inputs", "GradientsInputs").compute_gradients(x, model, column)
    return _attributions(values, "tf_explain.GradientsInputs", x, column)


def tf_explain_integrated_gradients(model, x, *, target=None, steps=10, batch_size=16):
    """Integrated gradients from tf-explain's helpers, with the ``x`` factor applied.

    tf-explain interpolates from the all-zero baseline at ``steps`` points
    ``k / (steps - 1)``, ``k = 0..steps-1`` (both ends included, equal weights) and
    returns the mean gradient; the attribution is ``x * mean gradient``. Its helper
    holds all interpolations of the sequences it is given at once, so sequences are
    passed ``batch_size`` at a time.

    Args:
        model: a Keras model with a 2-D output ``(N, K)``.
        x: one-hot sequences ``(N, L, 4)`` (or DNA strings).
        target: None (single-column output) or an int column.
        steps: interpolation points (>= 2).
        batch_size: sequences per helper call.

    Returns:
        :class:`keras_iml.Attributions` (``method="tf_explain.IntegratedGradients"``)
        with ``convergence_delta = sum(values) - (f(x) - f(0))``.

    Example:
        >>> keras_iml.adapters.tf_explain_integrated_gradients(model, x, steps=50)
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
        raise ValueError(f"`steps` must be an int >= 2. Received: steps={steps!r}")
    x, column = _prepare(model, x, target)
    helper = _core("integrated_gradients", "IntegratedGradients")
    means = []
    for i in range(0, len(x), batch_size):
        chunk = x[i : i + batch_size]
        path = helper.generate_interpolations(chunk, steps).astype(np.float32)
        means.append(np.asarray(helper.get_integrated_gradients(path, model, column, steps)))
    values = x * np.concatenate(means)
    gain = predict_column(model, x, column) - predict_column(model, np.zeros_like(x[:1]), column)
    return _attributions(values, "tf_explain.IntegratedGradients", x, column,
                         params={"steps": steps},
                         convergence_delta=values.sum(axis=(1, 2), dtype=np.float64) - gain)


def tf_explain_explain(model, x, explainer, **kwargs):  # noqa: ARG001 - uniform signature
    """tf-explain's high-level ``Explainer.explain()``: always refused on DNA inputs.

    Every tf-explain explainer is written for ``(N, H, W, C)`` images; on one-hot
    sequences ``(N, L, 4)`` each fails or returns an image-shaped map (see
    :data:`EXPLAIN_INCOMPATIBILITIES`). This function raises instead of running it,
    naming the incompatibility and the replacement.

    Args:
        model: the Keras model.
        x: one-hot sequences.
        explainer: a tf-explain explainer name, e.g. ``"GradCAM"``.
        **kwargs: the explainer's options (unused).

    Raises:
        RuntimeError: always, for a known explainer.
        ValueError: an unknown explainer name.
    """
    if explainer not in EXPLAIN_INCOMPATIBILITIES:
        raise ValueError(
            f"Unknown tf-explain explainer. Known: {sorted(EXPLAIN_INCOMPATIBILITIES)}. "
            f"Received: explainer={explainer!r}"
        )
    raise RuntimeError(
        f"tf-explain's {explainer}.explain() cannot run on one-hot DNA sequences (N, L, 4): "
        f"{EXPLAIN_INCOMPATIBILITIES[explainer]}."
    )
