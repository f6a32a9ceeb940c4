"""The `Attributions` result object returned by every attribution method."""

from __future__ import annotations

import json

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from keras_iml import _checks
from keras_iml.io import atomic_write
from keras_iml.types import PathLike

__all__ = ["Attributions"]


class Attributions:
    """Attribution scores for a batch of one-hot DNA sequences.

    Attributes:
        values: float32 array ``(N, L, 4)``; the contribution of each observed base.
            Reference-based methods (input x gradient, integrated and expected
            gradients, DeepLIFT, DeepLIFT-SHAP) put each position's contribution
            ``sum_c (x - r)[i, c] * m[i, c]`` on its observed base, so
            ``values == hypothetical * inputs`` and sums are unchanged. Saliency
            and ISM define values at every base.
        hypothetical: float32 array ``(N, L, 4)`` or None: the contribution each base
            would have at each position (TF-MoDISco's input), where the method
            defines it. For methods defined at every base (saliency, ISM) it is the
            same array object as ``values``.
        inputs: the one-hot inputs ``(N, L, 4)`` that were explained, or None.
        method: registered name of the method.
        params: the method's configuration, including the seed that was used.
        target: description of the explained output.
        convergence_delta: float32 ``(N,)`` or None: ``sum(values) - (f(x) - f(ref))``
            for methods with a completeness property.
        names: list of ``N`` strings or None: the name of each sequence (FASTA record,
            BED interval ``chrom:start-end`` or its name). Kept by selection,
            concatenation and ``.npz`` files; ``attr["peak_7"]`` selects by name.
        aux: dict input name -> float32 array ``(N, ...)`` or None: attributions of a
            model's auxiliary (non-DNA) inputs, e.g. a DNase track (``explain(...,
            attribute_aux=True)``; each array shaped like the input's values).
    """

    def __init__(
        self,
        values: np.ndarray,
        *,
        method: str,
        params: dict | None = None,
        target=None,
        hypothetical: np.ndarray | None = None,
        inputs: np.ndarray | None = None,
        convergence_delta: np.ndarray | None = None,
        names: Sequence[str] | None = None,
        aux: dict[str, np.ndarray] | None = None,
    ):
        self.values = np.asarray(values, dtype=np.float32)
        if self.values.ndim != 3:
            raise ValueError(
                f"`values` must have shape (N, L, 4). Received: values.shape={self.values.shape}"
            )
        self.hypothetical = _opt(hypothetical, self.values.shape, "hypothetical")
        self.inputs = _opt(inputs, self.values.shape, "inputs")
        self.convergence_delta = _opt(
            convergence_delta, self.values.shape[:1], "convergence_delta"
        )
        self.method = method
        self.params = dict(params or {})
        self.target = target
        self.names = _checks.check_names(names, self.values.shape[0])
        self.aux = _aux(aux, self.values.shape[0])

    def __len__(self):
        return self.values.shape[0]

    def __repr__(self):
        extra = []
        if self.hypothetical is not None:
            extra.append("hypothetical")
        if self.convergence_delta is not None:
            extra.append("convergence_delta")
        more = f", with {' & '.join(extra)}" if extra else ""
        return f"<Attributions method={self.method!r} shape={self.values.shape}{more}>"

    def __getitem__(self, index):
        """Selects sequences: ``attr[:10]``, ``attr[[0, 5]]``, a boolean mask, or by name:
        ``attr["peak_7"]`` (every sequence of that name) or a list of names."""
        index = self._index(index)
        pick = lambda a: None if a is None else a[index]  # noqa: E731
        return Attributions(
            self.values[index],
            method=self.method,
            params=self.params,
            target=self.target,
            hypothetical=pick(self.hypothetical),
            inputs=pick(self.inputs),
            convergence_delta=pick(self.convergence_delta),
            names=None if self.names is None else np.asarray(self.names, dtype=object)[index].tolist(),
            aux=None if self.aux is None else {k: v[index] for k, v in self.aux.items()},
        )

    def _index(self, index):
        """A numpy index for ``__getitem__`` (names turned into positions)."""
        if isinstance(index, (int, np.integer)):
            return [int(index)]
        single = isinstance(index, str)
        if single or (isinstance(index, (list, tuple)) and index and all(isinstance(i, str) for i in index)):
            if self.names is None:
                raise KeyError(f"These attributions carry no sequence names. Received: index={index!r}")
            where = {}
            for i, name in enumerate(self.names):
                where.setdefault(name, []).append(i)
            wanted = [index] if single else list(index)
            missing = [w for w in wanted if w not in where]
            if missing:
                raise KeyError(f"No sequence named {missing[0]!r}. Received: index={index!r}")
            return [i for w in wanted for i in where[w]]
        return index

    @property
    def position_importance(self) -> np.ndarray:
        """``(N, L)`` |attribution| summed over bases."""
        return np.abs(self.values).sum(-1)

    @classmethod
    def concatenate(cls, parts: Iterable[Attributions]) -> Attributions:
        """Joins Attributions of the same method computed on consecutive batches.

        The result carries names when every part does (None otherwise).
        """
        parts = list(parts)
        if not parts:
            raise ValueError("`parts` must contain at least one Attributions object.")
        first = parts[0]

        def cat(attr):
            arrays = [getattr(p, attr) for p in parts]
            return None if arrays[0] is None else np.concatenate(arrays, axis=0)

        return cls(
            cat("values"),
            method=first.method,
            params=first.params,
            target=first.target,
            hypothetical=cat("hypothetical"),
            inputs=cat("inputs"),
            convergence_delta=cat("convergence_delta"),
            names=None if any(p.names is None for p in parts) else [n for p in parts for n in p.names],
            aux=None if any(p.aux is None for p in parts) else {
                k: np.concatenate([p.aux[k] for p in parts]) for k in first.aux},
        )

    def to_dataframe(self, alphabet: str = "ACGT") -> pd.DataFrame:
        """Long-form DataFrame: one row per (sequence, position, base).

        Columns: ``seq, pos, base, value`` plus ``hypothetical`` and ``input`` where
        present; with names, a ``name`` column follows ``seq`` (the integer index).
        """
        n, length, c = self.values.shape
        seq, pos, base = np.meshgrid(
            np.arange(n), np.arange(length), np.arange(c), indexing="ij"
        )
        frame = {"seq": seq.ravel()}
        if self.names is not None:
            frame["name"] = np.asarray(self.names, dtype=object)[frame["seq"]]
        frame.update({
            "pos": pos.ravel(),
            "base": np.asarray(list(alphabet))[base.ravel()],
            "value": self.values.ravel(),
        })
        if self.hypothetical is not None:
            frame["hypothetical"] = self.hypothetical.ravel()
        if self.inputs is not None:
            frame["input"] = self.inputs.ravel()
        return pd.DataFrame(frame)

    def to_npz(self, path: PathLike, extra: dict | None = None) -> str:
        """Saves to a compressed ``.npz`` file (written atomically).

        Args:
            path: the file.
            extra: optional dict name -> array with one row per sequence stored
                beside (e.g. a BED input's ``chrom``, ``start``, ``end``, ``strand``);
                :meth:`from_npz` ignores them.
        """
        arrays = _check_extra(extra)
        rows, same = self._npz_rows()
        arrays.update(rows)
        if self.names is not None:
            arrays["names"] = np.asarray(self.names, dtype=str)
        arrays["meta"] = self._npz_meta(same)

        def write(tmp):
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)

        return atomic_write(path, write, suffix=".npz")

    def _npz_rows(self):
        """The row-wise arrays of the file, and whether ``hypothetical`` is ``values``
        (saliency and ISM: then stored once)."""
        same = self.hypothetical is not None and (
            self.hypothetical is self.values or np.array_equal(self.hypothetical, self.values))
        arrays = {"values": self.values}
        for name in ("hypothetical", "inputs", "convergence_delta"):
            if getattr(self, name) is not None and not (name == "hypothetical" and same):
                arrays[name] = getattr(self, name)
        for name, value in (self.aux or {}).items():
            arrays[f"aux:{name}"] = value
        return arrays, same

    def _npz_meta(self, same):
        meta = {"method": self.method, "params": self.params, "target": self.target,
                "hypothetical_is_values": bool(same)}
        return np.frombuffer(json.dumps(meta, default=_json_default).encode(), dtype=np.uint8)

    @staticmethod
    def stream_npz(batches, stream, extra=None):
        """Writes the batches of :func:`keras_iml.iter_explain` into an
        :class:`keras_iml.io.NpzStream` as they come (one ``.npz`` readable by
        :meth:`from_npz`; no array is held whole in memory).

        Args:
            batches: iterable of Attributions, in order.
            stream: an ``NpzStream`` sized for every sequence.
            extra: as for :meth:`to_npz`.

        Returns:
            The number of sequences written.
        """
        start, names, first, same = 0, [], None, True
        for attr in batches:
            rows, batch_same = attr._npz_rows()
            if same and not batch_same and start:  # hypothetical differs from here on
                stream.rows("hypothetical", 0, stream.read("values", start))
            same = same and batch_same
            if not same and "hypothetical" not in rows and attr.hypothetical is not None:
                rows["hypothetical"] = attr.hypothetical
            for name, value in rows.items():
                stream.rows(name, start, value)
            names.extend(attr.names or [])
            first = attr if first is None else first
            start += len(attr)
        if first is None:
            raise ValueError("`x` is empty: it yielded no sequences.")
        for name, value in _check_extra(extra).items():
            stream.whole(name, value)
        if names:
            stream.whole("names", np.asarray(names, dtype=str))
        stream.whole("meta", first._npz_meta(same))
        return start

    @classmethod
    def from_npz(cls, path: PathLike) -> Attributions:
        """Loads an object saved with :meth:`to_npz`."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(data["meta"].tobytes().decode())
            get = lambda k: data[k] if k in data.files else None  # noqa: E731
            values = data["values"]
            return cls(
                values,
                method=meta["method"],
                params=meta.get("params"),
                target=meta.get("target"),
                hypothetical=values if meta.get("hypothetical_is_values") else get("hypothetical"),
                inputs=get("inputs"),
                convergence_delta=get("convergence_delta"),
                names=None if get("names") is None else [str(n) for n in get("names")],
                aux={k[4:]: data[k] for k in data.files if k.startswith("aux:")} or None,
            )

    def plot(self, i: int | str = 0, ax=None, hypothetical: bool = False, start: int | None = None,
             end: int | None = None):
        """Draws sequence ``i`` (an index, or a name) as a sequence logo (logomaker) and
        returns the axes."""
        from keras_iml.plotting import attribution_logo

        values = self.hypothetical if hypothetical else self.values
        if values is None:
            raise ValueError(
                f"Method {self.method!r} defines no hypothetical contributions. "
                "Received: hypothetical=True"
            )
        if isinstance(i, str):
            i = self._index(i)[0]
        return attribution_logo(values[i][slice(start, end)], ax=ax)


def _check_extra(extra):
    arrays = {str(k): np.asarray(v) for k, v in (extra or {}).items()}
    reserved = {"values", "hypothetical", "inputs", "convergence_delta", "names", "meta"}
    if reserved & set(arrays) or any(k.startswith("aux:") for k in arrays):
        raise ValueError(f"`extra` must not reuse the file's own array names {sorted(reserved)}. "
                         f"Received: extra keys {sorted(arrays)}")
    return arrays


def _aux(aux, n):
    """Auxiliary-input attributions as a dict name -> float32 array with ``n`` rows, or None."""
    if aux is None:
        return None
    if not isinstance(aux, dict):
        raise TypeError(f"`aux` must be a dict input name -> array. Received: {type(aux).__name__}")
    out = {}
    for name, value in aux.items():
        arr = np.asarray(value, dtype=np.float32)
        if arr.ndim < 1 or arr.shape[0] != n:
            raise ValueError(f"`aux[{name!r}]` must have one row per sequence (N={n}). "
                             f"Received: aux[{name!r}].shape={arr.shape}")
        out[str(name)] = arr
    return out


def _opt(array, shape, name):
    if array is None:
        return None
    array = np.asarray(array, dtype=np.float32)
    if array.shape != tuple(shape):
        raise ValueError(
            f"`{name}` must have shape {tuple(shape)}. Received: {name}.shape={array.shape}"
        )
    return array


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return f"<array shape={obj.shape}>"
    return repr(obj)
