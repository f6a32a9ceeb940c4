"""`Explainer`, the one attribution engine behind ``explain``, the wrapper, every metric and the zoo
(:mod:`keras_iml.trace_cache` keeps explainers between calls).

An Explainer binds a model to a target and owns what every attribution run needs:
input checking, batching, the per-sequence random generators (keyed by the
sequence, :mod:`keras_iml.engine.seeds`), per-sequence options cut to each batch,
auxiliary inputs held fixed, the projection of reference-based contributions on the
observed bases, reverse-complement averaging, a progress bar, and the compiled model
function with every method's traced graphs (its trace cache), built once and reused
by every later run.

Example:
    >>> explainer = keras_iml.Explainer(model, target=0)
    >>> ig = explainer.run("integrated_gradients", x, seed=0, steps=32)
    >>> sal = explainer.run("saliency", x)          # the same compiled model function
"""

from __future__ import annotations

import numpy as np

import keras
from keras_iml import dna
from keras_iml import methods as methods_lib
from keras_iml.attributions import Attributions
from keras_iml.engine import backend as backend_lib
from keras_iml.engine import input_kinds
from keras_iml.engine import inputs as inputs_lib
from keras_iml.engine import targets
from keras_iml.engine.function import InputLayout, ModelFunction
from keras_iml.engine.seeds import SequenceSeeds
from keras_iml.types import MethodLike, Seed, SequencesLike, TargetLike, Verbose

__all__ = ["Explainer", "project"]


def project(method, out, x):
    """Puts a reference-based method's contributions on the observed bases.

    ``(x - r) * m`` is non-zero at absent bases when the reference is not zero; its
    per-position sum equals ``hypothetical * x`` summed over bases (for one-hot and
    N columns), so projecting keeps completeness and gives every method the same
    convention: ``values`` live on the observed bases, ``hypothetical`` everywhere.
    Methods declare this with ``multiplies_input = True``.
    """
    if method.multiplies_input and out.get("hypothetical") is not None:
        out = dict(out, values=np.asarray(out["hypothetical"]) * x)
    return out


def _explained(model):
    unwrap = getattr(model, "_iml_explained_model", None)  # an IMLModel explains its model
    return unwrap() if unwrap is not None else model


class Explainer:
    """Attributions of one model's target, for any method, in batches.

    Args:
        model: a Keras model taking one-hot DNA ``(N, L, 4)`` (never modified). A
            model with other inputs too takes them per sequence through ``aux=``.
        target: which output to explain (see :mod:`keras_iml.engine.targets`).
        logit: explain the logit of a final sigmoid/softmax.
        gradient_correction: remove the per-position mean over bases from gradients.
        alphabet: column order of the encoding (``"ACGT"``).
        n_policy: how ``N`` in strings is encoded (``"uniform"``, ``"zeros"``, ``"error"``).
        dna_input: for a model with several inputs, the name or position of the DNA
            input (None: the only ``(N, L, 4)`` input).

    Example:
        >>> explainer = keras_iml.Explainer(model)
        >>> attr = explainer.run("deeplift_shap", x, seed=0, n_references=20)
        >>> attr.values.shape
        (256, 1000, 4)
    """

    def __init__(self, model: keras.Model, target: TargetLike = None, *, logit: bool = False,
                 gradient_correction: bool = False, alphabet: str = "ACGT",
                 n_policy: str = "uniform", dna_input: int | str | None = None):
        model = _explained(model)
        if not isinstance(model, keras.Model):
            raise TypeError(f"`model` must be a keras.Model. Received: model of type {type(model).__name__}")
        targets.check_target(target)
        if not isinstance(alphabet, str) or len(alphabet) != 4 or len(set(alphabet.upper())) != 4:
            raise ValueError(f"`alphabet` must be 4 distinct letters. Received: alphabet={alphabet!r}")
        if n_policy not in dna.N_POLICIES:
            raise ValueError(f"`n_policy` must be one of {dna.N_POLICIES}. Received: n_policy={n_policy!r}")
        self.model = model
        self.target = target
        self.logit = bool(logit)
        self.gradient_correction = bool(gradient_correction)
        self.alphabet = alphabet
        self.n_policy = n_policy
        self.dna_input = dna_input
        self.layout = InputLayout(model, dna_input)
        self._function = None

    def __repr__(self):
        return (f"Explainer(model={self.model.name!r}, target={self.target!r}, logit={self.logit}, "
                f"backend={backend_lib.name()!r})")

    # -- the compiled model function -------------------------------------------------------
    @property
    def aux_names(self):
        """Names of the model's auxiliary (non-DNA) inputs."""
        return list(self.layout.aux_names)

    def function(self, example=None, aux=None):
        """The :class:`ModelFunction` (built on first use, the target checked on ``example``)."""
        if self._function is None:
            function = ModelFunction(self.model, target=self.target, logit=self.logit,
                                     gradient_correction=self.gradient_correction,
                                     dna_input=self.dna_input)
            if example is not None:
                with function.bound(None if aux is None else [a[:1] for a in aux]):
                    function._check_target(np.asarray(example, np.float32)[:1])
            self._function = function
        return self._function

    def _check_length(self, xb):
        try:
            tensor = self.model.inputs[self.layout.dna_index]
            shape = tuple(tensor.shape)
        except (AttributeError, ValueError, IndexError, TypeError):
            return
        if len(shape) != 3:
            return
        length, channels = shape[1], shape[2]
        if channels is not None and channels != 4:
            if input_kinds.kind_of(tensor) is not None:
                return  # another registered kind of input: its adapter gives the length
            if length == 4:
                raise ValueError(
                    "The model expects channels-first input (N, 4, L); keras_iml explains "
                    f"{input_kinds.describe_kinds()}. Received model input shape {shape[1:]}.")
        if length is not None and xb.shape[1] != length:
            raise ValueError(
                f"The model takes sequences of length {length}. Received: x.shape={tuple(xb.shape)}"
            )

    # -- running a method ---------------------------------------------------------------------
    def _outputs(self, method, x, *, seed, batch_size, rc_average, verbose, aux, rows,
                 attribute_aux=False):
        """Yields ``(start, x_batch, out)`` for every batch, ``out`` the method's dict
        (with ``"aux"``, the auxiliary inputs' attributions, when ``attribute_aux``)."""
        inputs_lib.check_batch_size(batch_size)
        n_total, batches = inputs_lib.batches(x, batch_size, self.alphabet, self.n_policy)
        aux = inputs_lib.check_aux(aux, self.layout.aux_names, self.layout.aux_shapes, n_total)
        self._check_attribute_aux(method, attribute_aux)
        if aux is not None and n_total is None:
            raise ValueError("`aux` needs `x` as an array or strings, not a tf.data.Dataset.")
        if aux is not None and rc_average:
            raise ValueError(
                "`rc_average=True` cannot reverse auxiliary inputs (the engine does not know "
                f"their layout). Received: rc_average=True with aux {self.aux_names}"
            )
        if rows is not None:
            rows = np.asarray(rows)
            if n_total is None or rows.shape != (n_total,):
                raise ValueError(
                    f"`rows` must hold one index per sequence of x. Received: rows.shape={rows.shape}"
                )
        seeds = SequenceSeeds(seed)
        shared_aux = aux is not None and all(len(a) == 1 for a in aux)
        function, bar, start = None, None, 0
        for xb in batches:
            if function is None:
                self._check_length(xb)
                method.check_backend()
                function = self.function(example=xb, aux=aux)
                method.check_params(function)
                n_batches = None if n_total is None else -(-n_total // batch_size)
                v = inputs_lib.check_verbose(verbose, n_batches)
                if v:
                    bar = keras.utils.Progbar(n_total, verbose=v, unit_name="seq")
            stop = start + len(xb)
            index = np.arange(start, stop) if rows is None else rows[start:stop]
            inst = method.for_rows(index, n_total if rows is None else None) \
                if n_total is not None else method
            rngs = seeds.generators(xb, count_copies=bool(method.stochastic))
            if aux is None or shared_aux:
                with function.bound(aux):
                    out = self._attribute(inst, function, xb, rngs, seeds, rc_average)
            else:  # each sequence with its own auxiliary values, held fixed
                pieces = []
                for i in range(len(xb)):
                    with function.bound([a[start + i : start + i + 1] for a in aux]):
                        pieces.append(self._attribute(inst, function, xb[i : i + 1], rngs[i : i + 1],
                                                      seeds, False))
                out = {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]
                       if all(p.get(k) is not None for p in pieces)}
            if attribute_aux:  # aligned rows: every evaluation is of the batch itself
                batch_aux = [np.ascontiguousarray(np.broadcast_to(a, (len(xb),) + a.shape[1:]))
                             if len(a) == 1 else a[start:stop] for a in aux]
                with function.bound(batch_aux):
                    out["aux"] = [np.asarray(v, np.float32)
                                  for v in inst.attribute_aux(function, xb, batch_aux)]
            yield start, xb, out
            start = stop
            if bar is not None:
                bar.update(start)
        if function is None:
            raise ValueError("`x` is empty: it yielded no sequences.")

    def _check_attribute_aux(self, method, attribute_aux):
        if not isinstance(attribute_aux, (bool, np.bool_)):
            raise ValueError(f"`attribute_aux` must be True or False. Received: attribute_aux={attribute_aux!r}")
        if not attribute_aux:
            return
        if not self.aux_names:
            raise ValueError("`attribute_aux=True` needs a model with auxiliary (non-DNA) inputs. "
                             f"Received: a model whose only input is the DNA ({self.model.name!r})")
        if not method.attributes_aux:
            able = [n for n in methods_lib.names() if methods_lib.REGISTRY.get_class(n).attributes_aux]
            raise ValueError(
                f"`attribute_aux=True` is defined for the gradient methods {able}. "
                f"Received: method={method.name!r}"
            )

    def _aux_dict(self, parts):
        """Per-batch lists of auxiliary attributions joined into a dict name -> array."""
        if not parts:
            return None
        return {name: np.concatenate([p[k] for p in parts]) for k, name in enumerate(self.aux_names)}

    def _attribute(self, method, function, xb, rngs, seeds, rc_average):
        try:
            return self._attribute_strands(method, function, xb, rngs, seeds, rc_average)
        except backend_lib.current().ERRORS as err:
            raise self._runtime_error(repr(method.name), xb, err) from err

    def _runtime_error(self, what, xb, err):
        """A backend runtime error reworded: what failed, on which model and shape."""
        return RuntimeError(
            f"{what} failed inside the {backend_lib.name()} runtime on model {self.model.name!r} "
            f"with inputs of shape {tuple(xb.shape)}: {type(err).__name__}: "
            f"{backend_lib.error_summary(err)}. Please report this with the model's summary; "
            "other methods (keras_iml.methods.names()) may run."
        )

    def _attribute_strands(self, method, function, xb, rngs, seeds, rc_average):
        out = project(method, method.attribute(function, xb, rngs), xb)
        if not rc_average:
            return out
        xrc = np.ascontiguousarray(dna.reverse_complement(xb))
        if seeds.last is not None:
            rc_rngs = seeds.generators(xrc, strand=1, digests=seeds.last)
        else:  # keyed by the forward rows
            rc_rngs = seeds.generators(xb, strand=1, count_copies=False)
        out_rc = project(method, method.attribute(function, xrc, rc_rngs), xrc)
        merged = {}
        for key, value in out.items():
            other = out_rc.get(key)
            if value is None or other is None:
                continue
            other = dna.reverse_complement(other) if np.ndim(value) == 3 else other
            merged[key] = 0.5 * (np.asarray(value) + np.asarray(other))
        return merged

    def _params(self, method, seed, rc_average):
        return {**method.get_config(), "seed": seed, "rc_average": bool(rc_average)}

    def stream(self, method, x, *, seed=None, batch_size=128, rc_average=False, verbose="auto",
               aux=None, rows=None, attribute_aux=False, **options):
        """Yields one :class:`Attributions` per batch (flat memory for any number of sequences).

        Takes the arguments of :meth:`run`.
        """
        method = methods_lib.get(method, **options)
        seed = inputs_lib.check_seed(seed)
        params = self._params(method, seed, rc_average)
        for _, xb, out in self._outputs(method, x, seed=seed, batch_size=batch_size,
                                        rc_average=rc_average, verbose=verbose, aux=aux, rows=rows,
                                        attribute_aux=attribute_aux):
            yield Attributions(out["values"], method=method.name, params=params,
                               target=self._function.describe(), hypothetical=out.get("hypothetical"),
                               inputs=xb, convergence_delta=out.get("convergence_delta"),
                               aux=self._aux_dict([out["aux"]] if "aux" in out else []))

    def run(self, method: MethodLike, x: SequencesLike, *, seed: Seed = None, batch_size: int = 128,
            rc_average: bool = False, verbose: Verbose = "auto", aux=None, rows=None,
            attribute_aux: bool = False, **options) -> Attributions:
        """Attributions of ``x`` by one method.

        Args:
            method: a registered name (``keras_iml.methods.names()``), a config dict or an
                ``AttributionMethod``.
            x: one-hot array or tensor ``(N, L, 4)``; a DNA string or list of strings;
                or a ``tf.data.Dataset`` of one-hot sequences (or ``(x, y)`` pairs).
            seed: seed of the method's random draws; None draws one (recorded in
                ``Attributions.params["seed"]``). Draws are keyed by each sequence, so
                a sequence gets the same attributions in any batch or order.
            batch_size: sequences per batch.
            rc_average: average with the attributions of the reverse complement.
            verbose: ``"auto"``, 0, 1 or 2 (a ``keras.utils.Progbar``).
            aux: the model's other inputs, held fixed while the DNA is attributed: a
                dict name -> array with one row per sequence (or a single shared row).
            rows: for per-sequence method options (one baseline per sequence...), the
                index of each sequence of ``x`` in the data those options describe
                (default: ``x`` is that data).
            attribute_aux: also attribute the auxiliary inputs, into
                ``Attributions.aux`` (dict input name -> array shaped like its values).
                Defined for the gradient methods only (``saliency``: the gradient;
                ``input_x_gradient``: value x gradient; ``integrated_gradients``: the
                path from 0 with the DNA held fixed); other methods raise ValueError.
            **options: the method's options (with a name or config).

        Returns:
            An :class:`Attributions`.
        """
        method = methods_lib.get(method, **options)
        seed = inputs_lib.check_seed(seed)
        full = None if inputs_lib.is_dataset(x) else inputs_lib.as_array(
            x, alphabet=self.alphabet, n_policy=self.n_policy)
        arrays, xs, shared, aux_parts = {}, [], True, []
        for _, xb, out in self._outputs(method, x if full is None else full, seed=seed,
                                        batch_size=batch_size, rc_average=rc_average,
                                        verbose=verbose, aux=aux, rows=rows,
                                        attribute_aux=attribute_aux):
            xs.append(xb)
            if "aux" in out:
                aux_parts.append(out["aux"])
            # saliency and ISM return one array as values and hypothetical: keep one copy
            shared = shared and out.get("hypothetical") is out["values"]
            for key in ("values", "hypothetical", "convergence_delta"):
                if out.get(key) is not None and not (shared and key == "hypothetical"):
                    arrays.setdefault(key, []).append(np.asarray(out[key], np.float32))
        join = {k: v[0] if len(v) == 1 else np.concatenate(v) for k, v in arrays.items()}
        if shared:
            join["hypothetical"] = join["values"]
        inputs = full if full is not None else xs[0] if len(xs) == 1 else np.concatenate(xs)
        return Attributions(join["values"], method=method.name,
                            params=self._params(method, seed, rc_average),
                            target=self._function.describe(), hypothetical=join.get("hypothetical"),
                            inputs=inputs, convergence_delta=join.get("convergence_delta"),
                            aux=self._aux_dict(aux_parts))

    def predict(self, x: SequencesLike, *, batch_size: int = 128, aux=None) -> np.ndarray:
        """The explained output ``f(x)`` for every sequence, ``(N,)`` numpy."""
        inputs_lib.check_batch_size(batch_size)
        n_total, batches = inputs_lib.batches(x, batch_size, self.alphabet, self.n_policy)
        aux = inputs_lib.check_aux(aux, self.layout.aux_names, self.layout.aux_shapes, n_total)
        outs, start, function = [], 0, None
        for xb in batches:
            if function is None:
                self._check_length(xb)
                function = self.function(example=xb, aux=aux)
            rows = None if aux is None else [a if len(a) == 1 else a[start : start + len(xb)] for a in aux]
            with function.bound(rows):
                try:
                    outs.append(function(xb))
                except backend_lib.current().ERRORS as err:
                    raise self._runtime_error("The forward pass", xb, err) from err
            start += len(xb)
        if not outs:
            raise ValueError("`x` is empty: it yielded no sequences.")
        return np.concatenate(outs)
