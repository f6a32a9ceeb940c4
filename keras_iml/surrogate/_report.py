"""The result of :func:`keras_iml.surrogate.distill`."""

import dataclasses

import pandas as pd

from keras_iml.io import json_ready
from keras_iml.surrogate import models as models_lib

__all__ = ["Distillation"]


@dataclasses.dataclass
class Distillation:
    """Surrogates of a model and their fidelity, library by library.

    Attributes:
        fidelity: DataFrame with columns ``library``, ``surrogate``, ``n`` (held-out
            queries), ``r2`` and ``spearman`` (surrogate vs model on those queries).
        surrogates: dict name -> fitted :class:`keras_iml.surrogate.models.Surrogate`.
        responses: dict library -> DataFrame of the held-out queries: the library's
            design columns, ``model`` (the model's output) and one column per
            surrogate (its prediction); at most ``params["max_responses"]`` rows.
        libraries: dict library -> ``class_name``, ``config``, ``seed``,
            ``n_queries``, ``n_train``, ``n_holdout``, ``scope`` and ``fitted`` (the
            surrogates fitted on it).
        params: seed, n_queries, target, length, references, timings (seconds)...
        reasons: dict name -> why a library or surrogate was skipped.
    """

    fidelity: pd.DataFrame
    surrogates: dict
    responses: dict
    libraries: dict
    params: dict
    reasons: dict = dataclasses.field(default_factory=dict)

    def __repr__(self):
        table = self.fidelity.pivot(index="library", columns="surrogate", values="r2") \
            if len(self.fidelity) else self.fidelity
        skipped = f", skipped {sorted(self.reasons)}" if self.reasons else ""
        return (f"<Distillation: {self.params.get('n_queried')} queries, {len(self.libraries)} libraries, "
                f"surrogates {sorted(self.surrogates)}{skipped}; held-out R2:\n{table.round(3).to_string()}>")

    def summary(self):
        """One row per surrogate: fidelity across libraries (mean, worst and where).

        Returns:
            DataFrame with columns ``surrogate``, ``scope``, ``n_features``, ``n_train``,
            ``r2_mean``, ``r2_min``, ``worst_library``, ``spearman_mean``, ``spearman_min``.

        Example:
            >>> result.summary().sort_values("r2_mean")
        """
        rows = []
        for key, sur in self.surrogates.items():
            part = self.fidelity[self.fidelity["surrogate"] == key]
            r2 = part["r2"].astype(float)
            worst = part.loc[r2.idxmin(), "library"] if r2.notna().any() else None
            rows.append({
                "surrogate": key, "scope": sur.scope, "n_features": len(sur.coef_), "n_train": sur.n_samples_,
                "r2_mean": float(r2.mean()) if len(r2) else float("nan"),
                "r2_min": float(r2.min()) if len(r2) else float("nan"), "worst_library": worst,
                "spearman_mean": float(part["spearman"].mean()) if len(part) else float("nan"),
                "spearman_min": float(part["spearman"].min()) if len(part) else float("nan"),
            })
        return pd.DataFrame(rows, columns=["surrogate", "scope", "n_features", "n_train", "r2_mean",
                                           "r2_min", "worst_library", "spearman_mean", "spearman_min"])

    def to_dict(self, responses=False):
        """JSON-ready plain data (NaN as None).

        Args:
            responses: include the held-out responses (up to ``max_responses`` rows per
                library; off by default to keep reports small).

        Returns:
            dict with ``fidelity`` (records), ``summary`` (records), ``surrogates`` (name ->
            ``class_name``, ``config``, ``scope`` and readable parameters: ``matrix``
            or ``weights``), ``libraries``, ``params``, ``reasons`` and, on request,
            ``responses`` (library -> records).
        """
        out = {
            "fidelity": self.fidelity,
            "summary": self.summary(),
            "surrogates": {k: {**models_lib.serialize(s), "scope": s.scope, **s.summary()}
                           for k, s in self.surrogates.items()},
            "libraries": self.libraries,
            "params": self.params,
            "reasons": self.reasons,
        }
        if responses:
            out["responses"] = dict(self.responses)
        return json_ready(out)
