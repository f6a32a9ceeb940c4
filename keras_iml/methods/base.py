"""The shallow base class of attribution methods and the method registry."""

import inspect

import numpy as np

__all__ = ["AttributionMethod", "register", "get", "names", "hypothetical_from_multipliers"]

_REGISTRY = {}


class AttributionMethod:
    """Base of every attribution method.

    A subclass's ``__init__`` takes explicit keyword parameters and only stores them
    under the same names (scikit-learn style): that is what ``get_config`` reads.
    Parameter values are checked in ``check_params``, which the engine calls before
    running. ``attribute`` does the work for one batch.

    Class attributes:
        name: the registered name (set by ``@register``).
        stochastic: True when the method draws random numbers (references, noise);
            it then uses the per-sequence generators it is given, which makes results
            independent of the batch size and reproducible under a seed.
    """

    name = None
    stochastic = False

    def get_config(self):
        """The constructor parameters, as a dict."""
        return {p: getattr(self, p) for p in self.option_names()}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @classmethod
    def option_names(cls):
        """Names of the constructor's parameters."""
        params = inspect.signature(cls.__init__).parameters
        return [p for p in params if p != "self"]

    def per_sequence_options(self):
        """Names of options that hold one entry per sequence (along their first axis).

        The engine gives each batch a copy of the method with those options cut to
        the batch's rows, so per-sequence arrays (e.g. one baseline per sequence)
        work with any ``batch_size``. None by default.
        """
        return ()

    def check_params(self, function):  # noqa: ARG002 - hook
        """Raises ValueError for invalid parameter values. ``function`` is the ModelFunction."""

    def attribute(self, function, x, rngs):
        """Attributions for one batch.

        Args:
            function: a :class:`keras_iml.targets.ModelFunction`.
            x: float32 one-hot batch ``(B, L, 4)``.
            rngs: one ``numpy.random.Generator`` per sequence of the batch.

        Returns:
            dict with ``"values"`` ``(B, L, 4)`` and optionally ``"hypothetical"``
            ``(B, L, 4)`` and ``"convergence_delta"`` ``(B,)``.
        """
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={_short(v)}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _short(value):
    if isinstance(value, np.ndarray):
        return f"<array {value.shape}>"
    return repr(value)


def hypothetical_from_multipliers(multipliers, reference):
    """Hypothetical contributions from per-base multipliers and a reference.

    For a method whose attribution is ``(x - r) * m``, the contribution that base
    ``b`` would make at position ``i`` is ``sum_c (e_b - r)[i, c] * m[i, c]``
    ``= m[i, b] - sum_c r[i, c] * m[i, c]``. With ``x`` one-hot this satisfies
    ``values == hypothetical * x``.

    Args:
        multipliers: ``(B, L, 4)``.
        reference: ``(B, L, 4)`` (broadcastable), or None for a zero reference.
    """
    if reference is None:
        return multipliers
    return multipliers - np.sum(reference * multipliers, axis=-1, keepdims=True)


def register(name):
    """Class decorator adding an attribution method to the registry under ``name``.

    Example:
        >>> @register("my_method")
        ... class MyMethod(AttributionMethod):
        ...     def attribute(self, function, x, rngs):
        ...         return {"values": function.gradient(x) * x}
    """

    def decorator(cls):
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"An attribution method named {name!r} is already registered.")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorator


def names():
    """Sorted names of every registered method."""
    return sorted(_REGISTRY)


def get(identifier, **options):
    """Returns a method instance from a name, a config dict or an instance.

    Args:
        identifier: ``"integrated_gradients"``; ``{"class_name": name, "config": {...}}``
            (or ``{"name": name, **options}``); or an ``AttributionMethod``.
        **options: constructor options (with a name or config only).

    Example:
        >>> get("integrated_gradients", steps=32)
    """
    if isinstance(identifier, AttributionMethod):
        if options:
            raise ValueError(
                "Options cannot be given with a method instance. "
                f"Received: options={sorted(options)}"
            )
        return identifier
    if isinstance(identifier, dict):
        config = dict(identifier)
        if "class_name" in config:
            name, cfg = config["class_name"], dict(config.get("config") or {})
        elif "name" in config:
            name = config.pop("name")
            cfg = config
        else:
            raise ValueError(
                "A method config needs a 'class_name' (or 'name') key. "
                f"Received: method={identifier!r}"
            )
        return get(name, **{**cfg, **options})
    if isinstance(identifier, type) and issubclass(identifier, AttributionMethod):
        return identifier(**options)
    if not isinstance(identifier, str):
        raise TypeError(
            "`method` must be a name, a config dict or an AttributionMethod. "
            f"Received: method of type {type(identifier).__name__}"
        )
    if identifier not in _REGISTRY:
        raise ValueError(f"Unknown method: {identifier!r}. Available: {names()}")
    cls = _REGISTRY[identifier]
    unknown = sorted(set(options) - set(cls.option_names()))
    if unknown:
        raise ValueError(
            f"Unknown option(s) {unknown} for method {identifier!r}. "
            f"Valid options: {cls.option_names()}"
        )
    return cls(**options)
