"""Model checks against an independent biological signal: inserting a TF's motif.

A converted model is only trusted when a known signal moves it: inserting the
consensus of its TF's JASPAR motif into background sequences should raise its score.
:func:`insertion_effect` measures that for any Keras model; :func:`deepbind_sweep`
runs it over many DeepBind models quickly by reusing one compiled model per
architecture variant (the weights are swapped with ``set_weights``). The catalogue's
``consensus_raise`` column is measured with it (``model_zoo/build_catalogue.py``).
"""

import numpy as np
import pandas as pd
import tensorflow as tf

from keras_iml import dna
from keras_iml.zoo.families.deepbind.scan import DeepBindScan, build_deepbind

__all__ = ["insert", "insertion_effect", "deepbind_sweep", "jaspar_consensus"]


def insert(x, site, start=None):
    """Copies ``x`` ``(N, L, 4)`` with the DNA string ``site`` written at ``start`` (centre)."""
    site_x = dna.one_hot(site)[0]
    length = x.shape[1]
    if len(site) > length:
        raise ValueError(f"`site` ({len(site)} bp) is longer than the sequences ({length} bp).")
    start = (length - len(site)) // 2 if start is None else int(start)
    out = np.array(x, dtype=np.float32, copy=True)
    out[:, start : start + len(site)] = site_x
    return out


def insertion_effect(predict, backgrounds, site, column=0):
    """Share of backgrounds whose output rises when ``site`` is inserted, and the median rise.

    Args:
        predict: a callable ``x -> (N, K)`` outputs (e.g. a Keras model).
        backgrounds: one-hot ``(N, L, 4)``.
        site: DNA string inserted at the centre.
        column: output column.

    Returns:
        ``(fraction_raised, median_difference)``.
    """
    both = np.concatenate([backgrounds, insert(backgrounds, site)])
    out = np.asarray(predict(both)).reshape(len(both), -1)[:, column]
    base, inserted = out[: len(backgrounds)], out[len(backgrounds):]
    return float(np.mean(inserted > base)), float(np.median(inserted - base))


def jaspar_consensus(motif_id):
    """The consensus string of a JASPAR matrix (pyjaspar, offline)."""
    from pyjaspar import jaspardb

    motif = jaspardb().fetch_motif_by_id(motif_id)
    if motif is None:
        raise ValueError(f"Unknown JASPAR matrix ID. Received: {motif_id!r}")
    return str(motif.consensus)


def deepbind_sweep(params, sites, *, length=101, n_backgrounds=50, gc=0.5, seed=0):
    """Insertion effects of many DeepBind models, one compiled model per variant.

    Args:
        params: dict model ID -> :class:`~keras_iml.zoo.families.deepbind.params.DeepBindParams`
            (see :func:`~keras_iml.zoo.families.deepbind.params.read_params`).
        sites: dict model ID -> DNA string (or list of strings) to insert.
        length, n_backgrounds, gc, seed: the i.i.d. backgrounds.

    Returns:
        DataFrame with columns ``model_id``, ``site``, ``fraction_raised``, ``median_effect``.
    """
    backgrounds = dna.random_sequences(n_backgrounds, length, gc=gc, rng=np.random.default_rng(seed))
    spec = [tf.TensorSpec([None, length, 4], tf.float32)]
    templates, rows = {}, []
    for model_id, p in params.items():
        if p.variant not in templates:
            model = build_deepbind(p, length)
            templates[p.variant] = (model, tf.function(model, input_signature=spec))
        model, fn = templates[p.variant]
        model.get_layer("deepbind").set_weights(DeepBindScan.stack_params([p]))
        for site in np.atleast_1d(sites[model_id]):
            frac, effect = insertion_effect(lambda x, fn=fn: fn(x).numpy(), backgrounds, str(site))
            rows.append({"model_id": model_id, "site": str(site), "fraction_raised": frac,
                         "median_effect": effect})
    return pd.DataFrame(rows)
