"""Kinds of model input, as plugins: how a model's input becomes one-hot DNA for the engine.

The engine explains one-hot DNA ``(N, L, 4)``: every method, metric and control arm
sees a model taking it. A model whose input is another encoding of DNA is explained
through its one-hot equivalent, built by the :class:`InputKind` that claims that
input. The registered kinds are

* ``onehot_dna``: a ``(N, L, 4)`` input, explained as it is;
* ``tokens``: integer tokens ``(N, L)`` feeding a ``keras.layers.Embedding``,
  explained through :class:`keras_iml.engine.graph.TokenAdapter` (the embedding
  lookup as a product with the one-hot columns).

Which input of a multi-input model is the DNA, and which kind it is, is decided here
alone (:func:`dna_candidates`, :func:`kind_of`, :func:`adapt`): a new kind is one
subclass and one registration, and ``keras_iml.testing.check_input_kind`` checks it.

Example:
    >>> from keras_iml.engine import input_kinds
    >>> input_kinds.names()
    ['onehot_dna', 'tokens']
    >>> explained, adapter = input_kinds.adapt(token_model)   # a one-hot model, its adapter
"""

from __future__ import annotations

import numpy as np

import keras
from keras_iml.engine import graph as graph_lib
from keras_iml.registry import Registry

__all__ = ["InputKind", "OneHotDNA", "Tokens", "REGISTRY", "register", "get", "names",
           "dna_candidates", "kind_of", "adapt", "describe_kinds"]


class InputKind:
    """Base of a kind of model input. Instances are registered (``plugins="instances"``).

    Declared hooks:

    * ``description``: the kind in words, with its shape (``"one-hot DNA (N, L, 4)"``),
      used in every refusal that lists what keras_iml explains.
    * :meth:`claims`: how strongly a model's input tensor looks like this kind (0: not
      at all); among a model's inputs, those with the strongest claim are the DNA
      candidates.
    * :meth:`adapt`: the engine's adapter for a model whose DNA input is this kind
      (None: the model takes one-hot DNA as it is).
    * :meth:`example`: a tiny model taking this kind and one-hot DNA to explain it
      with, for :func:`keras_iml.testing.check_input_kind`.

    An adapter has ``model`` (the one-hot equivalent, the user's layers shared, the
    user's model untouched), ``forward(logit)`` (``inputs -> outputs`` on one-hot DNA,
    or the logits of a final sigmoid/softmax), ``length`` (the declared length, or
    None) and ``describe()`` (a JSON-friendly description kept with the attributions).
    A kind is registered as an instance: ``input_kinds.register("mine")(MyKind())``.
    """

    description = ""

    def claims(self, tensor) -> int:
        """0 when ``tensor`` (a model's symbolic input) is not of this kind, else a
        strength (the strongest claims among a model's inputs win)."""
        raise NotImplementedError

    def adapt(self, model, index, tokens=None):
        """The adapter making ``model`` (DNA at input ``index``) take one-hot DNA,
        or None when it already does. Raises ValueError when it cannot be adapted."""
        raise NotImplementedError

    def example(self, rng):
        """``(model, x, forward)``: a small model of this kind, one-hot DNA ``x`` and
        ``forward(model, x)`` computing the model's output on the DNA ``x`` in the
        model's own encoding (the oracle an adapted model must equal)."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


def _check_kind(name, kind):
    if not isinstance(kind.description, str) or not kind.description:
        raise ValueError(f"Input kind {name!r} must declare a `description`. Received: {kind.description!r}")


REGISTRY = Registry("input kind", InputKind, check=_check_kind, plugins="instances")
register = REGISTRY.register
get = REGISTRY.get_class  # the registered instance (ValueError naming the kinds for another name)
names = REGISTRY.names


def describe_kinds():
    """The registered kinds in words: ``"one-hot DNA (N, L, 4), or integer tokens ..."``."""
    texts = [kind.description for _, kind in REGISTRY.ordered()]
    return ", or ".join(texts)


def _strength(tensor):
    """``(best claim, kind)`` of a tensor over the registered kinds."""
    best = (0, None)
    for _, kind in REGISTRY.ordered():
        claim = int(kind.claims(tensor))
        if claim > best[0]:
            best = (claim, kind)
    return best


def dna_candidates(inputs):
    """Positions of the inputs that may be the DNA: those claimed most strongly by a
    registered kind (one-hot ``(N, L, 4)`` ones, else 2-D integer ones, else 2-D)."""
    claims = [_strength(t)[0] for t in inputs]
    top = max(claims, default=0)
    return [i for i, c in enumerate(claims) if top and c == top]


def kind_of(tensor):
    """The registered :class:`InputKind` that claims ``tensor`` most strongly, or None."""
    return _strength(tensor)[1]


def _dna_index(inputs):
    """The position of the DNA input: the only input, or the only candidate (else None)."""
    candidates = [0] if len(inputs) == 1 else dna_candidates(inputs)
    return candidates[0] if len(candidates) == 1 else None


def adapter_for(model, dna_index=None, tokens=None):
    """The engine's adapter of ``model``, or None when it takes one-hot DNA as it is.

    Args:
        model: a Keras model.
        dna_index: position of the DNA input (None: the only input, or the only
            candidate).
        tokens: for a token model, the token of each base (see
            :func:`keras_iml.engine.graph.check_tokens`).

    Returns:
        None for a model taking one-hot DNA (or another input no kind claims, which
        the input checks refuse later by name), a subclassed model (no graph to read)
        or one whose DNA input cannot be told.

    Raises:
        ValueError: the kind claiming the DNA input cannot adapt this model, or
            ``tokens`` are given for a model that takes no tokens.
    """
    attached = getattr(model, graph_lib.ATTACHED, None)
    if attached is not None:
        return attached
    graph = graph_lib.model_graph(model)
    if graph is None:
        return None
    inputs, _ = graph
    if dna_index is None:
        dna_index = _dna_index(inputs)
        if dna_index is None:
            return None
    kind = kind_of(inputs[dna_index])
    adapter = None if kind is None else kind.adapt(model, dna_index, tokens=tokens)
    if adapter is None and tokens is not None:
        raise ValueError(f"`tokens` applies to a model taking integer tokens (N, L). "
                         f"Received: tokens={tokens!r} for {graph_lib.describe_tensor(inputs[dna_index])}")
    return adapter


def adapt(model, dna_index=None, tokens=None):
    """``(model to explain, adapter or None)``: the one-hot equivalent of a model whose
    DNA input is of another kind; a model taking one-hot DNA comes back unchanged."""
    adapter = adapter_for(model, dna_index, tokens)
    return (model, None) if adapter is None else (adapter.model, adapter)


class OneHotDNA(InputKind):
    """One-hot DNA ``(N, L, 4)``: explained as it is."""

    description = "one-hot DNA (N, L, 4)"

    def claims(self, tensor):
        return 3 if len(tensor.shape) == 3 and tensor.shape[-1] == 4 else 0

    def adapt(self, model, index, tokens=None):
        return None

    def example(self, rng):
        inputs = keras.Input((12, 4))
        hidden = keras.layers.Conv1D(3, 5, activation="relu")(inputs)
        model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.GlobalMaxPooling1D()(hidden)))
        x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (6, 12))]
        return model, x, lambda m, onehot: np.asarray(m(onehot))


class Tokens(InputKind):
    """Integer tokens ``(N, L)`` feeding a ``keras.layers.Embedding`` directly."""

    description = "integer tokens (N, L) that feed a keras.layers.Embedding directly"

    def claims(self, tensor):
        if len(tensor.shape) != 2:
            return 0
        return 2 if "int" in str(tensor.dtype) else 1

    def adapt(self, model, index, tokens=None):
        return graph_lib.token_adapter(model, index, tokens, describe_kinds())

    def example(self, rng):
        inputs = keras.Input((12,), dtype="int32")
        hidden = keras.layers.Embedding(6, 3)(inputs)
        hidden = keras.layers.Conv1D(3, 5, activation="relu")(hidden)
        model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.GlobalMaxPooling1D()(hidden)))
        x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (6, 12))]
        return model, x, lambda m, onehot: np.asarray(m(onehot.argmax(-1).astype(np.int32)))


register("onehot_dna", priority=20)(OneHotDNA())
register("tokens", priority=10)(Tokens())
