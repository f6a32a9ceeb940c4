"""The Tier-3 "motif_recovery" validation metric (TF-MoDISco + TOMTOM against JASPAR).

Registered lazily by :mod:`keras_iml.metrics` (``REGISTRY.register_lazy``): importing this
module adds ``"motif_recovery"`` to the metric registry.
"""

from keras_iml.metrics.base import Metric, MetricResult, NotApplicable, register
from keras_iml.motifs.database import MotifDatabase, is_jaspar_id
from keras_iml.motifs.discover import discover
from keras_iml.motifs.recovery import motif_recovery, sequence_scores
from keras_iml.motifs.resolve import load_database

__all__ = ["MotifRecoveryMetric"]


def _expected_from_context(ctx):
    """``validate(motifs=...)`` as discover's ``expected``: JASPAR IDs kept as IDs."""
    if not ctx.motifs:
        return None
    out = []
    for label, pfm in ctx.motifs:
        words = str(label).split() or ["motif"]
        if is_jaspar_id(words[0]):
            out.append(words[0])
        else:
            out.append(MotifDatabase([pfm], ["_".join(words)], source="validate(motifs=...)"))
    return out


def _table_motifs(ctx, role):
    """Motif IDs of a benchmark instance table kept by the runner, if any."""
    table = getattr(ctx, "ground_truth_table", None)
    if table is None or "motif_id" not in getattr(table, "columns", ()):
        return None
    ids = sorted(set(table.loc[table["role"] == role, "motif_id"].astype(str)))
    return ids or None


@register("motif_recovery")
class MotifRecoveryMetric(Metric):
    """Do a method's TF-MoDISco patterns match the motifs the model should use?

    For each method, :func:`keras_iml.motifs.discover` clusters the hypothetical
    contributions into patterns and matches them to JASPAR (TOMTOM, q-values).
    Two per-sequence rows, over the seqlets a sequence contributed to patterns
    (NaN when it contributed none):

    * ``motif_recovery``: the share of them in patterns that match an expected
      motif (with no expected motif known, any known JASPAR motif);
    * ``motif_decoy_free``: 0 when one of them is in a pattern matching a decoy,
      else 1 (so the adverse events list the sequences behind decoy patterns).

    Both rows pass at a mean of at least ``threshold`` (0.5); a sequence scoring
    below it is an adverse event.

    Tables: ``"motifs"`` (every pattern, with its match and status, nothing
    dropped) and ``"motif_recovery"`` (each expected motif: recovered or not, by
    which pattern, at which q).

    Expected motifs come from ``expected``, else ``validate(motifs=...)``, else
    the ``"true"`` rows of a benchmark instance table given as ``ground_truth``;
    decoys from ``decoys``, else the table's ``"decoy"`` rows.

    Args:
        expected: expected motifs (JASPAR IDs, TF names, matrices; see ``discover``).
        decoys: decoy motifs (same forms).
        database: ``"JASPAR"``, a release name, a MEME path or a MotifDatabase.
        q_threshold: TOMTOM q-value threshold of a match.
        max_seqlets: TF-MoDISco's seqlets per sign.
        n_leiden_runs: TF-MoDISco's Leiden runs.
        window: central window used (None: whole sequences).
        max_sequences: seeded subset of sequences (None: all).
        modisco_options: other TF-MoDISco arguments.
        n_threads: numba threads during discovery (None: numba's setting).
    """

    default = False  # TF-MoDISco: minutes per method; added to a protocol by name
    tier = 3
    higher_is_better = True
    requires = frozenset({"attributions"})
    threshold = 0.5
    quick = False
    # TF-MoDISco takes minutes per map: the control arms are not run through it. Its
    # own control is TOMTOM's q-value against column-shuffled database motifs.
    on_control_arms = False

    def __init__(self, expected=None, decoys=None, database="JASPAR", q_threshold=0.05,
                 max_seqlets=1000, n_leiden_runs=2, window=None, max_sequences=None,
                 modisco_options=None, n_threads=None):
        self.expected = expected
        self.decoys = decoys
        self.database = database
        self.q_threshold = q_threshold
        self.max_seqlets = max_seqlets
        self.n_leiden_runs = n_leiden_runs
        self.window = window
        self.max_sequences = max_sequences
        self.modisco_options = modisco_options
        self.n_threads = n_threads

    def row_names(self):
        return ["motif_recovery", "motif_decoy_free"]

    def compute(self, ctx, method):
        import importlib.util

        if importlib.util.find_spec("modiscolite") is None:
            raise NotApplicable("needs the 'modisco' package (pip install 'keras-iml[motifs]')")
        attr = ctx.attributions[method]
        if attr.hypothetical is None:
            raise NotApplicable(
                f"method {attr.method!r} defines no hypothetical contributions, "
                "which TF-MoDISco needs"
            )
        database = ctx.derived(("motif_database", repr(self.database)), lambda: load_database(self.database))
        expected = self.expected
        if expected is None:
            expected = _expected_from_context(ctx) or _table_motifs(ctx, "true")
        decoys = self.decoys if self.decoys is not None else _table_motifs(ctx, "decoy")
        frame = discover(
            attr, ctx.x, database=database, expected=expected, decoys=decoys,
            q_threshold=self.q_threshold, max_seqlets=self.max_seqlets,
            n_leiden_runs=self.n_leiden_runs, window=self.window,
            max_sequences=self.max_sequences, modisco_options=self.modisco_options,
            n_threads=self.n_threads, seed=ctx.seed, verbose=0,
        ).assign(method=method)
        good = ("expected",) if frame.attrs.get("expected") else ("expected", "known")
        result = motif_recovery(patterns={method: frame}, q_threshold=self.q_threshold)
        return MetricResult(
            per_sequence=sequence_scores(frame, ctx.n, good),
            tables={"motifs": frame, "motif_recovery": result.recovery},
        )

    def adverse_reason(self, row, value, threshold):
        if row == "motif_decoy_free":
            return "a seqlet of this sequence is in a TF-MoDISco pattern matching a decoy motif"
        return (f"{value:.0%} of this sequence's seqlets in TF-MoDISco patterns match an "
                f"expected motif (below {threshold:.0%}; the rest match a decoy, another motif "
                "or nothing known)")

