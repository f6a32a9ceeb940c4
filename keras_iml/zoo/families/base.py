"""The zoo family registry: how each kind of zoo model becomes a native Keras 3 model.

A family is a :class:`Family` with ``resolve(request) -> files`` (the local, verified
files it needs, as ``{arg: (path, md5)}``; their md5s key the ``.keras`` cache) and
``build(request, files) -> (model, info)``. It is registered under the first
component of the zoo names it serves (``"DeepBind"`` for
``"DeepBind/Homo_sapiens/TF/D00328.018_ChIP-seq_CTCF"``); :func:`family_of` picks it
for :func:`keras_iml.zoo.load` and the batch runner. One family may be registered as
the fallback: it serves every other group with a Kipoi description (legacy Keras
models).

Example:
    >>> from keras_iml.zoo.families import Family, register
    >>> @register
    ... class Toy(Family):
    ...     name = "Toy"
    ...     needs_spec = False
    ...     def build(self, request, files):
    ...         return toy_model(request.input_length or 50), {"output": "a score"}
"""

import contextlib
import dataclasses

from keras_iml.registry import Registry

__all__ = ["Family", "Request", "REGISTRY", "register", "unregister", "registered", "get", "names",
           "family_of", "kipoi_files", "fixed_length"]



@dataclasses.dataclass
class Request:
    """What :func:`keras_iml.zoo.load` asks a family for.

    Attributes:
        name: the zoo name (or a directory holding a ``model.yaml``).
        spec: the :class:`~keras_iml.zoo.sources.spec.ModelSpec`, or None when the
            family needs none and no source was given.
        store: the :class:`~keras_iml.zoo.sources.store.WeightStore` to fetch files with.
        input_length: the requested sequence length, or None.
        options: the family options given to ``load``.
        row: the model's catalogue row (a dict), or None.
    """

    name: str
    spec: object
    store: object
    input_length: int = None
    options: dict = dataclasses.field(default_factory=dict)
    row: dict = None


class Family:
    """A model family: how to find its files and build its models.

    Subclasses set :attr:`name` and override :meth:`build` (and :meth:`resolve` when
    the model needs files), then are registered with :func:`register`.

    Attributes:
        name: the first component of the zoo names of the family.
        needs_spec: whether a Kipoi description must be read even without ``source``.
        options: names of the keyword options ``load`` passes on (in
            ``request.options``; they also key the ``.keras`` cache).
        example: a zoo name the family loads, to check it with
            (:func:`keras_iml.testing.check_family`).
        needs_files: whether its models need files (weights) from a source; one
            that needs none is checked even without the shared zoo files.
        cache_converted: whether :func:`keras_iml.zoo.load` keeps the converted model
            as ``.keras`` in the cache (False where rebuilding is faster than reading it
            back, e.g. SpliceAI from its package).
        catalogue_models: the Kipoi-described models the family lists in the zoo
            catalogue: zoo name -> ``{"tf": ..., "kind": ..., "note": ...}`` (see
            :meth:`catalogue_rows`).
    """

    name = None
    needs_spec = True
    options = ()
    example = None
    needs_files = True
    cache_converted = True
    catalogue_models = {}

    def catalogue_rows(self, shared, jaspar_db):
        """The family's rows of ``model_zoo/catalogue.tsv`` (dicts of
        :data:`keras_iml.zoo.catalogue.COLUMNS`), read from the shared zoo files;
        ``model_zoo/build_catalogue.py`` joins those of every registered family.
        By default one :func:`~keras_iml.zoo.catalogue.kipoi_row` per entry of
        :attr:`catalogue_models`."""
        from keras_iml.zoo.catalogue import kipoi_row

        return [kipoi_row(shared, jaspar_db, name, **entry) for name, entry in self.catalogue_models.items()]

    def resolve(self, request):  # noqa: ARG002 - a family without files
        """The local, verified files a model needs: ``{arg: (path, md5)}``."""
        return {}

    def build(self, request, files):
        """``(model, info)``: a ``keras.Model`` taking one-hot DNA and metadata entries."""
        raise NotImplementedError(f"The {self.name} family does not define `build`.")

    def aux_values(self, request):  # noqa: ARG002 - hook
        """Per-sequence values of the model's auxiliary inputs given in the request's
        options (e.g. FactorNet's ``tracks=`` arrays): dict input name -> array, which
        :func:`keras_iml.zoo.load` makes the returned model's default ``aux=``. None
        (the default) when there are none. Called on every load, the cached model too."""
        return None

    def __repr__(self):
        return f"<zoo family {self.name!r}>"


def _check_family(name, family):
    if not isinstance(family.name, str) or not family.name or "/" in family.name:
        raise ValueError(f"A family's `name` must be a non-empty string without '/'. "
                         f"Received: name={family.name!r}")


#: The registered families (instances), one of them the fallback.
REGISTRY = Registry("zoo family", Family, check=_check_family, plugins="instances")


def _instance(family):
    if isinstance(family, type) and issubclass(family, Family):
        family = family()
    if not isinstance(family, Family):
        raise TypeError(f"Only Family subclasses or instances can be registered. Received: {family!r}")
    _check_family(family.name, family)
    return family


def register(family, *, fallback=False):
    """Registers a family under its ``name``; usable as a class decorator.

    Args:
        family: a :class:`Family` subclass (instantiated without arguments) or instance.
        fallback: also serve zoo names whose first component no family claims.

    Returns:
        ``family`` as given (so the class stays usable after ``@register``).

    Raises:
        ValueError: another family already holds that name (or the fallback).
    """
    instance = _instance(family)
    current = REGISTRY.loaded().get(instance.name)
    if current is not None and type(current) is type(instance):
        instance = current  # the same class again (a reloaded module): kept
    REGISTRY.register(instance.name, fallback=fallback)(instance)
    return family


def unregister(name):
    """Removes a registered family (e.g. a test's own); returns it.

    Raises:
        ValueError: no family has that name.
    """
    get(name)
    return REGISTRY.unregister(name)


@contextlib.contextmanager
def registered(family, *, fallback=False):
    """Registers ``family`` for the ``with`` block only; yields the instance.

    Example:
        >>> with registered(Toy):
        ...     model = keras_iml.zoo.load("Toy/x")
    """
    instance = _instance(family)
    if instance.name in REGISTRY.loaded():
        raise ValueError(f"A zoo family named {instance.name!r} is already registered.")
    register(instance, fallback=fallback)
    try:
        yield instance
    finally:
        unregister(instance.name)


def names():
    """Sorted names of the registered families."""
    return REGISTRY.names()


def get(name):
    """The family registered under ``name``.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    families = REGISTRY.loaded()
    if name not in families:
        raise ValueError(f"Unknown zoo family {name!r}. Known families: {names()}")
    return families[name]


def family_of(name, *, fallback=True):
    """The family of a zoo name: the one registered under its first component.

    Args:
        name: a zoo name such as ``"FactorNet/MAX/onePeak_Unique35_DGF"``.
        fallback: return the fallback family (legacy Keras models described by
            Kipoi) for a first component no family claims, instead of raising.

    Raises:
        ValueError: no family claims the name (and no fallback applies); the message
            lists the known families.
    """
    group = str(name).strip("/").split("/")[0]
    if group not in REGISTRY.loaded() and fallback and REGISTRY.fallback is not None:
        return REGISTRY.fallback
    return get(group)


# -- helpers for family modules ------------------------------------------------------

def kipoi_files(request):
    """The files of a legacy Keras model named in its Kipoi description.

    Returns:
        ``{"weights": (path, md5)}``, plus ``"arch"`` when the description names one.
    """
    files = {"weights": request.store.fetch(request.spec, "weights")}
    if "arch" in request.spec.files:
        files["arch"] = request.store.fetch(request.spec, "arch")
    return files


def fixed_length(request, length):
    """``length``, or a ValueError when another input length was requested."""
    if request.input_length not in (None, length):
        raise ValueError(f"{request.name} takes sequences of exactly {length} bp; its "
                         f"architecture cannot be resized. Received: input_length={request.input_length}")
    return length
