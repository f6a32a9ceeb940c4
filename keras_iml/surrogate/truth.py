"""The ground truth a distilled model is judged against: true motifs, decoys, their roles.

Example:
    >>> from keras_iml.surrogate import truth
    >>> t = truth.as_truth(data)            # a keras_iml.datasets.TFBindingData
    >>> truth.truth_motifs(t)               # name -> PFM, for distill(motifs=...)
"""

import dataclasses

import numpy as np
import pandas as pd

from keras_iml.surrogate._implant import resolve_motifs

__all__ = ["Truth", "as_truth", "truth_motifs", "truth_from"]


@dataclasses.dataclass
class Truth:
    """The ground truth: motifs that drive the labels, decoys that do not.

    Attributes:
        true: list of ``(name, pfm (W, 4))``.
        decoy: list of ``(name, pfm)``.
        position_invariant: whether a true motif counts wherever it sits.
        sufficient: names of the true motifs one copy of which makes a positive
            (None: every true motif; motifs of AND or dose rules are not).
    """

    true: list
    decoy: list
    position_invariant: bool = True
    sufficient: list = None

    def role(self, name):
        """``"true"``, ``"decoy"`` or None for a motif name of a library's design."""
        key = str(name).split()[0]
        for role, items in (("true", self.true), ("decoy", self.decoy)):
            if any(key == str(label).split()[0] for label, _ in items):
                return role
        return None

    def is_sufficient(self, name):
        """Whether one implanted copy of a true motif makes a positive under the truth."""
        key = str(name).split()[0]
        return self.role(name) == "true" and (
            self.sufficient is None or any(key == str(s).split()[0] for s in self.sufficient))


def _sufficient(instances):
    """Motif IDs planted alone in positives (rule ``single``), from an instance table."""
    if not isinstance(instances, pd.DataFrame) or not {"rule", "motif_id", "role"} <= set(instances.columns):
        return None
    true = instances[instances["role"] == "true"]
    return sorted(set(true.loc[true["rule"] == "single", "motif_id"].astype(str)))


def as_truth(truth):
    """A :class:`Truth` from a ``TFBindingData``, a dict or a Truth (None stays None).

    Args:
        truth: a :class:`keras_iml.datasets.TFBindingData`; a dict with ``"true"``
            (and optional ``"decoy"``: dict name -> PFM or JASPAR ID, or a list) and
            ``"position_invariant"``; a :class:`Truth`; or None.

    Raises:
        TypeError: for any other type.
    """
    if truth is None or isinstance(truth, Truth):
        return truth
    if hasattr(truth, "true_motif_ids") and hasattr(truth, "motifs"):
        pick = lambda ids: [(m, np.asarray(truth.motifs[m].pfm, float)) for m in ids]  # noqa: E731
        return Truth(pick(truth.true_motif_ids), pick(truth.decoy_motif_ids),
                     sufficient=_sufficient(truth.instances))
    if isinstance(truth, dict):
        unknown = set(truth) - {"true", "decoy", "position_invariant"}
        if unknown or "true" not in truth:
            raise ValueError("`truth` as a dict takes 'true', 'decoy' and 'position_invariant'. "
                             f"Received: keys {sorted(truth)}")
        decoy = truth.get("decoy")
        return Truth(resolve_motifs(truth["true"], "truth['true']"),
                     [] if not decoy else resolve_motifs(decoy, "truth['decoy']"),
                     bool(truth.get("position_invariant", True)))
    raise TypeError("`truth` must be None, a TFBindingData, a dict or a Truth. "
                    f"Received: truth of type {type(truth).__name__}")


def truth_motifs(truth):
    """Dict name -> PFM of the truth's true and decoy motifs (for ``distill(motifs=...)``)."""
    truth = as_truth(truth)
    return {} if truth is None else {name: pfm for name, pfm in truth.true + truth.decoy}


def truth_from(motifs, instances=None):
    """A :class:`Truth` from a validation's inputs, or None without true motifs.

    Args:
        motifs: list of ``(label, pfm)`` true motifs (``keras_iml.models.pwm.load_motifs``).
        instances: optional ground-truth table; rows with ``role == "decoy"`` and a
            JASPAR ``motif_id`` give the decoys.
    """
    if not motifs:
        return None
    decoys = []
    if isinstance(instances, pd.DataFrame) and {"role", "motif_id"} <= set(instances.columns):
        ids = sorted(set(instances.loc[instances["role"] == "decoy", "motif_id"].astype(str)))
        try:
            decoys = resolve_motifs(ids, "decoys") if ids else []
        except ValueError:  # not JASPAR IDs: no decoy matrices to implant
            decoys = []
    return Truth([(str(label), np.asarray(pfm, float)) for label, pfm in motifs], decoys,
                 sufficient=_sufficient(instances))
