"""Fast paths: faster exact computations that a layer or a model family registers for a method.

A method asks for its generic computation's fast variant through a *hook*; every
plugin registered for that hook is tried in order of priority (highest first) and the
first that returns something is used. A plugin returns None when it does not apply
to the model (it must check, e.g. with a probe, that it reproduces the model), so the
generic path is always the fallback. Registering is done where the layer lives (a zoo
family registers its plugins when its module is imported, which deserialising one
of its models also does), so :mod:`keras_iml.methods` knows no layer or family.

Hooks (what a plugin is called with, and what it returns):

``"path_gradients"``
    ``plugin(function) -> path_fn or None``: for integrated and expected gradients,
    ``path_fn(x, refs, alphas, weights) -> (P, L, 4)`` numpy sums
    ``sum_s weights[p, s] * grad f(refs[p] + alphas[p, s] (x[p] - refs[p]))``
    (see :func:`keras_iml.methods.integrated_gradients.path_gradients`).
``"ism"``
    ``plugin(function, length, example) -> runner or None``: for ISM, a runner with
    ``feature_size`` (floats per mutant, sizes its chunks) and
    ``runner(x, n, i, b, chunk) -> (f(x) (B,), f(mutant) (M,))`` for the mutants
    ``(n, i, b)`` (see :mod:`keras_iml.methods.ism`).
``"activation_scale"``
    ``plugin(layer) -> float or None``: how many activation positions a layer has
    per input base (DeepLIFT chooses its fused rules from it; the largest over the
    model's layers counts).

Example:
    >>> from keras_iml.engine import fast_paths
    >>> @fast_paths.register("ism", "my_layer_ism", priority=10)
    ... def my_layer_ism(function, length, example):
    ...     layer = fast_paths.only_layer(function.model, MyLayer)
    ...     return None if layer is None else MyLayerISM(function, layer, length)
"""

import keras
from keras_iml.registry import Registry

__all__ = ["HOOKS", "REGISTRIES", "register", "unregister", "plugins", "first", "example", "only_layer",
           "chain_layers", "chain_example"]

HOOKS = ("path_gradients", "ism", "activation_scale")

#: One :class:`~keras_iml.registry.Registry` of plugin functions per hook.
REGISTRIES = {hook: Registry(f"{hook} fast path", plugins="functions") for hook in HOOKS}


def _registry(hook):
    if hook not in REGISTRIES:
        raise ValueError(f"`hook` must be one of {HOOKS}. Received: hook={hook!r}")
    return REGISTRIES[hook]


def register(hook, name, priority=0, example=None):
    """Decorator registering ``plugin`` for ``hook`` under ``name`` (registering a name
    again, as a reloaded module does, replaces the plugin).

    Args:
        hook: one of :data:`HOOKS`.
        name: a unique name (recorded in the attributions' parameters when used).
        priority: plugins with a higher priority are tried first.
        example: optional ``example(rng) -> (model, x)``: a small model the plugin
            applies to and one-hot DNA to run it on.
            :func:`keras_iml.testing.check_fast_path` saves the model, loads it back
            and checks that the plugin is taken on both and equals the generic path.
    """
    add = _registry(hook).register(name, priority=priority)

    def decorator(plugin):
        plugin.iml_example = example
        return add(plugin)

    return decorator


def example(hook, name):
    """The ``example`` a plugin declared when it was registered (None when it declared none)."""
    plugins_ = dict(plugins(hook))
    if name not in plugins_:
        raise ValueError(f"No {hook!r} fast path named {name!r}; registered: {sorted(plugins_)}. "
                         f"Received: name={name!r}")
    return getattr(plugins_[name], "iml_example", None)


def unregister(hook, name):
    """Removes the plugin ``name`` of ``hook`` (no error when it is not registered)."""
    registry = _registry(hook)
    if name in registry.loaded():
        registry.unregister(name)


def plugins(hook):
    """``[(name, plugin)]`` registered for ``hook``, in the order they are tried."""
    return _registry(hook).ordered()


def first(hook, *args):
    """``(name, result)`` of the first plugin for ``hook`` that applies, else ``(None, None)``."""
    for name, plugin in plugins(hook):
        result = plugin(*args)
        if result is not None:
            return name, result
    return None, None


def _explained(model):
    unwrap = getattr(model, "_iml_explained_model", None)  # keras_iml.wrap(model)
    return unwrap() if unwrap is not None else model


def chain_layers(model):
    """The layers of a model that is a linear chain, in call order, or None.

    Recognised from the model's structure, never from tensor identity alone, so a
    model loaded back from ``.keras`` is a chain exactly when the original was:
    a ``keras.Sequential`` is a chain by construction; a functional model with one
    input and one output is one when every layer consumes the previous layer's
    output. Nested chain models are flattened; a nested model that is not a chain
    stays one layer.

    Args:
        model: a Keras model (or a ``keras_iml.wrap`` of one).

    Returns:
        A list of layers, or None for subclassed models and branching graphs.
    """
    model = _explained(model)
    if isinstance(model, keras.Sequential):
        layers = [la for la in model.layers if not isinstance(la, keras.layers.InputLayer)]
    else:
        layers = _functional_chain(model)
    if not layers:
        return None
    flat = []
    for layer in layers:
        inner = chain_layers(layer) if isinstance(layer, keras.Model) else None
        flat.extend(inner if inner else [layer])
    return flat


def _functional_chain(model):
    try:
        inputs, outputs = model.inputs, model.outputs
        layers = [la for la in model.layers if not isinstance(la, keras.layers.InputLayer)]
    except (AttributeError, ValueError):
        return None
    if not inputs or not outputs or len(inputs) != 1 or len(outputs) != 1:
        return None
    previous = inputs[0]
    for layer in layers:
        try:
            layer_input, layer_output = layer.input, layer.output
        except (AttributeError, ValueError):
            return None
        if layer_input is not previous:
            return None
        previous = layer_output
    return layers if previous is outputs[0] else None


def only_layer(model, cls):
    """The layer when ``model`` is a chain of exactly one layer of class ``cls``, else None."""
    layers = chain_layers(model)
    if layers is None or len(layers) != 1 or not isinstance(layers[0], cls):
        return None
    return layers[0]


def chain_example(rng, length=40):
    """``(model, x)``: a small seeded chain CNN (Conv1D, max pooling, Conv1D, global max,
    Dense) and one-hot DNA, the ``example`` of the built-in plugins for chains."""
    import numpy as np

    model = keras.Sequential([
        keras.Input((length, 4)), keras.layers.Conv1D(6, 5, activation="relu"),
        keras.layers.MaxPooling1D(2), keras.layers.Conv1D(4, 3, activation="relu"),
        keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(1)])
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    x = np.eye(4, dtype="float32")[rng.integers(0, 4, (6, length))]
    return model, x
