"""`ModelFunction`: the scalar function an attribution method explains, ``f(x) = target(model(x))``.

It binds a Keras model to a target (which output, optionally its logit; see
:mod:`keras_iml.engine.targets`) and exposes compiled, batched forward and gradient
passes on the backend Keras runs on (:mod:`keras_iml.engine.backend`). Every
attribution method receives one; none of them touches the user's model directly
except through it.

**Auxiliary inputs.** A model may take more than the DNA (per-base DNase or
mappability tracks, cell-type features). The DNA input is attributed; the others are
held fixed at the values of the sequence being explained. The engine binds a batch's
auxiliary values (:meth:`ModelFunction.bound`) for the duration of one method call,
and every function compiled through :meth:`ModelFunction.compile` receives them as
extra arguments; :meth:`ModelFunction.raw_call` broadcasts them over the rows of
whatever it is given (the interpolation steps, references or mutants of the bound
sequence).

**Token models.** A model taking DNA as integer tokens ``(N, L)`` through a
``keras.layers.Embedding`` is explained through its one-hot equivalent
(:mod:`keras_iml.engine.graph`): :attr:`ModelFunction.model` is then a model taking
one-hot DNA, and :attr:`ModelFunction.source_model` the user's.
"""

import contextlib

import numpy as np

import keras
from keras_iml.engine import backend as backend_lib
from keras_iml.engine import input_kinds
from keras_iml.engine import memory
from keras_iml.engine import targets

__all__ = ["ModelFunction", "InputLayout", "declared_length"]

#: The length-free one-hot signature, for models that declare no length.
X_SPEC = ((None, None, 4), "float32")


def declared_length(model, index=0):
    """The sequence length that ``model``'s input ``index`` declares, or None."""
    try:
        shape = tuple(model.inputs[index].shape)
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    if len(shape) < 2 or shape[1] is None:
        return None
    return int(shape[1])


class InputLayout:
    """Which input of a model is the DNA, and which are auxiliary.

    Args:
        model: a Keras model.
        dna_input: name or position of the DNA input among ``model.inputs``; None
            picks the only input of shape ``(N, L, 4)`` (or, when there is none, the
            only 2-D input: integer tokens).

    Attributes:
        aux_names: names of the auxiliary inputs, in ``model.inputs`` order.
        aux_shapes: their per-sequence shapes (``None`` where free).
    """

    def __init__(self, model, dna_input=None):
        try:
            tensors = list(model.inputs or [])
            structure = model.input
        except (AttributeError, ValueError):
            tensors, structure = [], None
        self.structure = structure
        self.names = [t.name for t in tensors]
        self.dna_index = 0
        self.aux_names, self.aux_shapes = [], []
        if len(tensors) <= 1:
            if dna_input not in (None, 0) and dna_input not in self.names:
                raise ValueError(
                    f"`dna_input` names no input of the model. Inputs: {self.names or ['(one)']}. "
                    f"Received: dna_input={dna_input!r}"
                )
            return
        shapes = [tuple(t.shape) for t in tensors]
        if dna_input is None:
            dna = input_kinds.dna_candidates(tensors)  # (N, L, 4), else 2-D integer tokens
            if len(dna) != 1:
                raise ValueError(
                    "The model has several inputs; name the one-hot DNA input with "
                    f"`dna_input`. Inputs: {dict(zip(self.names, shapes))}. Received: dna_input=None"
                )
            self.dna_index = dna[0]
        elif isinstance(dna_input, str):
            if dna_input not in self.names:
                raise ValueError(
                    f"`dna_input` names no input of the model. Inputs: {self.names}. "
                    f"Received: dna_input={dna_input!r}"
                )
            self.dna_index = self.names.index(dna_input)
        elif isinstance(dna_input, (int, np.integer)) and not isinstance(dna_input, bool) \
                and 0 <= dna_input < len(tensors):
            self.dna_index = int(dna_input)
        else:
            raise ValueError(
                f"`dna_input` must be an input name or position. Inputs: {self.names}. "
                f"Received: dna_input={dna_input!r}"
            )
        for i, (name, shape) in enumerate(zip(self.names, shapes)):
            if i != self.dna_index:
                self.aux_names.append(name)
                self.aux_shapes.append(shape[1:])
        self._dna_name = self.names[self.dna_index]

    def assemble(self, x, aux):
        """The model's input structure with ``x`` as the DNA and ``aux`` (in order) beside it."""
        if not self.aux_names:
            return x
        by_name = dict(zip(self.aux_names, aux))
        by_name[self._dna_name] = x
        return keras.tree.map_structure(lambda t: by_name[t.name], self.structure)


def _broadcast_rows(a, rows):
    """``a`` (1 or ``rows`` rows) broadcast to ``rows`` rows."""
    ops = keras.ops
    return ops.broadcast_to(a, (rows,) + tuple(ops.shape(a)[1:]))


class ModelFunction:
    """A model bound to a target, with compiled batched forward and gradient passes.

    Args:
        model: the Keras model (never modified). A model taking integer tokens through
            an ``Embedding`` is explained through its one-hot equivalent (default
            tokens, see :mod:`keras_iml.engine.graph`); a DNA input that cannot be
            made one-hot raises ValueError.
        target: see :mod:`keras_iml.engine.targets`.
        logit: explain the pre-activation of a final sigmoid/softmax.
        gradient_correction: subtract the per-position mean over the 4 bases from
            every gradient (Majdandzic et al. 2023), removing the off-simplex
            component that one-hot inputs cannot move along.
        example: one input batch used to check the target against real outputs
            (with its auxiliary inputs bound, for a model that takes them).
        dna_input: which input is the DNA (see :class:`InputLayout`).

    Attributes:
        model: the model explained, taking one-hot DNA: ``model`` itself, or the
            one-hot equivalent of a token model (what methods inspect).
        source_model: the model given; ``adapter``: its
            :class:`~keras_iml.engine.graph.TokenAdapter`, or None.

    Example:
        >>> f = ModelFunction(model, target=0)
        >>> values, grads = f.value_and_gradient(x)   # (N,), (N, L, 4)
    """

    def __init__(self, model, target=None, logit=False, gradient_correction=False, example=None,
                 dna_input=None):
        if not isinstance(model, keras.Model):
            raise TypeError(f"`model` must be a keras.Model. Received: model of type {type(model).__name__}")
        targets.check_target(target)
        self.source_model = model
        self.target = target
        self.logit = bool(logit)
        self.gradient_correction = bool(gradient_correction)
        self.backend = backend_lib.current()
        self.inputs = InputLayout(model, dna_input)
        self.model, self.adapter = input_kinds.adapt(model, self.inputs.dna_index)
        if self.adapter is not None:
            self._forward = self.adapter.forward(self.logit)
        else:
            self._forward = targets.logit_model(model) if self.logit else model
        self._output_names = list(getattr(model, "output_names", None) or [])
        self._aux = None  # numpy arrays of the bound batch
        self._traced_aux = ()  # backend tensors of the auxiliary inputs inside a call
        self._memo = {}
        # Traced with the length the model declares: some kernels (TensorFlow's oneDNN
        # pooling after a TimeDistributed loop) fail on a length-free graph of a model
        # that Keras itself runs at its fixed length.
        length = (self.adapter.length if self.adapter is not None
                  else declared_length(self.model, self.inputs.dna_index))
        #: ``((None, L, 4), "float32")``: the signature every compiled pass of this
        #: function is traced with (``L`` the model's declared length, or None).
        self.x_spec = ((None, length, 4), "float32")
        self._value = self.compile(self.output, [self.x_spec])
        self._value_and_grad = self.compile(self._output_and_gradient, [self.x_spec])
        if example is not None:
            self._check_target(np.asarray(example, np.float32)[:1])

    # -- auxiliary inputs --------------------------------------------------------------
    @property
    def aux_names(self):
        """Names of the model's auxiliary (non-DNA) inputs."""
        return list(self.inputs.aux_names)

    @contextlib.contextmanager
    def bound(self, aux):
        """Holds the auxiliary inputs of a batch fixed while a method explains it.

        Args:
            aux: list of numpy arrays (one per auxiliary input, in order), each with
                the batch's rows or one row; None for a model without them.
        """
        previous = self._aux
        self._aux = None if aux is None else [np.asarray(a, np.float32) for a in aux]
        try:
            yield self
        finally:
            self._aux = previous

    def _aux_arrays(self):
        if not self.inputs.aux_names:
            return ()
        if self._aux is None:
            raise ValueError(
                f"The model takes inputs {self.inputs.aux_names} besides the DNA; pass their "
                "values with `aux=` (a dict name -> array with one row per sequence)."
            )
        return tuple(self._aux)

    # -- the traced function -------------------------------------------------------------
    def raw_call(self, x):
        """Model outputs (or logits) for a batch of DNA, with the bound auxiliary inputs."""
        if not self.inputs.aux_names:
            return self._forward(x, training=False)
        rows = keras.ops.shape(x)[0]
        aux = [_broadcast_rows(a, rows) for a in self._traced_aux]
        return self._forward(self.inputs.assemble(x, aux), training=False)

    def select(self, outputs):
        """Reduces raw model outputs to one scalar per sequence, shape ``(N,)``."""
        return targets.select(outputs, self.target, self._output_names)

    def output(self, x):
        """``f(x)``, traceable (backend tensors in, ``(N,)`` out)."""
        return self.select(self.raw_call(x))

    def _output_and_gradient(self, x):
        value, grad = self.backend.value_and_grad(self.output)(x)
        if self.gradient_correction:
            grad = grad - keras.ops.mean(grad, axis=-1, keepdims=True)
        return value, grad

    def _check_target(self, example):
        """Runs the target on one example eagerly, so its errors read plainly."""
        ops = keras.ops
        length = None if self.adapter is None else self.adapter.length
        if length is not None and example.shape[1] != length:
            raise ValueError(
                f"The model takes sequences of length {length}. Received: x.shape={tuple(example.shape)}"
            )
        previous = self._traced_aux
        self._traced_aux = tuple(ops.convert_to_tensor(a) for a in self._aux_arrays())
        try:
            value = ops.convert_to_numpy(self.output(ops.convert_to_tensor(example)))
        finally:
            self._traced_aux = previous
        if value.ndim != 1 or value.shape[0] != 1:
            raise ValueError(
                "`target` must reduce the model output to one value per sequence. "
                f"Received: a value of shape {tuple(value.shape)} for 1 sequence"
            )

    def describe(self):
        """A JSON-friendly description of the target, stored in Attributions."""
        t = self.target
        desc = getattr(t, "__name__", "callable") if callable(t) else repr(t) if t is not None else None
        out = {"target": desc, "logit": self.logit, "gradient_correction": self.gradient_correction}
        if self.adapter is not None:
            out["input_adapter"] = self.adapter.describe()
        return out

    # -- compiled passes ------------------------------------------------------------------
    def compile(self, fn, signature=None):
        """``fn`` compiled on the running backend, taking and returning numpy arrays.

        Use it for a method's own tensor code (written with ``keras.ops`` and
        :func:`keras_iml.engine.backend.current`'s ``value_and_grad``): it is traced
        with this model's variables and receives the bound auxiliary inputs, so
        :meth:`raw_call` inside ``fn`` sees them.

        Args:
            fn: a function of backend tensors.
            signature: optional list of ``(shape, dtype)`` of its arguments (TensorFlow
                then traces it once for every shape).
        """
        n_aux = len(self.inputs.aux_names)

        def traced(*args):
            main = args[: len(args) - n_aux]
            previous, self._traced_aux = self._traced_aux, tuple(args[len(main):])
            try:
                return fn(*main)
            finally:
                self._traced_aux = previous

        if signature is not None and n_aux:
            signature = list(signature) + [((None,) + tuple(s), "float32") for s in self.inputs.aux_shapes]
        compiled = self.backend.function(traced, variables=self.model.variables, signature=signature)

        def call(*arrays):
            return compiled(*arrays, *self._aux_arrays())

        return call

    def __call__(self, x):
        """``f(x)`` as a numpy array ``(N,)``."""
        return self._value(np.asarray(x, np.float32))

    def value_and_gradient(self, x):
        """Returns ``(f(x), df/dx)`` as numpy arrays ``(N,)`` and ``(N, L, 4)``."""
        return self._value_and_grad(np.asarray(x, np.float32))

    def gradient(self, x):
        """``df/dx`` as a numpy array ``(N, L, 4)`` (corrected if requested)."""
        return self.value_and_gradient(x)[1]

    def _aux_gradients(self, x):
        """Gradients of ``f`` with respect to each auxiliary input, traceable."""
        rows = keras.ops.shape(x)[0]
        aux = [_broadcast_rows(a, rows) for a in self._traced_aux]
        grads = []
        for k in range(len(aux)):

            def f(a_k, k=k):  # f with the k-th auxiliary input as the variable
                previous = self._traced_aux
                self._traced_aux = tuple(a_k if j == k else a for j, a in enumerate(aux))
                try:
                    return self.output(x)
                finally:
                    self._traced_aux = previous

            grads.append(self.backend.value_and_grad(f)(aux[k])[1])
        return tuple(grads)

    def aux_gradient(self, x):
        """``df/da`` for every auxiliary input ``a`` at the bound values, one row per row of ``x``.

        Each auxiliary array bound with one row is broadcast to the rows of ``x``
        first, so every row gets its own gradient.

        Returns:
            A list of numpy arrays in :attr:`aux_names` order, each ``(N,) + shape``
            of its input (empty for a model without auxiliary inputs).
        """
        if not self.inputs.aux_names:
            return []
        fn = self.compiled("keras_iml.aux_gradient", lambda: self.compile(self._aux_gradients, [self.x_spec]))
        return [np.asarray(g, np.float32) for g in fn(np.asarray(x, np.float32))]

    def compiled(self, key, build):
        """Returns ``build()``, built once per ``key`` for this function.

        Methods keep their own compiled graphs (e.g. DeepLIFT's) here, so a model
        explained repeatedly through the same engine is traced once. The memo lives
        and dies with this object; nothing is global.
        """
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    def rows_per_call(self, chunk_size, length, upper, passes=3):
        """``chunk_size`` when set, else the rows per compiled call that fit the memory
        budget (:func:`keras_iml.engine.memory.rows_per_call`), at most ``upper``."""
        if chunk_size is not None:
            return int(chunk_size)
        key = ("keras_iml.rows_per_call", int(length), int(upper), passes)
        return self.compiled(key, lambda: memory.rows_per_call(self.model, int(length), upper=upper,
                                                               passes=passes))

    def batched(self, fn, x, chunk):
        """Applies ``fn`` to ``x`` in chunks of ``chunk`` rows and concatenates."""
        outs = [fn(x[i : i + chunk]) for i in range(0, len(x), chunk)]
        if isinstance(outs[0], tuple):
            return tuple(np.concatenate(parts) for parts in zip(*outs))
        return np.concatenate(outs)
