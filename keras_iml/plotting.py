"""Small plotting helpers (matplotlib + logomaker), imported lazily."""

import numpy as np

__all__ = ["attribution_logo"]


def attribution_logo(values, ax=None, alphabet="ACGT", title=None):
    """Draws an ``(L, 4)`` attribution matrix as a sequence logo.

    Args:
        values: array ``(L, 4)``.
        ax: matplotlib axes to draw on (a new figure when None).
        alphabet: column letters.
        title: optional axes title.

    Returns:
        The matplotlib axes.
    """
    import logomaker
    import matplotlib.pyplot as plt
    import pandas as pd

    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[1] != len(alphabet):
        raise ValueError(
            f"`values` must have shape (L, {len(alphabet)}). Received: values.shape={values.shape}"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4, values.shape[0] / 12), 1.8))
    frame = pd.DataFrame(values, columns=list(alphabet))
    logomaker.Logo(frame, ax=ax, shade_below=0.3, fade_below=0.3)
    ax.axhline(0, color="0.6", lw=0.5)
    ax.set_xlabel("position")
    ax.set_ylabel("attribution")
    if title:
        ax.set_title(title)
    return ax
