"""TF-MoDISco pattern discovery on attributions, matched to known motifs with TOMTOM."""

import contextlib
import inspect
import time

import keras
import numpy as np
import pandas as pd

from keras_iml._checks import check_onehot
from keras_iml.attributions import Attributions
from keras_iml.motifs.match import MATCH_FIELDS, all_targets, expand_groups, match_rows
from keras_iml.motifs.pfm import information_content
from keras_iml.motifs.resolve import load_database, resolve_motifs

__all__ = ["discover", "PATTERN_COLUMNS"]

PATTERN_COLUMNS = [
    "pattern", "method", "sign", "n_seqlets", "length", "pfm", "cwm", "seqlets", *MATCH_FIELDS,
]

# Defaults of the modisco-lite command line (`modisco motifs`), the usual settings,
# except nearest_neighbors_to_compute: 250 instead of 500 nearly halves the
# clustering time (the fine Jaccard similarities are computed per neighbour) and
# recovered the planted motif as well in benchmarks/bench_motifs.py.
_MODISCO_DEFAULTS = {
    "nearest_neighbors_to_compute": 250,
    "sliding_window_size": 20,
    "flank_size": 5,
    "trim_to_window_size": 30,
    "initial_flank_to_add": 10,
    "final_flank_to_add": 0,
    "target_seqlet_fdr": 0.05,
}

_HYPOTHETICAL_HELP = (
    "TF-MoDISco clusters hypothetical contributions (Attributions.hypothetical: the "
    "contribution every base would make at every position), which method {method!r} "
    "does not define. Gradient-based methods define them: 'saliency' (the gradient "
    "itself), the methods whose attributions are (x - reference) * multipliers (e.g. "
    "'input_x_gradient', 'integrated_gradients', 'deeplift_shap') and in-silico "
    "mutagenesis ('ism'); perturbation maps such as 'occlusion' do not. Registered "
    "methods: {names}. Or pass a (N, L, 4) hypothetical array together with `x`."
)


def _inputs(attributions, x):
    if isinstance(attributions, Attributions):
        if attributions.hypothetical is None:
            from keras_iml import methods

            raise ValueError(_HYPOTHETICAL_HELP.format(
                method=attributions.method, names=methods.names()))
        hyp, method = attributions.hypothetical, attributions.method
        x = attributions.inputs if x is None else x
    elif isinstance(attributions, np.ndarray):
        hyp, method = attributions, None
    else:
        raise TypeError(
            "`attributions` must be a keras_iml.Attributions or a (N, L, 4) array of "
            f"hypothetical contributions. Received: type {type(attributions).__name__}"
        )
    hyp = np.asarray(hyp, dtype=np.float32)
    if hyp.ndim != 3 or hyp.shape[-1] != 4:
        raise ValueError(
            f"Hypothetical contributions must have shape (N, L, 4). Received: shape={hyp.shape}"
        )
    if x is None:
        raise ValueError(
            "`x` (the one-hot sequences) is required: the Attributions hold no `inputs`. "
            "Received: x=None"
        )
    x = check_onehot(x)
    if x.shape != hyp.shape:
        raise ValueError(
            f"`x` must match the attributions' shape {hyp.shape}. Received: x.shape={x.shape}"
        )
    if not np.isfinite(hyp).all():
        raise ValueError("The hypothetical contributions contain NaN or inf.")
    return hyp, x, method


def _crop(hyp, x, window, max_sequences, seed):
    """Central window and seeded subset; returns (hyp, x, kept sequence indices, offset)."""
    n, length = x.shape[:2]
    keep, start = np.arange(n), 0
    if window is not None:
        window = int(window)
        if not 0 < window <= length:
            raise ValueError(
                f"`window` must be in [1, {length}] (the sequence length). "
                f"Received: window={window}"
            )
        start = (length - window) // 2
        hyp, x = hyp[:, start:start + window], x[:, start:start + window]
    if max_sequences is not None and max_sequences < n:
        if max_sequences < 1:
            raise ValueError(f"`max_sequences` must be positive. Received: {max_sequences}")
        rng = np.random.default_rng(0 if seed is None else seed)
        keep = np.sort(rng.choice(n, int(max_sequences), replace=False))
        hyp, x = hyp[keep], x[keep]
    return np.ascontiguousarray(hyp), np.ascontiguousarray(x), keep, start


def _modisco_kwargs(max_seqlets, n_leiden_runs, options):
    from modiscolite.tfmodisco import TFMoDISco

    allowed = set(inspect.signature(TFMoDISco).parameters) - {
        "one_hot", "hypothetical_contribs", "verbose"}
    options = dict(options or {})
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(
            f"Unknown TF-MoDISco option(s) in `modisco_options`: {unknown}. "
            f"Allowed: {sorted(allowed)}"
        )
    if int(max_seqlets) < 1 or int(n_leiden_runs) < 1:
        raise ValueError(
            "`max_seqlets` and `n_leiden_runs` must be positive integers. Received: "
            f"max_seqlets={max_seqlets}, n_leiden_runs={n_leiden_runs}"
        )
    kwargs = dict(_MODISCO_DEFAULTS, max_seqlets_per_metacluster=int(max_seqlets),
                  n_leiden_runs=int(n_leiden_runs))
    kwargs.update(options)
    return kwargs


@contextlib.contextmanager
def _numba_threads(n_threads):
    """Runs the block with ``n_threads`` numba threads, then restores the setting."""
    if n_threads is None:
        yield
        return
    import numba

    limit = numba.config.NUMBA_NUM_THREADS
    if isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer)) \
            or not 1 <= n_threads <= limit:
        raise ValueError(f"`n_threads` must be an int in [1, {limit}] or None. "
                         f"Received: n_threads={n_threads!r}")
    previous = numba.get_num_threads()
    numba.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _trim(cwm, threshold):
    score = np.abs(cwm).sum(1)
    keep = np.flatnonzero(score >= threshold * score.max())
    return slice(int(keep.min()), int(keep.max()) + 1)


def _seqlets(pattern, cut, keep, offset):
    """Seqlet coordinates ``[seq, start, end, strand]`` of the trimmed pattern in ``x``."""
    out = []
    for s in pattern.seqlets:
        if s.is_revcomp:
            start, end = s.end - cut.stop, s.end - cut.start
        else:
            start, end = s.start + cut.start, s.start + cut.stop
        out.append([int(keep[s.example_idx]), int(start + offset), int(end + offset),
                    "-" if s.is_revcomp else "+"])
    return out


def _patterns(x, hyp, kwargs, trim_threshold, method, keep, offset):
    from modiscolite.tfmodisco import TFMoDISco

    if not np.ptp((x * hyp).sum(-1)) > 0:
        return []  # constant contributions (e.g. all zero): no seqlet stands out
    pos, neg = TFMoDISco(one_hot=x, hypothetical_contribs=hyp, verbose=False, **kwargs)
    rows = []
    for sign, patterns in (("pos", pos), ("neg", neg)):
        for k, pattern in enumerate(patterns or []):
            cut = _trim(pattern.contrib_scores, trim_threshold)
            pfm = np.asarray(pattern.sequence[cut], dtype=np.float64)
            pfm[pfm.sum(1) <= 0] = 0.25  # positions covered only by all-zero padding
            rows.append({
                "pattern": f"{sign}_patterns.pattern_{k}",
                "method": method,
                "sign": sign,
                "n_seqlets": len(pattern.seqlets),
                "length": int(pfm.shape[0]),
                "pfm": (pfm / pfm.sum(1, keepdims=True)).tolist(),
                "cwm": np.asarray(pattern.contrib_scores[cut], dtype=np.float64).tolist(),
                "seqlets": _seqlets(pattern, cut, keep, offset),
                "information": information_content(pfm),
            })
    return rows


def discover(attributions, x=None, *, database="JASPAR", expected=None, decoys=None,
             q_threshold=0.05, max_seqlets=1000, n_leiden_runs=2, window=None,
             trim_threshold=0.3, n_shuffles=39, top_n=5, max_sequences=None,
             modisco_options=None, n_threads=None, seed=None, verbose="auto"):
    """Discovers motif patterns with TF-MoDISco and matches them to known motifs.

    TF-MoDISco (the ``modisco`` package, tfmodisco-lite) extracts high-attribution
    seqlets from the hypothetical contributions and clusters them into patterns,
    separately for positive and negative contributions. Each pattern, trimmed to
    the positions holding at least ``trim_threshold`` of its peak |contribution|,
    is compared with every database motif by TOMTOM (memelite, both strands);
    q-values are Benjamini-Hochberg over the pattern's database search, and a
    match must also beat column-shuffled copies of the pattern (see
    :func:`keras_iml.motifs.match`).

    Args:
        attributions: a :class:`keras_iml.Attributions` with ``hypothetical``
            contributions, or a ``(N, L, 4)`` array of them (then pass ``x``).
        x: one-hot sequences ``(N, L, 4)``; default ``attributions.inputs``.
        database: ``"JASPAR"`` (pyjaspar's latest CORE vertebrates, read per call,
            ~2-3 s), a bundled release name (``"JASPAR2024"``), a MEME path, a
            :class:`MotifDatabase` (build it once with ``load_jaspar()`` to reuse
            it), or None to skip matching.
        expected: motifs that should be found: JASPAR IDs, TF names, ``(L, 4)``
            matrices, ``{id: matrix}``, a MEME path or a :class:`MotifDatabase`.
            Those not in ``database`` are added to the TOMTOM targets. A motif
            stands for its TF: every database matrix with the same ID, JASPAR base
            ID (``MA0139`` for ``MA0139.2``) or TF name counts (so CTCF's extended
            matrix MA1930 recovers ``"MA0139.2"``).
        decoys: motifs that should *not* drive the model (same forms).
        q_threshold: a match counts when its q-value is below this.
        max_seqlets: most seqlets clustered per sign (modisco's
            ``max_seqlets_per_metacluster``; the first ones, in sequence order).
            Clustering time grows faster than linearly with it: 1,000 finds
            every motif with tens of sites and keeps 2,000 x 1 kb under a minute
            on 2 cores; raise it for rare motifs.
        n_leiden_runs: Leiden clusterings per step (more is slower, more stable).
        window: if given, only the central ``window`` positions are used.
        trim_threshold: pattern trimming before matching (fraction of the peak).
        n_shuffles: column-shuffled copies of each pattern whose best TOMTOM
            p-values a match must beat (see :func:`keras_iml.motifs.match`; 0
            turns the control off).
        top_n: significant matches listed per pattern in ``matches``.
        max_sequences: if given, a seeded random subset of this many sequences.
        modisco_options: other ``modiscolite.tfmodisco.TFMoDISco`` arguments
            (defaults are the modisco-lite command line's).
        n_threads: numba threads for TF-MoDISco and TOMTOM during the call (None:
            numba's setting, all cores). 1 is faster on a busy machine: the
            parallel kernels are small and spin while waiting for a core.
        seed: seed of the sequence subset and of the shuffle control (None: 0;
            TF-MoDISco itself uses fixed seeds), so results are deterministic.
        verbose: ``"auto"``, 0 or 1 (a progress bar over the steps).

    Returns:
        DataFrame, one row per pattern (positive patterns first, each sign by
        decreasing number of seqlets), columns ``pattern`` (e.g.
        ``"pos_patterns.pattern_0"``), ``method``, ``sign`` (``"pos"``/``"neg"``),
        ``n_seqlets``, ``length``, ``pfm`` and ``cwm`` (``L x 4`` nested lists,
        ACGT), ``seqlets`` (``[seq, start, end, strand]`` of every seqlet, in the
        coordinates of ``x``, trimmed like the pattern), ``best_match`` (database
        ID), ``best_match_name`` (TF name),
        ``information`` (bits per position of the PFM), ``p_value``, ``q_value``,
        ``significant``, ``matches`` (up to ``top_n``
        significant ``"ID name"``), ``expected_match``/``expected_q`` and
        ``decoy_match``/``decoy_q`` (the best significant expected/decoy motif or
        None/NaN), ``expected_hits``/``decoy_hits`` (every significant one), and
        ``status``: ``"expected"``, ``"decoy"``, ``"known"`` (a
        significant match to another motif) or ``"unmatched"``. ``frame.attrs``
        records the settings, the database, the number of sequences, the
        ``expected``/``decoys`` groups (``label -> [matrix IDs]``) and the
        ``seconds`` spent per step.

    Example:
        >>> attr = keras_iml.explain(model, x, "saliency")
        >>> patterns = keras_iml.motifs.discover(attr, expected=["MA0139"])
        >>> patterns[["pattern", "n_seqlets", "best_match_name", "q_value", "status"]]
    """
    hyp, x, method = _inputs(attributions, x)
    if not 0 < q_threshold < 1:
        raise ValueError(f"`q_threshold` must be in (0, 1). Received: q_threshold={q_threshold}")
    if not 0 <= trim_threshold < 1:
        raise ValueError(f"`trim_threshold` must be in [0, 1). Received: {trim_threshold}")
    kwargs = _modisco_kwargs(max_seqlets, n_leiden_runs, modisco_options)
    hyp, x, keep, offset = _crop(hyp, x, window, max_sequences, seed)
    v = 1 if verbose == "auto" and len(x) >= 1000 else (0 if verbose == "auto" else verbose)
    if v not in (0, 1, 2, True, False):
        raise ValueError(f"`verbose` must be 'auto', 0 or 1. Received: verbose={verbose!r}")
    bar = keras.utils.Progbar(3, verbose=int(v), unit_name="step")
    clock = [time.perf_counter()]
    database = load_database(database)
    expected, expected_groups = resolve_motifs(expected, database, "expected")
    decoys, decoy_groups = resolve_motifs(decoys, database, "decoys")
    if database is not None:
        targets = all_targets(database, expected, decoys)
        expected_groups = expand_groups(expected_groups, expected, targets)
        decoy_groups = expand_groups(decoy_groups, decoys, targets)
    bar.update(1)
    clock.append(time.perf_counter())
    with _numba_threads(n_threads):
        rows = _patterns(x, hyp, kwargs, trim_threshold, method, keep, offset)
        bar.update(2)
        clock.append(time.perf_counter())
        n_targets = 0
        if rows and database is not None:
            fields, n_targets = match_rows(
                [r["pfm"] for r in rows], database, expected, decoys, q_threshold=q_threshold,
                top_n=top_n, n_shuffles=n_shuffles, seed=seed)
            for row, extra in zip(rows, fields):
                row.update(extra)
    bar.update(3)
    clock.append(time.perf_counter())
    frame = pd.DataFrame(rows, columns=PATTERN_COLUMNS)
    if database is None:
        frame["status"] = "not matched"
    frame.attrs.update({
        "method": method, "n_sequences": int(len(x)), "length": int(x.shape[1]),
        "database": None if database is None else database.source, "n_targets": n_targets,
        "expected": expected_groups, "decoys": decoy_groups,
        "q_threshold": float(q_threshold), "modisco": kwargs,
        "n_shuffles": int(n_shuffles),
        "trim_threshold": float(trim_threshold), "seed": seed,
        "seconds": dict(zip(("database", "modisco", "matching"),
                            np.round(np.diff(clock), 3).tolist())),
    })
    return frame
