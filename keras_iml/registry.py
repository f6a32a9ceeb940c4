"""One registry, shared by attribution methods and validation metrics.

Methods (:mod:`keras_iml.methods`) and metrics (:mod:`keras_iml.metrics`) are
registered, looked up and configured the same way, as in Keras 3's own families
(``keras.optimizers.get``): :meth:`Registry.get` accepts

* a registered name: ``"integrated_gradients"``;
* a config: ``{"class_name": name, "config": {...}}`` (what :meth:`Registry.serialize`
  writes) or the short form ``{"name": name, **options}``;
* an instance (returned as it is) or a registered class (instantiated).

Classes follow scikit-learn's convention: ``__init__`` takes explicit keyword
parameters and only stores them under the same names, which is what
:meth:`Configurable.get_config` reads; values are checked when the object is used.

Example:
    >>> from keras_iml import methods
    >>> ig = methods.get({"class_name": "integrated_gradients", "config": {"steps": 32}})
    >>> methods.serialize(ig)["config"]["steps"]
    32
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
from typing import Callable

__all__ = ["Configurable", "Registry", "import_submodules"]


def import_submodules(package, path, skip=()):
    """Imports every module of a package, so that the registrations they hold run.

    Args:
        package: the package's name (its ``__name__``).
        path: the package's ``__path__``.
        skip: module names not to import (names starting with ``_`` never are).

    Returns:
        The names of the modules imported, in order.

    Example:
        >>> import_submodules(__name__, __path__, skip=("base",))  # in a package's __init__
    """
    imported = []
    for info in pkgutil.iter_modules(path):
        if not info.name.startswith("_") and info.name not in skip:
            importlib.import_module(f"{package}.{info.name}")
            imported.append(info.name)
    return imported


class Configurable:
    """Base of registered classes: configuration read from the constructor's parameters."""

    #: The registered name (set by :meth:`Registry.register`).
    name = None

    @classmethod
    def option_names(cls) -> list[str]:
        """Names of the constructor's keyword parameters."""
        params = inspect.signature(cls.__init__).parameters
        return [p for p, v in params.items() if p != "self"
                and v.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]

    def get_config(self) -> dict:
        """The constructor parameters, as a dict."""
        return {p: getattr(self, p) for p in self.option_names()}

    @classmethod
    def from_config(cls, config):
        """An instance from :meth:`get_config`'s output."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={_short(v)}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _short(value):
    shape = getattr(value, "shape", None)
    if shape is not None and not isinstance(value, (int, float)):
        return f"<array {tuple(shape)}>"
    return repr(value)


class Registry:
    """Registered plugins of one family: the package's one plugin mechanism.

    Attribution methods, metrics, surrogates, query libraries and control arms
    register classes (``get`` then builds an instance from a name, a config dict, a
    class or an instance); zoo families register instances (``plugins="instances"``)
    and fast paths functions (``plugins="functions"``). Every registry keeps a
    declared ``priority`` per plugin (:meth:`ordered` lists them highest first) and
    at most one ``fallback`` (the plugin serving names nobody claims).

    Args:
        kind: the family's argument name in messages (``"method"``, ``"metric"``).
        base: the base class every registered plugin derives from (or is an
            instance of); None for functions.
        check: optional ``check(name, plugin)`` raising ValueError for a plugin that
            does not declare what the family needs (e.g. a metric's tier).
        plugins: ``"classes"`` (default), ``"instances"`` or ``"functions"``.
    """

    def __init__(self, kind: str, base: type | None = None,
                 check: Callable[[str, object], None] | None = None, *, plugins: str = "classes"):
        if plugins not in ("classes", "instances", "functions"):
            raise ValueError(f"`plugins` must be 'classes', 'instances' or 'functions'. Received: {plugins!r}")
        self.kind = kind
        self.base = base
        self.plugins = plugins
        self._check = check
        self._classes = {}
        self._priority = {}
        self._fallback = None
        self._lazy = {}

    # -- registration ------------------------------------------------------------------
    def _accepts(self, plugin):
        if self.plugins == "classes":
            return isinstance(plugin, type) and issubclass(plugin, self.base)
        if self.plugins == "instances":
            return isinstance(plugin, self.base)
        return callable(plugin)

    def _same(self, current, plugin):
        """Registering again under a name keeps or replaces the plugin of the same
        origin (a reloaded module); another plugin under a taken name is an error."""
        if current is plugin:
            return True
        if self.plugins == "instances":
            return type(current) is type(plugin)
        return self.plugins == "functions"

    def register(self, name: str, *, priority: int = 0, fallback: bool = False) -> Callable:
        """Decorator adding a plugin under ``name``.

        Args:
            name: its unique name.
            priority: plugins with a higher priority come first in :meth:`ordered`.
            fallback: the plugin also serves names no plugin claims (at most one).

        Example:
            >>> @keras_iml.methods.register("my_method")
            ... class MyMethod(keras_iml.methods.AttributionMethod):
            ...     def attribute(self, function, x, rngs):
            ...         return {"values": function.gradient(x) * x}
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"A {self.kind} name must be a non-empty string. Received: {name!r}")

        def decorator(plugin):
            if not self._accepts(plugin):
                what = {"classes": "subclasses of", "instances": "instances of"}.get(self.plugins)
                expected = f"{what} {self.base.__name__}" if what else "callables"
                raise TypeError(f"Only {expected} can be registered as a {self.kind}. Received: {plugin!r}")
            if name in self._classes and not self._same(self._classes[name], plugin):
                raise ValueError(f"A {self.kind} named {name!r} is already registered.")
            if fallback and self._fallback not in (None, name):
                raise ValueError(f"The {self.kind} {self._fallback!r} is already the fallback.")
            if self._check is not None:
                self._check(name, plugin)
            if self.plugins == "classes":
                plugin.name = name
            self._classes.pop(name, None)  # a replaced plugin is ordered as a new one
            self._classes[name] = plugin
            self._priority[name] = int(priority)
            if fallback:
                self._fallback = name
            return plugin

        return decorator

    def unregister(self, name: str):
        """Removes the plugin registered under ``name`` (e.g. one a test defined); returns it.

        Raises:
            ValueError: nothing is registered under ``name``.
        """
        if name not in self._classes:
            raise ValueError(f"No {self.kind} named {name!r} is registered. Received: name={name!r}")
        self._priority.pop(name, None)
        if self._fallback == name:
            self._fallback = None
        return self._classes.pop(name)

    def ordered(self) -> list[tuple[str, object]]:
        """``[(name, plugin)]``, highest priority first (then in registration order)."""
        names = list(self._classes)
        order = sorted(range(len(names)), key=lambda i: (-self._priority[names[i]], i))
        return [(names[i], self._classes[names[i]]) for i in order]

    @property
    def fallback(self):
        """The fallback plugin, or None."""
        return None if self._fallback is None else self._classes[self._fallback]

    def register_lazy(self, name: str, module: str) -> None:
        """Declares that importing ``module`` registers ``name`` (for optional, slow imports)."""
        self._lazy[name] = module

    def _lazy_available(self, name):
        module = self._lazy.get(name)
        if module is None or name in self._classes:
            return False
        try:
            return importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            return False

    # -- lookup ------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Sorted names of the registered classes (and of lazily registered ones present)."""
        return sorted(set(self._classes) | {n for n in self._lazy if self._lazy_available(n)})

    def loaded(self) -> dict[str, type]:
        """``{name: class}`` of the classes registered so far, without importing the
        lazily registered ones (for defaults declared by the plugins' hooks)."""
        return dict(self._classes)

    def __contains__(self, name):
        return name in self._classes or self._lazy_available(name)

    def get_class(self, name: str) -> type:
        """The class registered under ``name`` (importing its optional module if needed)."""
        if not isinstance(name, str):
            raise TypeError(f"A {self.kind} name must be a string. Received: {self.kind}={name!r}")
        if name not in self._classes and self._lazy_available(name):
            importlib.import_module(self._lazy[name])
        if name not in self._classes:
            raise ValueError(f"Unknown {self.kind}: {name!r}. Available: {self.names()}")
        return self._classes[name]

    def get(self, identifier: str | dict | type | Configurable, **options) -> Configurable:
        """An instance from a name, a config dict, a registered class or an instance.

        Args:
            identifier: see the module docstring.
            **options: constructor options (not with an instance).

        Raises:
            ValueError: unknown name or option.
            TypeError: an identifier of another type.
        """
        if isinstance(identifier, self.base):
            if options:
                raise ValueError(
                    f"Options cannot be given with a {self.kind} instance. "
                    f"Received: options={sorted(options)}"
                )
            return identifier
        if isinstance(identifier, dict):
            config = dict(identifier)
            if "class_name" in config:
                name = config.pop("class_name")
                cfg = config.pop("config", None) or {}
                if not isinstance(cfg, dict):
                    raise ValueError(
                        f"The 'config' of a {self.kind} config must be a dict. "
                        f"Received: config={cfg!r}"
                    )
                cfg = {**cfg, **config}  # tolerate options beside class_name
            elif "name" in config:
                name = config.pop("name")
                cfg = config
            else:
                raise ValueError(
                    f"A {self.kind} config needs a 'class_name' (or 'name') key. "
                    f"Received: {self.kind}={identifier!r}"
                )
            return self.get(name, **{**cfg, **options})
        if isinstance(identifier, type) and issubclass(identifier, self.base):
            return identifier(**options)
        if not isinstance(identifier, str):
            raise TypeError(
                f"`{self.kind}` must be a name, a config dict or a {self.base.__name__}. "
                f"Received: {self.kind} of type {type(identifier).__name__}"
            )
        cls = self.get_class(identifier)
        unknown = sorted(set(options) - set(cls.option_names()))
        if unknown:
            raise ValueError(
                f"Unknown option(s) {unknown} for {self.kind} {identifier!r}. "
                f"Valid options: {cls.option_names()}"
            )
        return cls(**options)

    def serialize(self, instance: Configurable) -> dict:
        """``{"class_name": name, "config": {...}}`` of an instance (read back by :meth:`get`)."""
        if not isinstance(instance, self.base):
            raise TypeError(
                f"`{self.kind}` must be a {self.base.__name__} instance. "
                f"Received: {type(instance).__name__}"
            )
        return {"class_name": instance.name, "config": instance.get_config()}
