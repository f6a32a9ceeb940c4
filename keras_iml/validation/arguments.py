"""Checks and normalisation of the arguments of :func:`keras_iml.validate`.

Every user error is a ValueError (or TypeError) naming the argument and what was
received.
"""

import numpy as np
import pandas as pd

import keras
from keras_iml import _checks
from keras_iml import methods as _methods
from keras_iml.attributions import Attributions
from keras_iml.explainer import Explainer
from keras_iml.methods.base import AttributionMethod

__all__ = [
    "resolve_methods",
    "check_attributions",
    "check_ground_truth",
    "check_ensemble",
    "check_y",
    "check_names",
    "with_names",
    "examples_with_names",
]

_INSTANCE_COLUMNS = ("seq", "start", "end", "role")


def _label(item):
    if isinstance(item, str):
        return item
    if isinstance(item, AttributionMethod):
        return item.name or type(item).__name__
    if isinstance(item, dict):
        return item.get("name") or item.get("class_name")
    raise TypeError(
        "`methods` entries must be names, config dicts or AttributionMethod instances. "
        f"Received: an entry of type {type(item).__name__}"
    )


def _unique(label, taken):
    key, k = label, 2
    while key in taken:
        key, k = f"{label}#{k}", k + 1
    return key


def resolve_methods(methods, protocol, attributions, has_model=True):
    """Labels -> method instances (None: precomputed and not re-runnable).

    ``methods=None`` takes the protocol's methods (none without a model: only the
    precomputed attributions are scored); names listed in the protocol keep its
    options. Precomputed attributions are added under their keys.
    """
    if methods is None:
        labels = protocol.methods if has_model else []
        specs = {label: protocol.method_instance(label) for label in labels}
    else:
        if isinstance(methods, (str, AttributionMethod)) or (
            isinstance(methods, dict) and ("name" in methods or "class_name" in methods)
        ):
            methods = [methods]
        if isinstance(methods, dict):  # label -> options (or a name / an instance)
            items = []
            for label, spec in methods.items():
                if spec is None or isinstance(spec, dict):
                    opts = dict(spec or {})
                    spec = {"name": opts.pop("name", label), **opts}
                items.append((spec, str(label)))
        elif isinstance(methods, (list, tuple)):
            items = [(m, None) for m in methods]
        else:
            raise TypeError(
                "`methods` must be None, a name, a list of names/configs/instances or a dict "
                f"label -> options. Received: methods of type {type(methods).__name__}"
            )
        if not items:
            raise ValueError("`methods` must name at least one method. Received: methods=[]")
        specs = {}
        for item, label in items:
            label = _unique(label or _label(item), specs)
            if isinstance(item, str) and item in protocol.methods:
                specs[label] = protocol.method_instance(item)
            else:
                specs[label] = _methods.get(item)
    for label, attr in (attributions or {}).items():
        if label not in specs:
            specs[label] = _reconstruct(attr)
    if not specs:
        raise ValueError("`methods` must name at least one method. Received: the protocol lists none")
    return specs


def _reconstruct(attr):
    """The method that computed ``attr``, from the registry and its params, or None."""
    if attr.method not in _methods.names():
        return None
    cls = _methods.get(attr.method).__class__
    opts = {k: v for k, v in attr.params.items() if k in cls.option_names()}
    if any(isinstance(v, str) and v.startswith("<array") for v in opts.values()):
        return None
    try:
        return _methods.get(attr.method, **opts)
    except (TypeError, ValueError):
        return None


def check_attributions(attributions, x):
    """Checks precomputed attributions against ``x``; returns a dict (maybe empty)."""
    if attributions is None:
        return {}
    if isinstance(attributions, Attributions):
        attributions = {attributions.method: attributions}
    if not isinstance(attributions, dict):
        raise TypeError(
            "`attributions` must be a dict label -> Attributions. "
            f"Received: attributions of type {type(attributions).__name__}"
        )
    for label, attr in attributions.items():
        if not isinstance(attr, Attributions):
            raise TypeError(
                f"`attributions[{label!r}]` must be an Attributions. Received: {type(attr).__name__}"
            )
        if attr.values.shape != x.shape:
            raise ValueError(
                f"`attributions[{label!r}]` must match x. Received: "
                f"attributions[{label!r}].values.shape={attr.values.shape} for x.shape={x.shape}"
            )
        if attr.inputs is not None and not np.allclose(attr.inputs, x, atol=1e-4):
            raise ValueError(
                f"`attributions[{label!r}]` was computed for other sequences than x "
                "(its .inputs differ from x)."
            )
    return dict(attributions)


def _table_rows(seqs, names, n):
    """Row index of each ``seq`` entry of an instance table: an index, or a name."""
    where = None if names is None else {name: i for i, name in reversed(list(enumerate(names)))}
    rows = []
    for seq in seqs:
        if isinstance(seq, str) and where is not None and seq in where:
            rows.append(where[seq])
            continue
        try:
            rows.append(int(seq))
        except (TypeError, ValueError) as err:
            known = "" if names is None else f" or one of the sequence names ({names[:3]}...)"
            raise ValueError(
                f"`ground_truth`'s `seq` column must hold sequence indices (0 to {n - 1}){known}. "
                f"Received: seq={seq!r}"
            ) from err
    return rows


def _mask_from_table(table, x, names=None):
    missing = [c for c in _INSTANCE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(
            f"A `ground_truth` table needs the columns {list(_INSTANCE_COLUMNS)}. "
            f"Received columns: {list(table.columns)}"
        )
    n, length = x.shape[:2]
    mask = np.zeros((n, length), dtype=np.int8)
    for role, value in (("decoy", 2), ("true", 1)):  # true wins where they overlap
        rows = table[table["role"] == role]
        for seq, row, start, end in zip(rows["seq"], _table_rows(rows["seq"], names, n),
                                        rows["start"], rows["end"]):
            if not (0 <= row < n and 0 <= int(start) < int(end) <= length):
                raise ValueError(
                    f"`ground_truth` has an instance outside x (seq={seq!r}, start={start}, "
                    f"end={end}) for x.shape={x.shape}"
                )
            mask[row, int(start) : int(end)] = value
    return mask


def check_ground_truth(ground_truth, x, names=None):
    """Returns an int8 ``(N, L)`` mask (1 true motif, 2 decoy, 0 other) or None.

    With ``names``, the ``seq`` column of an instance table may hold sequence names.
    """
    if ground_truth is None:
        return None
    if isinstance(ground_truth, pd.DataFrame):
        return _mask_from_table(ground_truth, x, names)
    if isinstance(ground_truth, dict):
        if "true" not in ground_truth:
            raise ValueError(
                "A `ground_truth` dict needs a 'true' mask (and optionally 'decoy'). "
                f"Received keys: {sorted(ground_truth)}"
            )
        true = check_ground_truth(np.asarray(ground_truth["true"]).astype(bool), x)
        decoy = ground_truth.get("decoy")
        if decoy is None:
            decoy = np.zeros_like(true)
        else:
            decoy = check_ground_truth(np.asarray(decoy).astype(bool), x)
        return np.where(true == 1, 1, np.where(decoy == 1, 2, 0)).astype(np.int8)
    mask = np.asarray(ground_truth)
    if mask.shape != x.shape[:2]:
        raise ValueError(
            f"`ground_truth` must be a (N, L) mask matching x.shape={x.shape}. "
            f"Received: ground_truth.shape={mask.shape}"
        )
    if mask.dtype == bool:
        return mask.astype(np.int8)
    if not np.issubdtype(mask.dtype, np.number) or not np.isin(mask, (0, 1, 2)).all():
        raise ValueError(
            "`ground_truth` values must be 0 (background), 1 (true motif) or 2 (decoy). "
            f"Received values: {np.unique(mask)[:10].tolist()}"
        )
    return mask.astype(np.int8)


def check_ensemble(ensemble, x, model, explain_kwargs, aux=None):
    """Checks ensemble members take x and have the explained target; returns a list or None."""
    if ensemble is None:
        return None
    if isinstance(ensemble, keras.Model) or not isinstance(ensemble, (list, tuple)):
        raise TypeError(
            "`ensemble` must be a list of keras models. "
            f"Received: ensemble of type {type(ensemble).__name__}"
        )
    if not ensemble:
        return None
    expected = _checks.model_input_shape(model) if model is not None else None
    for i, member in enumerate(ensemble):
        if not isinstance(member, keras.Model):
            raise TypeError(f"`ensemble[{i}]` must be a keras.Model. Received: {type(member).__name__}")
        shape = _checks.model_input_shape(member)
        if shape is not None and (
            (shape[0] is not None and shape[0] != x.shape[1]) or shape[1] not in (None, 4)
            or (expected is not None and tuple(shape) != tuple(expected))
        ):
            raise ValueError(
                f"`ensemble[{i}]` takes inputs of shape {shape}, unlike the validated model "
                f"({expected}) and x.shape={x.shape}. Received: ensemble[{i}].input_shape={shape}"
            )
        try:
            Explainer(member, target=explain_kwargs.get("target"),
                      logit=explain_kwargs.get("logit", False)).predict(
                x[:1], aux=None if aux is None else [a[:1] for a in aux])
        except Exception as err:  # noqa: BLE001 - re-raised naming the argument
            raise ValueError(f"`ensemble[{i}]` cannot explain the same target on x: {err}") from err
    return list(ensemble)


def check_y(y, n):
    """Returns ``y`` as a numpy array with N rows, or None."""
    if y is None:
        return None
    y = np.asarray(y)
    if y.ndim == 0 or y.shape[0] != n:
        raise ValueError(f"`y` must have one row per sequence (N={n}). Received: y.shape={y.shape}")
    if y.dtype.kind not in "biuf":
        raise TypeError(f"`y` must hold numbers (labels 0/1 or measured values). "
                        f"Received: y.dtype={y.dtype}")
    bad = np.flatnonzero(~np.isfinite(y.reshape(n, -1).astype(np.float64)).all(axis=1))
    if bad.size:
        raise ValueError(
            f"`y` must be finite: {bad.size} of {n} rows hold NaN or inf (first at index "
            f"{int(bad[0])}); drop those sequences or pass y=None. Received: y with NaN/inf "
            f"at rows {bad[:5].tolist()}")
    return y


def check_names(names, attributions, n):
    """The run's sequence names: ``names`` (already split from ``x``) or, when None,
    those every precomputed Attributions carries alike; a list of ``n`` strings or None.

    Raises:
        ValueError: ``names`` disagrees with names carried by ``attributions``.
    """
    names = _checks.check_names(names, n)
    carried = {label: a.names for label, a in (attributions or {}).items() if a.names is not None}
    for label, other in carried.items():
        if names is not None and list(other) != names:
            raise ValueError(
                f"`attributions[{label!r}]` carries other sequence names than `names` "
                f"(first: {other[0]!r} vs {names[0]!r}); they were computed on other sequences "
                "or in another order."
            )
        names = list(other) if names is None else names
    return names


def with_names(frame, names):
    """``frame`` with a ``name`` column after its integer ``seq`` column (unchanged without names)."""
    if names is None or "seq" not in frame.columns or "name" in frame.columns:
        return frame
    lookup = np.asarray(names, dtype=object)
    seq = pd.to_numeric(frame["seq"], errors="coerce")
    ok = seq.notna() & (seq >= 0) & (seq < len(lookup))
    column = pd.Series(None, index=frame.index, dtype=object)
    column[ok] = lookup[seq[ok].astype(np.int64).to_numpy()]
    frame = frame.copy()
    frame.insert(list(frame.columns).index("seq") + 1, "name", column)
    return frame


def examples_with_names(examples, names):
    """The report's example items, each with its sequence's ``name`` (unchanged without names)."""
    if names is None or not isinstance(examples, dict):
        return examples
    items = [dict(item, name=names[int(item["seq"])]) if "seq" in item else item
             for item in examples.get("items", [])]
    return {**examples, "items": items}
