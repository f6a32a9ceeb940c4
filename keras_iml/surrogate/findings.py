"""Confounders and blind spots of a distilled model, each judged against a placebo and a positive control.

A **confounder** is a feature the model relies on that the ground truth does not
contain: GC content (``gc``), where a true motif sits (``position:<motif>``), a
decoy motif (``decoy:<motif>``), a family of sequences nobody named (``family:<name>``:
homopolymer runs of each base, di- and trinucleotide repeats, GC- and AT-rich
stretches, implanted by the ``families`` library), a k-mer that no true motif explains
(``kmer:<kmer>``). A **blind spot** is where the model departs from the truth or
from its readable surrogate: a true motif it does not detect (``motif:<motif>``),
positions where a true motif loses its effect (``motif_position:<motif>``), a kind of
out-of-distribution sequence it answers unlike a motif-free background (``ood:<kind>``:
homopolymers per base, repeats per unit length, extreme GC per level), a library where
the surrogate's fidelity drops (``fidelity:<library>``).

Effects are in **motif units**: the model's mean response to a true motif at its
best position bin (implant library) over the motif-free background; without one,
the standard deviation of the model on shuffled references (the ``reason`` says so).
Every row carries its **placebo** (``placebo_low``/``placebo_high``: the 2.5-97.5 %
range of the same effect when the model's responses are permuted across the queries,
seeded; for k-mers, k-mer surrogates refitted to permuted responses on
model-independent backgrounds), a p-value against it (Holm-corrected over the
table), and a **positive control**: the same detector on the same queries with an
effect of twice the threshold planted into the responses must find it
(``positive_control`` False: too few queries to tell; a non-finding then means
little). ``finding`` is True when the corrected p-value is below ``alpha`` and the
effect reaches the threshold. See ``docs/distillation.md``.

Example:
    >>> d = keras_iml.surrogate.distill(model, x, motifs=findings.truth_motifs(data), seed=0)
    >>> findings.confounders(d, data).query("finding")
"""

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import Ridge

from keras_iml.stats import adjust, stable_seed
from keras_iml.surrogate import libraries as libraries_lib
from keras_iml.surrogate import models as models_lib
from keras_iml.surrogate._sequences import reverse_complement_codes
from keras_iml.surrogate.truth import Truth, as_truth, truth_motifs

__all__ = ["COLUMNS", "THRESHOLDS", "Truth", "as_truth", "truth_motifs", "confounders", "blind_spots"]

COLUMNS = ["feature", "kind", "library", "effect", "threshold", "placebo_low", "placebo_high",
           "p_value", "p_adjusted", "positive_control", "finding", "n", "reason"]
#: Default thresholds per feature family (motif units; ``motif``/``motif_position``:
#: share of the truth's detection or of the best position's effect that is lost;
#: ``fidelity``: surrogate error above its median over libraries, in motif units).
THRESHOLDS = {"gc": 0.5, "position": 0.5, "decoy": 0.5, "family": 0.5, "kmer": 0.5, "motif": 0.3,
              "motif_position": 0.5, "ood": 1.0, "fidelity": 0.3}
N_BINS = 5


# -- shared machinery -----------------------------------------------------------------------
class _Run:
    """One table's inputs: responses by library class, the motif unit, seeds, thresholds."""

    def __init__(self, distillation, truth, thresholds, alpha, n_permutations, seed):
        for attr in ("responses", "libraries", "surrogates", "fidelity", "params"):
            if not hasattr(distillation, attr):
                raise TypeError("`distillation` must be a keras_iml.surrogate.Distillation. "
                                f"Received: {type(distillation).__name__} without `{attr}`")
        unknown = set(thresholds or {}) - set(THRESHOLDS)
        if unknown:
            raise ValueError(f"Unknown `thresholds` keys {sorted(unknown)}. Valid keys: {sorted(THRESHOLDS)}")
        if not 0 < alpha < 1:
            raise ValueError(f"`alpha` must be in (0, 1). Received: alpha={alpha!r}")
        if isinstance(n_permutations, bool) or not isinstance(n_permutations, (int, np.integer)) \
                or n_permutations < 19:
            raise ValueError(f"`n_permutations` must be an int >= 19. Received: n_permutations={n_permutations!r}")
        self.d, self.truth = distillation, as_truth(truth)
        self.thresholds = {**THRESHOLDS, **dict(thresholds or {})}
        self.alpha, self.R = float(alpha), int(n_permutations)
        self.seed = distillation.params.get("seed", 0) if seed is None else seed
        self.background = self.frame("shuffle")
        implant = self.frame("implant")
        if implant is not None and "copies" in implant:
            none = implant[implant["copies"] == 0]
            self.background = none if self.background is None else pd.concat([self.background, none])
        self.unit, self.unit_how = self._unit(implant)

    def frame(self, class_name):
        for key, info in self.d.libraries.items():
            if info.get("class_name") == class_name and key in self.d.responses:
                return self.d.responses[key].reset_index(drop=True)
        return None

    def rng(self, *parts):
        return np.random.default_rng(stable_seed(self.seed, "findings", *parts))

    def _unit(self, implant):
        if self.truth is not None and implant is not None and self.background is not None:
            best = []
            for name in self.true_names(implant):
                rows = implant[(implant["motif"] == name) & (implant["copies"] == 1)]
                if len(rows) >= N_BINS:
                    bins = _bins(rows["position"].to_numpy(), implant["position"].max())
                    means = pd.Series(rows["model"].to_numpy()).groupby(bins).mean()
                    best.append(means.max() - self.background["model"].mean())
            if best and max(best) > 0:
                return float(max(best)), "a true motif's effect at its best position (implant library)"
        sd = None if self.background is None else float(self.background["model"].std())
        if sd:
            return sd, "no true motif effect measured: the model's s.d. on motif-free backgrounds"
        return 1.0, "no motif effect nor background measured: raw output units"

    def true_names(self, implant):
        names = [] if implant is None else sorted(set(implant["motif"]) - {"none"})
        return [n for n in names if self.truth is not None and self.truth.is_sufficient(n)]


def _bins(positions, top):
    edges = np.linspace(0, max(float(top), 1.0) + 1e-9, N_BINS + 1)
    return np.clip(np.searchsorted(edges, positions, side="right") - 1, 0, N_BINS - 1)


def _permuted(y, rng, R):
    return y[rng.permuted(np.tile(np.arange(len(y)), (R, 1)), axis=1)]


def _row(run, feature, kind, library, stat, y, planted, threshold, reason):
    """A permutation-tested row: ``stat(Y (R, n)) -> (R,)`` effects; ``planted``: (n,)."""
    rng = run.rng(feature, kind)
    obs = float(stat(y[None])[0])
    null = stat(_permuted(y, rng, run.R))
    pc = y + planted
    obs_pc, null_pc = float(stat(pc[None])[0]), stat(_permuted(pc, rng, run.R))
    p = (1 + np.sum(np.abs(null) >= abs(obs))) / (run.R + 1)
    p_pc = (1 + np.sum(np.abs(null_pc) >= abs(obs_pc))) / (run.R + 1)
    low, high = np.quantile(null, [0.025, 0.975])
    return {"feature": feature, "kind": kind, "library": library, "effect": obs, "threshold": threshold,
            "placebo_low": low, "placebo_high": high, "p_value": p, "_p_pc": p_pc,
            "_effect_pc": obs_pc, "n": len(y), "reason": reason}


def _finish(rows, alpha):
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    m = len(frame)
    frame["p_adjusted"] = adjust(frame["p_value"].to_numpy(float), "holm")
    reach = frame["effect"].abs() >= frame["threshold"]
    frame["finding"] = (frame["p_adjusted"] < alpha) & reach
    frame["positive_control"] = (frame["_p_pc"] * m < alpha) & (frame["_effect_pc"].abs() >= frame["threshold"])
    for column in ("finding", "positive_control"):
        frame[column] = frame[column].astype(bool)
    return frame[COLUMNS].reset_index(drop=True)


def _diff_stat(group, unit):
    g1, g0 = group, ~group
    return lambda Y: (Y[:, g1].mean(1) - Y[:, g0].mean(1)) / unit


def _group_rows(run, prefix, kind, library, frame, labels, threshold, why):
    """One row per label: its queries against the motif-free background."""
    rows, bg = [], run.background["model"].to_numpy(float)
    for label, part in frame.groupby(labels, sort=True):
        if len(part) < 3:
            continue
        y = np.concatenate([part["model"].to_numpy(float), bg])
        group = np.arange(len(y)) < len(part)
        planted = np.where(group, 2 * threshold * run.unit, 0.0)
        rows.append(_row(run, f"{prefix}:{label}", kind, library, _diff_stat(group, run.unit), y,
                         planted, threshold, why(label)))
    return rows


# -- confounders ----------------------------------------------------------------------------
def confounders(distillation, truth=None, *, thresholds=None, alpha=0.05, n_permutations=1000,
                n_kmers=10, kmer_bits=1.0, seed=None):
    """Features the model relies on that the ground truth does not contain.

    Args:
        distillation: a :class:`keras_iml.surrogate.Distillation`.
        truth: the ground truth (see :func:`as_truth`); None judges GC and position
            only (assuming neither is part of the task).
        thresholds: dict feature family -> threshold, over :data:`THRESHOLDS`.
        alpha: significance level (after Holm's correction over the table).
        n_permutations: permutations of each placebo.
        n_kmers: top k-mer surrogate weights examined.
        kmer_bits: a k-mer is explained by a true motif when it matches a window of
            it with at least this many bits (log2-odds) per base.
        seed: seed of the permutations (None: the distillation's).

    Returns:
        DataFrame with :data:`COLUMNS`, one row per tested feature.
    """
    run = _Run(distillation, truth, thresholds, alpha, n_permutations, seed)
    rows = []
    gc = run.frame("gc_shift")
    gc = run.frame("shuffle") if gc is None or "gc" not in gc else gc
    if gc is not None and "gc" in gc and gc["gc"].std() > 0:
        x = gc["gc"].to_numpy(float)
        xc = x - x.mean()
        slope = lambda Y: 0.1 * (Y - Y.mean(1, keepdims=True)) @ xc / (xc @ xc) / run.unit  # noqa: E731
        thr = run.thresholds["gc"]
        rows.append(_row(run, "gc", "confounder", "gc_shift", slope, gc["model"].to_numpy(float),
                         2 * thr * run.unit * xc / 0.1, thr,
                         f"change of the output per +0.1 GC, in motif units ({run.unit_how}); "
                         "the truth has none"))
    implant = run.frame("implant")
    if implant is not None and "position" in implant and (run.truth is None or run.truth.position_invariant):
        names = run.true_names(implant) if run.truth is not None else sorted(set(implant["motif"]) - {"none"})
        for name in names:
            rows += _position_rows(run, implant, name, "confounder")
    if run.truth is not None and implant is not None and run.background is not None:
        decoys = implant[implant["motif"].map(lambda m: run.truth.role(m) == "decoy")]
        rows += _group_rows(run, "decoy", "confounder", "implant", decoys, "motif", run.thresholds["decoy"],
                            lambda m: "response to an implanted decoy over the background, in motif units; "
                                      "the truth has none")
    families = run.frame("families")
    if families is not None and "family" in families and run.background is not None:
        named = [f for f, part in families.groupby("family") if not _family_explained(run, part)]
        rows += _group_rows(run, "family", "confounder", "families", families[families["family"].isin(named)], "family",
                            run.thresholds["family"], lambda f: f"response to an implanted {f} member over the "
                            "motif-free background, in motif units; no true motif explains it")
    if run.truth is not None and "kmer" in run.d.surrogates:
        rows += _kmer_rows(run, run.d.surrogates["kmer"], n_kmers, kmer_bits)
    return _finish(rows, run.alpha)


def _family_explained(run, part, core=6, bits=0.5):
    """Half its members (20 at most) hold a true motif's ``core``-base window: not judged."""
    units = list(dict.fromkeys(part["unit"].astype(str)))[:20]
    hit = lambda u: any(_explained(u[i:i + core], run.truth, bits) for i in range(max(len(u) - core, 0) + 1))  # noqa: E731
    return run.truth is not None and sum(map(hit, units)) >= len(units) / 2


def _position_rows(run, implant, name, kind):
    rows = implant[(implant["motif"] == name) & (implant["copies"] == 1)]
    if len(rows) < 2 * N_BINS or run.background is None:
        return []
    bins = _bins(rows["position"].to_numpy(), implant["position"].max())
    onehot = np.eye(N_BINS)[bins]
    counts = onehot.sum(0)
    ok = counts >= 2
    base = float(run.background["model"].mean())
    y = rows["model"].to_numpy(float)
    means = lambda Y: ((Y @ onehot) / np.maximum(counts, 1))[:, ok] - base  # noqa: E731
    edges = np.linspace(0, implant["position"].max() + 1, N_BINS + 1).astype(int)
    observed = means(y[None])[0]
    best = int(np.flatnonzero(ok)[np.argmax(observed)])
    if kind == "confounder":
        thr = run.thresholds["position"]
        stat = lambda Y: (means(Y).max(1) - means(Y).min(1)) / run.unit  # noqa: E731
        planted = np.where(bins == best, 2 * thr * run.unit, 0.0)
        return [_row(run, f"position:{name}", kind, "implant", stat, y, planted, thr,
                     "spread of the motif's effect over position bins, in motif units; "
                     "the truth is position-invariant")]
    groups = [y[bins == b] for b in np.flatnonzero(ok)] + [run.background["model"].to_numpy(float)]
    best_effect = float(observed.max())
    if best_effect <= 0:
        return []

    def deficit(*arrays):  # share of the best bin's effect lost in the worst bin
        base_ = arrays[-1].mean()
        return 1.0 - min(a.mean() - base_ for a in arrays[:-1]) / best_effect

    worst = int(np.flatnonzero(ok)[np.argmin(observed)])
    return [_deficit_row(run, f"motif_position:{name}", "implant", groups, deficit,
                         run.thresholds["motif_position"],
                         f"share of the motif's effect at its best positions ({edges[best]}-{edges[best + 1] - 1}) "
                         f"lost at its worst ({edges[worst]}-{edges[worst + 1] - 1}); the truth loses none")]


def _deficit_row(run, feature, library, groups, deficit, threshold, reason, blind=None):
    """A bootstrap-tested departure from the truth: ``deficit(*groups)`` (0 = as the truth).

    p-value: bootstrap share of resamples (rows of each group resampled apart) whose
    deficit is below the threshold. Placebo: deficits of models blind to the feature
    (``blind(groups, rng)``; default: the responses permuted across all groups);
    positive control: one such blind model must be flagged.
    """
    rng, n_boot = run.rng(feature, "blind_spot"), min(run.R, 1000)
    sizes = np.cumsum([len(g) for g in groups])[:-1]
    blind = blind or (lambda gs, r: np.split(r.permutation(np.concatenate(gs)), sizes))

    def p_below(arrays):
        boot = np.array([deficit(*[a[rng.integers(0, len(a), len(a))] for a in arrays]) for _ in range(n_boot)])
        return (1 + np.sum(boot < threshold)) / (n_boot + 1)

    null = np.array([deficit(*blind(groups, rng)) for _ in range(n_boot)])
    control = blind(groups, rng)
    return {"feature": feature, "kind": "blind_spot", "library": library, "effect": deficit(*groups),
            "threshold": threshold, "placebo_low": np.quantile(null, 0.025),
            "placebo_high": np.quantile(null, 0.975), "p_value": p_below(groups),
            "_p_pc": p_below(control), "_effect_pc": deficit(*control),
            "n": int(sum(len(g) for g in groups)), "reason": reason}


def _explained(kmer, truth, bits):
    codes = np.array(["ACGT".index(c) for c in kmer])
    for seq in (codes, reverse_complement_codes(codes)):
        for _, pfm in truth.true:
            lo = np.log2((np.asarray(pfm) + 0.01) / 1.04 / 0.25)
            k, w = len(seq), len(lo)
            for start in range(max(w - k + 1, 0)):
                if lo[start + np.arange(k), seq].sum() >= bits * k:
                    return True
    return False


def _kmer_rows(run, surrogate, n_kmers, bits):
    weights = surrogate.weights_
    k = len(weights.index[0])
    explained = {km: _explained(km, run.truth, bits) for km in weights.index}
    scale = weights[[km for km, e in explained.items() if e]].abs().max() if any(explained.values()) \
        else weights.abs().max()
    if not np.isfinite(scale) or scale <= 0:
        return []
    # placebo: the same surrogate refitted to permuted responses on model-independent backgrounds
    rng = run.rng("kmer")
    length = int(run.d.params.get("length"))
    n = int(min(max(surrogate.n_samples_, 200), 4000))
    x = libraries_lib.get("gc_shift").sample(None, n, rng, length=length).x
    pool = np.concatenate([f["model"].to_numpy(float) for f in run.d.responses.values()])
    R = min(run.R, 200)
    fresh = models_lib.get({"class_name": surrogate.name, "config": surrogate.get_config()})
    features = fresh.features(x)
    Y = rng.choice(pool, size=(n, R)) * np.sqrt(n / max(surrogate.n_samples_, 1))
    null = np.abs(Ridge(alpha=float(surrogate.alpha)).fit(features, Y).coef_).max(1)  # (R,)
    thr = run.thresholds["kmer"]
    unexplained = [km for km in weights.abs().sort_values(ascending=False).index[:n_kmers] if not explained[km]]
    planted_col = features[:, list(weights.index).index(unexplained[0])] if unexplained else None
    rows = []
    for km in unexplained:
        w = float(weights[km])
        p = (1 + np.sum(null >= abs(w))) / (R + 1)
        pc = Ridge(alpha=float(surrogate.alpha)).fit(features, Y[:, 0] + 2 * thr * scale * planted_col).coef_
        w_pc = float(pc[list(weights.index).index(unexplained[0])])
        rows.append({"feature": f"kmer:{km}", "kind": "confounder", "library": "all", "effect": w / scale,
                     "threshold": thr, "placebo_low": -np.quantile(null, 0.95) / scale,
                     "placebo_high": np.quantile(null, 0.95) / scale, "p_value": p,
                     "_p_pc": (1 + np.sum(null >= abs(w_pc))) / (R + 1), "_effect_pc": w_pc / scale,
                     "n": surrogate.n_samples_,
                     "reason": f"{k}-mer weight of the k-mer surrogate, relative to the largest weight of a "
                               f"k-mer explained by a true motif (>= {bits:g} bit/base); no true motif "
                               "explains it"})
    return rows


# -- blind spots ----------------------------------------------------------------------------
def blind_spots(distillation, truth=None, *, thresholds=None, alpha=0.05, n_permutations=1000, seed=None):
    """Where the model departs from the ground truth or from its readable surrogate.

    Args:
        distillation: a :class:`keras_iml.surrogate.Distillation`.
        truth: the ground truth (see :func:`as_truth`); None tests fidelity and
            out-of-distribution departures only.
        thresholds: dict feature family -> threshold, over :data:`THRESHOLDS`.
        alpha: significance level (after Holm's correction over the table).
        n_permutations: permutations (and bootstrap resamples) of each placebo.
        seed: seed of the draws (None: the distillation's).

    Returns:
        DataFrame with :data:`COLUMNS`, one row per tested library or feature.
    """
    run = _Run(distillation, truth, thresholds, alpha, n_permutations, seed)
    rows = []
    implant = run.frame("implant")
    for name in run.true_names(implant):
        rows += _detection_rows(run, implant, name)
        if run.truth.position_invariant:
            rows += _position_rows(run, implant, name, "blind_spot")
    ood = run.frame("out_of_distribution")
    if ood is not None and run.background is not None:
        label = ood.apply(_ood_label, axis=1).to_numpy(object)
        rows += _group_rows(run, "ood", "blind_spot", "out_of_distribution", ood.assign(_label=label), "_label",
                            run.thresholds["ood"],
                            lambda k: f"response to {k} sequences over the motif-free background, in motif "
                                      "units; the truth (no motif) gives none")
    rows += _fidelity_rows(run)
    return _finish(rows, run.alpha)


def _ood_label(row):
    """Extreme GC by level, homopolymers by base, repeats by unit length (pooled, they hid a run)."""
    kind, detail = row["kind"], str(row["detail"])
    return {"extreme_gc": detail, "homopolymer": f"homopolymer:{detail[:1]}",
            "repeat": f"repeat:{len(detail)}bp"}.get(kind, str(kind))


def _detection_rows(run, implant, name):
    """The truth detects an implanted true motif perfectly: the model's deficit."""
    pos = implant.loc[(implant["motif"] == name) & (implant["copies"] >= 1), "model"].to_numpy(float)
    neg = run.background["model"].to_numpy(float)
    if len(pos) < 3 or len(neg) < 3:
        return []

    def deficit(a, b):  # 1 - Somers' D of the model separating motif from background
        return 2.0 - 2.0 * stats.mannwhitneyu(a, b).statistic / (len(a) * len(b))

    return [_deficit_row(run, f"motif:{name}", "implant", [pos, neg], deficit, run.thresholds["motif"],
                         "detection deficit 2 - 2 AUROC of the model separating the implanted true motif "
                         "from motif-free backgrounds (the truth: 0)")]


def _fidelity_rows(run):
    """Libraries where the most faithful global surrogate's error (in motif units) exceeds
    its median over libraries: the model and its readable description part ways there."""
    medians = run.d.fidelity.groupby("surrogate")["spearman"].median() if len(run.d.fidelity) else {}
    glob = [s for s in getattr(medians, "index", []) if getattr(run.d.surrogates.get(s), "scope", "global") == "global"]
    if not glob:
        return []
    best = max(glob, key=lambda s: medians[s])
    frames = {k: f[["model", best]].to_numpy(float) for k, f in run.d.responses.items() if best in f and len(f) >= 10}
    rmse = lambda pairs: float(np.sqrt(np.mean((pairs[:, 0] - pairs[:, 1]) ** 2))) / run.unit  # noqa: E731
    ref = float(np.median([rmse(p) for p in frames.values()])) if frames else np.nan

    def blind(groups, rng):  # a surrogate that says nothing: its predictions permuted
        return [np.column_stack([groups[0][:, 0], rng.permutation(groups[0][:, 1])])]

    return [_deficit_row(run, f"fidelity:{library}", library, [pairs], lambda p: rmse(p) - ref,
                         run.thresholds["fidelity"],
                         f"root-mean-square error of the {best} surrogate here, in motif units, above its "
                         f"median over libraries ({ref:.3g})", blind=blind)
            for library, pairs in frames.items()]
