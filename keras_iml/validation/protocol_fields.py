"""Checks of a :class:`~keras_iml.validation.protocol.Protocol`'s fields.

Each turns one field of a protocol (a dict, a YAML file or constructor arguments)
into its checked form, or raises ``ValueError``/``TypeError`` naming the field as
``protocol['<key>']`` and what was received.
"""

import numpy as np

__all__ = ["as_options", "check_option_keys", "is_number", "check_k", "check_table",
           "check_examples"]


def check_option_keys(opts, kind, label):
    bad = [k for k in opts if not isinstance(k, str)]
    if bad:
        raise TypeError(f"Option names of {kind} {label!r} in `protocol['{kind}s']` must be "
                        f"strings. Received: {bad[:3]!r}")
    return opts


def as_options(spec, kind):
    """A list of names or a dict name -> options becomes an ordered dict of option dicts."""
    if spec is None:
        return None
    if isinstance(spec, str):
        spec = [spec]
    if isinstance(spec, dict):
        out = {}
        for label, opts in spec.items():
            if not isinstance(label, str):
                raise TypeError(f"{kind.capitalize()} names in `protocol['{kind}s']` must be "
                                f"strings. Received: {label!r}")
            if opts is not None and not isinstance(opts, dict):
                raise ValueError(
                    f"Options of {kind} {label!r} must be a dict. Received: {opts!r}"
                )
            out[label] = check_option_keys(dict(opts or {}), kind, label)
        return out
    if isinstance(spec, (list, tuple)):
        out = {}
        for item in spec:
            if isinstance(item, dict):
                key = item.get("name") or item.get("class_name")
                if key is None:
                    raise ValueError(f"A {kind} config needs a 'name'. Received: {item!r}")
                if not isinstance(key, str):
                    raise TypeError(f"The 'name' of a {kind} config in `protocol['{kind}s']` "
                                    f"must be a string. Received: {item!r}")
                out[key] = check_option_keys(
                    {k: v for k, v in item.items() if k != "name"}, kind, key)
            elif isinstance(item, str):
                out[item] = {}
            else:
                raise TypeError(f"{kind} entries must be names or dicts. Received: {item!r}")
        return out
    raise TypeError(f"`{kind}s` must be a list of names or a dict. Received: {type(spec).__name__}")


def is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_))


def check_k(k):
    """``k``: one top-k percentage or a list of them, each in (0, 100]."""
    values = list(k) if isinstance(k, (list, tuple, np.ndarray)) else [k]
    if not values or not all(is_number(v) and 0 < float(v) <= 100 for v in values):
        raise ValueError(
            "`protocol['k']` must be a percentage in (0, 100] or a non-empty list of them. "
            f"Received: k={k!r}")
    return [float(v) if not float(v).is_integer() else int(v) for v in values]


def check_table(table, key):
    """``thresholds`` / ``adverse_thresholds``: a dict metric or row name -> number or None."""
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise TypeError(f"`protocol['{key}']` must be a dict metric name -> threshold. "
                        f"Received: {key} of type {type(table).__name__}")
    for name, value in table.items():
        if not isinstance(name, str):
            raise TypeError(f"The keys of `protocol['{key}']` must be metric or row names. "
                            f"Received: {name!r}")
        if value is not None and not (is_number(value) and np.isfinite(float(value))):
            raise ValueError(
                f"`protocol['{key}'][{name!r}]` must be a number or None. Received: {value!r}")
    return dict(table)


def check_examples(examples):
    """``examples``: None or ``{"n_random": int >= 0}``."""
    if examples is None:
        return {"n_random": 3}
    if not isinstance(examples, dict) or set(examples) - {"n_random"}:
        raise ValueError("`protocol['examples']` must be a dict {'n_random': int}. "
                         f"Received: examples={examples!r}")
    n = examples.get("n_random", 3)
    if not (is_number(n) and float(n).is_integer() and n >= 0):
        raise ValueError("`protocol['examples']['n_random']` must be an int >= 0. "
                         f"Received: n_random={n!r}")
    return {"n_random": int(n)}
