"""Input adapters: explaining a model whose DNA input is not one-hot, and reading a model's graph.

**Token models.** A model may take DNA as integer tokens ``(N, L)`` (``0..3`` for
``ACGT``) fed to a ``keras.layers.Embedding``. For one-hot columns ``x`` the product
``x @ E[tokens]`` (``E`` the embedding matrix, its rows taken in alphabet order) *is*
the embedding of the tokens, so the model is explained through its one-hot
equivalent: :class:`TokenAdapter` builds a model taking one-hot DNA whose first layer
computes that product with the embedding's own weights, followed by the user's model
from the embedding's output onward (weights shared, the user's model untouched).
Gradients with respect to the one-hot input are then well defined, and every method
sees an ordinary one-hot model. An ``N`` column (0.25 each) gives the mean embedding
of the four bases; an all-zero column a zero embedding.

The token of each base is an option (``tokens=``): by default token ``i`` is
``alphabet[i]`` (``A=0, C=1, G=2, T=3`` for ``"ACGT"``). The engine adapts a token
model automatically (``keras_iml.explain(model, ...)``, the CLI); ``keras_iml.wrap(model,
tokens={"A": 1, "C": 2, "G": 3, "T": 4})`` sets another mapping.

A DNA input that cannot be made one-hot (a 2-D input that does not feed an
``Embedding`` directly, an ``Embedding`` with fewer than 4 tokens) is refused with a
``ValueError`` naming the input and its shape.

**Graph reading.** :func:`graph_nodes` lists the call sites of a functional graph;
the token adapter and Grad-CAM use it to find the layers on the path to an output
(``layer.input`` / ``layer.output`` read a layer's *first* call, which is not the one
in the model for a shared layer or a Sequential model rebuilt on loading).
:class:`GraphSlice` runs the part of a graph between any of its tensors without
touching the user's layers (``keras.Model(intermediate_tensor, outputs)`` re-creates
the graph's nodes on them, and re-wires an original ``keras.Input`` it is given,
after which the user's model can no longer be saved).

Which input is the DNA and which kind it is are decided by the input kinds
(:mod:`keras_iml.engine.input_kinds`), whose ``tokens`` kind builds the adapter here.

Example:
    >>> explained, adapter = input_kinds.adapt(token_model)   # (model, None) for a one-hot model
    >>> adapter.model(dna.one_hot(seqs))         # token_model(tokens) of the same DNA
"""

import numpy as np

import keras

__all__ = ["GraphSlice", "OneHotEmbedding", "TokenAdapter", "check_tokens", "describe_tensor",
           "graph_nodes", "logit_head", "model_graph", "output_structure", "producer",
           "token_adapter", "tokens_to_onehot", "DEFAULT_TOKENS", "ATTACHED"]

#: Token of each base, in alphabet order, unless ``tokens=`` says otherwise.
DEFAULT_TOKENS = (0, 1, 2, 3)
#: The attribute under which an adapted model carries its adapter.
ATTACHED = "_keras_iml_token_adapter"


# -- reading a functional graph --------------------------------------------------------------
def model_graph(model):
    """``(inputs, outputs)``: flat lists of a model's (or :class:`GraphSlice`'s) symbolic tensors.

    None for a subclassed (or never built) model, which has no layer graph, and for
    any other layer.
    """
    if not isinstance(model, (keras.Model, GraphSlice)):
        return None
    try:
        inputs, outputs = list(model.inputs or []), list(model.outputs or [])
    except (AttributeError, ValueError, TypeError):
        return None
    return (inputs, outputs) if inputs and outputs else None


def graph_nodes(inputs, outputs):
    """The call sites (Keras nodes) needed to compute ``outputs`` from ``inputs``, inputs first.

    Each node has the public attributes ``operation`` (the layer), ``input_tensors``,
    ``output_tensors`` and ``parent_nodes``. Keras has no public API listing the nodes
    of one graph: this reads ``Function._nodes_by_depth`` (private), here and nowhere
    else in keras_iml. Building the ``keras.Function`` adds no node to any layer.
    """
    by_depth = keras.Function(inputs, outputs)._nodes_by_depth
    return [node for depth in sorted(by_depth, reverse=True) for node in by_depth[depth]
            if not node.is_input]


def producer(tensor, nodes):
    """The node among ``nodes`` whose outputs include ``tensor`` (None if none)."""
    return next((node for node in nodes if any(t is tensor for t in node.output_tensors)), None)


class GraphSlice(keras.layers.Layer):
    """The part of a model's graph from ``inputs`` to ``outputs`` (any of its tensors), as a layer.

    It runs the graph with a ``keras.Function``, which only reads it: no node is added
    to the user's layers. The layers on the path are tracked, so their variables are
    this layer's (compiled functions on JAX receive them), and a call with
    ``training=False`` reaches them.

    Args:
        inputs: list of symbolic tensors of the graph (``keras.Input`` or intermediate).
        outputs: a symbolic tensor, or a list or dict of them, computable from ``inputs``.

    Example:
        >>> head = GraphSlice([model.inputs[0], conv_output], model.outputs)
        >>> head([x, activations], training=False)
    """

    def __init__(self, inputs, outputs, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self._function = keras.Function(list(inputs), outputs)
        self.path_layers = [op for op in self._function.operations
                            if isinstance(op, keras.layers.Layer)
                            and not isinstance(op, keras.layers.InputLayer)]
        self.built = True

    inputs = property(lambda self: self._function.inputs, doc="The graph tensors it starts from.")
    outputs = property(lambda self: self._function.outputs, doc="The graph tensors it computes.")

    def call(self, inputs, training=False):  # noqa: ARG002 - reaches the layers via the call context
        return self._function(list(inputs))

    def compute_output_spec(self, inputs, training=False):  # noqa: ARG002
        return self._function.compute_output_spec(list(inputs))


def _activation_name(layer):
    return getattr(getattr(layer, "activation", None), "__name__", None)


def logit_head(inputs, outputs):
    """``(tensors, to_logit)``: the input of a final sigmoid/softmax layer, and its logits from it.

    ``to_logit(values)`` maps the values of ``tensors`` (a list) to the pre-activation
    of the graph's single output; a final nested model is looked into.

    Raises:
        ValueError: the graph does not end in a Dense or Activation with a sigmoid or softmax.
    """
    last = producer(outputs[0], graph_nodes(inputs, outputs)) if len(outputs) == 1 else None
    op = None if last is None else last.operation
    if model_graph(op) is not None:  # a nested model: its own final layer
        inner_inputs, inner_outputs = model_graph(op)
        tensors, inner_logit = logit_head(inner_inputs, inner_outputs)
        inner = GraphSlice(inner_inputs, tensors)
        return last.input_tensors, lambda values: inner_logit(keras.tree.flatten(inner(values)))
    if not isinstance(op, (keras.layers.Dense, keras.layers.Activation)):
        raise ValueError(
            "`logit=True` supports a final Dense or Activation layer. Received: last layer "
            f"{getattr(op, 'name', None)!r} of type {type(op).__name__}")
    if _activation_name(op) not in ("sigmoid", "softmax"):
        raise ValueError("`logit=True` needs a final sigmoid or softmax activation. Received: last "
                         f"layer {op.name!r} with activation {_activation_name(op)!r}")
    if isinstance(op, keras.layers.Activation):
        return last.input_tensors, lambda values: values[0]

    def to_logit(values):
        z = keras.ops.matmul(values[0], op.kernel)
        return z + op.bias if op.use_bias else z

    return last.input_tensors, to_logit


def _one(structure):
    return structure[0] if isinstance(structure, (list, tuple)) and len(structure) == 1 else structure


def output_structure(model):
    """The model's symbolic outputs in the structure the model returns (tensor, list or dict)."""
    _, outputs = model_graph(model)
    if len(outputs) == 1:
        return outputs[0]
    structure = getattr(model, "output", None)
    return structure if isinstance(structure, (dict, list, tuple)) else outputs


# -- token models --------------------------------------------------------------------------------
def check_tokens(tokens, alphabet="ACGT"):
    """The token of each base as a tuple of 4 ints, in ``alphabet`` order.

    Args:
        tokens: None (``0, 1, 2, 3``), a sequence of 4 distinct non-negative ints (the
            tokens of ``alphabet[0..3]``) or a dict base -> token naming every base.
        alphabet: the column order of the one-hot encoding.

    Raises:
        ValueError: anything else.
    """
    if tokens is None:
        return DEFAULT_TOKENS
    if isinstance(tokens, dict):
        upper = {str(k).upper(): v for k, v in tokens.items()}
        if sorted(upper) != sorted(alphabet.upper()):
            raise ValueError(f"`tokens` must map each base of {alphabet!r} to its token. "
                             f"Received: tokens={tokens!r}")
        tokens = [upper[b] for b in alphabet.upper()]
    if isinstance(tokens, (str, bytes)) or not hasattr(tokens, "__len__") or len(tokens) != 4 \
            or not all(isinstance(t, (int, np.integer)) and not isinstance(t, bool) and t >= 0
                       for t in tokens) or len(set(int(t) for t in tokens)) != 4:
        raise ValueError("`tokens` must be 4 distinct non-negative ints (the token of each base, "
                         f"in alphabet order) or a dict base -> token. Received: tokens={tokens!r}")
    return tuple(int(t) for t in tokens)


def tokens_to_onehot(tokens, token_ids=None, n_token=None):
    """One-hot DNA ``(N, L, 4)`` float32 from integer tokens ``(N, L)``.

    Args:
        tokens: integer array ``(N, L)`` (or ``(L,)`` for one sequence).
        token_ids: the token of each base, in alphabet order (see :func:`check_tokens`).
        n_token: a token read as ``N`` (0.25 in every column); None: no such token.

    Raises:
        ValueError: a token that is neither a base nor ``n_token``.

    Example:
        >>> tokens_to_onehot([[0, 3, 2]]).argmax(-1)
        array([[0, 3, 2]])
    """
    ids = check_tokens(token_ids)
    arr = np.asarray(tokens)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.dtype.kind not in "iu":
        raise ValueError(f"`tokens` must be an integer array (N, L). Received: tokens.shape={arr.shape} "
                         f"of dtype {arr.dtype}")
    out = (arr[..., None] == np.asarray(ids)).astype(np.float32)
    known = out.any(-1)
    if n_token is not None:
        out[arr == n_token] = 0.25
        known |= arr == n_token
    if not known.all():
        bad = sorted(set(arr[~known].tolist()))[:5]
        raise ValueError(f"`tokens` holds values that are no base ({dict(zip('ACGT', ids))}): "
                         f"{bad}. Received: tokens.shape={arr.shape}")
    return out


class OneHotEmbedding(keras.layers.Layer):
    """One-hot DNA ``(N, L, 4)`` -> the embedding of its tokens, ``x @ E[tokens]``.

    Reads the wrapped ``Embedding``'s weights at every call (shared, not copied).

    Args:
        embedding: the model's ``keras.layers.Embedding``.
        tokens: the token of each one-hot column.
    """

    def __init__(self, embedding, tokens, **kwargs):
        kwargs.setdefault("dtype", embedding.dtype_policy)
        super().__init__(**kwargs)
        self.embedding = embedding
        self.tokens = tuple(int(t) for t in tokens)

    def call(self, x):
        ops = keras.ops
        table = ops.take(ops.convert_to_tensor(self.embedding.embeddings), list(self.tokens), axis=0)
        return ops.matmul(ops.cast(x, table.dtype), table)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.embedding.output_dim,)


def describe_tensor(tensor):
    """``"input 'x' with shape (None, 200)"``: a model input in refusals."""
    return f"input {tensor.name!r} with shape {tuple(tensor.shape)}"


class TokenAdapter:
    """A token model's one-hot equivalent (see the module docstring).

    Args:
        model: the token model (never modified).
        dna_index: position of the token input among ``model.inputs``.
        node: the node calling the ``Embedding`` on that input.
        tokens: the token of each base, in alphabet order.

    Attributes:
        model: the functional model taking one-hot DNA (same input names and structure,
            same outputs) that the engine explains.
        source: the user's token model; ``embedding``: its ``Embedding`` layer.
    """

    def __init__(self, model, dna_index, node, tokens=DEFAULT_TOKENS):
        inputs, _ = model_graph(model)
        self.source = model
        self.embedding = node.operation
        self.tokens = tuple(tokens)
        self.dna_index = dna_index
        dna = inputs[dna_index]
        self.length = dna.shape[1]
        self._onehot = OneHotEmbedding(self.embedding, self.tokens, name=f"{self.embedding.name}_onehot")
        # The rest of the user's model: from the embedding's output (and the other inputs).
        self._tail_inputs = [node.output_tensors[0] if t is dna else t for t in inputs]
        self.tail = GraphSlice(self._tail_inputs, output_structure(model), name=f"{model.name}_tail")
        # The one-hot model: fresh inputs with the user's names, in the user's structure.
        new = [keras.Input(shape=(self.length, 4), name=dna.name) if t is dna
               else keras.Input(shape=tuple(t.shape[1:]), dtype=t.dtype, name=t.name) for t in inputs]
        structure = getattr(model, "input", None) if len(inputs) > 1 else None
        self._keys = None
        if isinstance(structure, dict):  # dict key of each input, in model.inputs order
            self._keys = [next(k for k, v in structure.items() if v is t) for t in inputs]
            model_inputs = dict(zip(self._keys, new))
        else:
            model_inputs = _one(new)
        self.model = keras.Model(model_inputs, self._call(self.tail, model_inputs), name=model.name)
        object.__setattr__(self.model, ATTACHED, self)  # not a tracked Keras attribute
        self._logits = None

    def _call(self, tail, inputs, **kwargs):
        """``tail`` on the embedding of the one-hot input (and the other inputs as they are)."""
        flat = [inputs[k] for k in self._keys] if self._keys else keras.tree.flatten(inputs)
        parts = [self._onehot(t) if i == self.dna_index else t for i, t in enumerate(flat)]
        return tail(parts, **kwargs)

    def forward(self, logit=False):
        """``inputs -> outputs`` on one-hot DNA (or the logits of a final sigmoid/softmax).

        ``inputs`` has the structure of the user's model's inputs, the DNA one-hot.
        """
        if not logit:
            return self.model
        if self._logits is None:
            tensors, to_logit = logit_head(self._tail_inputs, model_graph(self.source)[1])
            pre = GraphSlice(self._tail_inputs, tensors, name=f"{self.source.name}_pre_activation")
            self._logits = lambda parts, training=False: to_logit(
                keras.tree.flatten(pre(parts, training=training)))
        return lambda inputs, training=False: self._call(self._logits, inputs, training=training)

    def describe(self):
        """A JSON-friendly description, stored with the attributions' target."""
        return {"embedding": self.embedding.name, "tokens": list(self.tokens)}


def token_adapter(model, dna_index, tokens=None, accepted="integer tokens (N, L) that feed a "
                  "keras.layers.Embedding directly"):
    """The :class:`TokenAdapter` of a model whose DNA input (at ``dna_index``) is 2-D.

    The ``tokens`` input kind (:mod:`keras_iml.engine.input_kinds`) calls it; use
    :func:`keras_iml.engine.input_kinds.adapt` to adapt any model.

    Args:
        model: a Keras functional or Sequential model.
        dna_index: position of its DNA input, a ``(N, L)`` tensor.
        tokens: the token of each base (see :func:`check_tokens`).
        accepted: what keras_iml explains, in words, for the refusal.

    Raises:
        ValueError: the input does not feed an ``Embedding`` with at least 4 tokens
            directly (it cannot be made one-hot), or ``tokens`` not valid for it.
    """
    inputs, outputs = model_graph(model)
    dna = inputs[dna_index]
    users = [n for n in graph_nodes(inputs, outputs) if any(t is dna for t in n.input_tensors)]
    layer = users[0].operation if len(users) == 1 else None
    if not isinstance(layer, keras.layers.Embedding) or len(users[0].input_tensors) != 1:
        names = sorted({n.operation.name for n in users})
        raise ValueError(
            f"keras_iml explains {accepted}; this input feeds "
            f"{names or 'nothing'}. Received: {describe_tensor(dna)}")
    if layer.input_dim < 4:
        raise ValueError(f"The Embedding {layer.name!r} has input_dim={layer.input_dim}; 4 bases "
                         f"need 4 tokens. Received: {describe_tensor(dna)}")
    ids = check_tokens(tokens)
    if max(ids) >= layer.input_dim:
        raise ValueError(f"`tokens` must be below the Embedding's input_dim={layer.input_dim}. "
                         f"Received: tokens={ids}")
    if getattr(layer, "mask_zero", False) and 0 in ids:
        raise ValueError(f"The Embedding {layer.name!r} masks token 0 (mask_zero=True), so no base "
                         f"can be token 0; pass `tokens`. Received: tokens={ids}")
    return TokenAdapter(model, dna_index, users[0], ids)
