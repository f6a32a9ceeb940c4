"""The tables of a validation run: one schema, written by :mod:`keras_iml.validation`
and read by :mod:`keras_iml.report` (and by anyone reading a report's JSON).

Ground floor: constants only, so the writer and the reader share them without either
importing the other.
"""

__all__ = ["COLUMNS", "REQUIRED", "TIERS", "TIER_NAMES"]

TIERS = ("tier1", "tier2", "tier3")
TIER_NAMES = {1: "Tier 1 · consistency", 2: "Tier 2 · faithfulness",
              3: "Tier 3 · biological validity"}

#: Every column of each table, in order, as a run writes it. A row is about a method
#: (``arm == "method"``), a control arm (``arm`` its kind, ``method`` its label) or a
#: pair of methods (``arm == "pair"``, the second in ``partner``).
COLUMNS = {
    "summary": ["tier", "metric", "method", "arm", "partner", "value", "ci_low", "ci_high", "threshold",
                "placebo_value", "effect_size", "p_value", "p_adjusted", "beats_placebo",
                "decidable", "informative", "meets_threshold", "passed"],
    "per_sequence": ["metric", "method", "arm", "partner", "seq", "value"],
    "adverse_events": ["seq", "method", "partner", "metric", "value", "threshold", "reason"],
    "not_run": ["metric", "method", "reason"],
    "evidence": ["metric", "method", "placebo", "n", "n_untied", "difference", "diff_ci_low",
                 "diff_ci_high", "effect_size", "p_value", "p_adjusted", "decidable",
                 "beats_placebo"],
    "controls": ["arm", "kind", "expect", "matches", "seed", "description", "config"],
}

#: The columns a report must have to be rendered (reports written by older versions
#: lack some of the others; the renderer reads those only where present).
REQUIRED = {
    "summary": ("tier", "metric", "method", "value", "ci_low", "ci_high", "threshold", "passed"),
    "per_sequence": ("metric", "method", "seq", "value"),
    "adverse_events": ("seq", "method", "metric", "value", "threshold", "reason"),
    "not_run": ("metric", "method", "reason"),
}
