"""Every metric against placebo: paired effect sizes, bootstrap CIs, corrected p-values.

For each metric row of a method (or of a non-placebo control arm) and the same row
of its placebo arm (``placebo:<method>``), over the sequences where both are
defined, the paired difference ``d = s * (method - placebo)`` (``s = +1`` when
higher is better, ``-1`` otherwise, so ``d > 0`` means "better than placebo") gives:

* ``difference``: the mean of ``d``, with a paired percentile-bootstrap CI
  (sequences resampled together, the protocol's ``n_bootstrap`` and ``ci_level``);
* ``effect_size``: Cohen's ``d_z = mean(d) / sd(d)`` (``±inf`` when every ``d`` is
  the same non-zero value);
* ``p_value``: the one-sided Wilcoxon signed-rank test of ``d > 0`` (1.0 when every
  ``d`` is 0);
* ``p_adjusted``: corrected over the family of one method's rows (Holm by default,
  or Benjamini–Hochberg), so adding a method to the protocol never changes another
  method's p-values;
* ``decidable``: whether the comparison could show an effect at all: ``2^-n``
  (the smallest one-sided signed-rank p-value of ``n`` untied pairs, ``n_untied``;
  the test drops pairs where method and placebo score alike) times the family size
  is below ``alpha``. Too few scored sequences make a row undecidable; verdicts
  leave it out (and say "inconclusive" when nothing is left);
* ``beats_placebo``: ``p_adjusted < alpha`` and ``difference > 0``.

A metric row is **uninformative** on a run when no positive control beats its
placebo on it and the placebo arms score at least as well as the methods (their
median aggregates): it cannot tell a method from noise on these data, and verdicts
leave it out.
"""

import numpy as np
import pandas as pd
from scipy import stats

from keras_iml.schema import COLUMNS
from keras_iml.stats import adjust, aggregate, stable_seed

__all__ = ["compare_with_placebo", "uninformative_rows", "EVIDENCE_COLUMNS"]

EVIDENCE_COLUMNS = COLUMNS["evidence"]
def _paired(values, placebo, higher_is_better, n_bootstrap, level, seed):
    ok = np.isfinite(values) & np.isfinite(placebo)
    d = (values[ok] - placebo[ok]) * (1.0 if higher_is_better else -1.0)
    n = int(d.size)
    if n < 2:
        return n, 0, np.nan, np.nan, np.nan, np.nan, np.nan
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if sd > 0:
        effect = mean / sd
    else:
        effect = 0.0 if mean == 0 else float(np.sign(mean) * np.inf)
    untied = int(np.count_nonzero(d))  # the signed-rank test drops ties
    if untied == 0:
        p = 1.0
    else:
        p = float(stats.wilcoxon(d, alternative="greater", zero_method="wilcox").pvalue)
    low = high = np.nan
    if n_bootstrap:
        rng = np.random.default_rng(seed)
        means = np.empty(int(n_bootstrap))
        chunk = max(1, 2_000_000 // n)
        for start in range(0, int(n_bootstrap), chunk):
            size = min(chunk, int(n_bootstrap) - start)
            means[start:start + size] = d[rng.integers(0, n, (size, n))].mean(1)
        alpha = (1.0 - level) / 2
        low, high = (float(v) for v in np.quantile(means, [alpha, 1 - alpha]))
    return n, untied, mean, low, high, effect, p


def compare_with_placebo(records, partners, protocol):
    """The evidence table: each (metric row, label) against its placebo partner.

    Args:
        records: the run's ``Record`` objects (pair rows are skipped).
        partners: dict label -> placebo label (labels without one are skipped).
        protocol: the run's :class:`Protocol` (``alpha``, ``correction``,
            ``n_bootstrap``, ``ci_level``, ``seed``).

    Returns:
        DataFrame with :data:`EVIDENCE_COLUMNS`.
    """
    judged = [rec for rec in records if rec.label.judged]
    by_key = {(rec.row, rec.method): rec for rec in judged}
    rows = []
    for rec in judged:
        partner = partners.get(rec.method)
        if partner is None or (rec.row, partner) not in by_key:
            continue
        placebo = by_key[(rec.row, partner)].values
        n, n_untied, diff, low, high, effect, p = _paired(
            rec.values, placebo, rec.metric.higher_is_better, protocol.n_bootstrap,
            protocol.ci_level, stable_seed(protocol.seed, "placebo", rec.row, rec.method))
        rows.append({"metric": rec.row, "method": rec.method, "placebo": partner, "n": n,
                     "n_untied": n_untied,
                     "difference": diff, "diff_ci_low": low, "diff_ci_high": high,
                     "effect_size": effect, "p_value": p})
    frame = pd.DataFrame(rows, columns=EVIDENCE_COLUMNS)
    frame["p_adjusted"] = np.nan
    frame["decidable"] = False
    for _, index in frame.groupby("method").groups.items():
        p = frame.loc[index, "p_value"].to_numpy(float)
        frame.loc[index, "p_adjusted"] = adjust(p, protocol.correction)
        # The smallest one-sided signed-rank p-value n pairs can give is 2^-n; times the
        # family size it bounds the smallest adjusted one. Above alpha, no outcome
        # could show an effect: the comparison cannot decide.
        n = frame.loc[index, "n_untied"].to_numpy(float)
        frame.loc[index, "decidable"] = (n >= 2) & (0.5 ** n * np.isfinite(p).sum() < protocol.alpha)
    frame["decidable"] = frame["decidable"].astype(bool)
    frame["beats_placebo"] = pd.Series(
        [np.nan if not np.isfinite(p) else bool(p < protocol.alpha and d > 0)
         for p, d in zip(frame["p_adjusted"], frame["difference"])], index=frame.index, dtype=object)
    return frame


def uninformative_rows(records, evidence, partners, positives=()):
    """Metric rows that cannot tell a method from placebo on this run, with the reason.

    Args:
        records: the run's records.
        evidence: :func:`compare_with_placebo`'s table.
        partners: dict label -> placebo label.
        positives: labels of the positive control arms (right by construction).

    Returns:
        DataFrame ``metric, placebo_value, methods_value, positive_control, reason``
        (one row per uninformative metric row).
    """
    values, methods = {}, {rec.method for rec in records if rec.label.is_method}
    for rec in records:
        if rec.label.judged:
            values.setdefault(rec.row, {})[rec.method] = (aggregate(rec.values, rec.metric.aggregate),
                                                          rec.metric.higher_is_better)
    out = []
    for row, by_label in values.items():
        mine = [lab for lab in by_label if lab in methods and partners.get(lab) in by_label]
        if not mine:
            continue
        higher = by_label[mine[0]][1]
        method_value = aggregate([by_label[m][0] for m in mine], "median")
        placebo_value = aggregate([by_label[partners[m]][0] for m in mine], "median")
        positive = evidence[(evidence["metric"] == row) & evidence["method"].isin(set(positives))]
        if (positive["beats_placebo"] == True).any():  # noqa: E712 - an object column
            continue  # a positive control shows the metric can detect an effect here
        if not np.isfinite(method_value) or not np.isfinite(placebo_value):
            continue
        if placebo_value >= method_value if higher else placebo_value <= method_value:
            out.append({
                "metric": row, "placebo_value": placebo_value, "methods_value": method_value,
                "positive_control": "does not beat placebo" if len(positive) else "none on this metric",
                "reason": (f"placebo maps (model-independent noise) score {placebo_value:.3g}, "
                           f"as well as the methods (median {method_value:.3g}), and no positive "
                           "control beats placebo: the metric cannot tell a method from noise "
                           "on this model and data"),
            })
    return pd.DataFrame(out, columns=["metric", "placebo_value", "methods_value",
                                      "positive_control", "reason"])
