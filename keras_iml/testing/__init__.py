"""The common checks every attribution method, metric and control arm must pass, as functions.

The repository's own suites (``tests/test_methods_common.py``,
``tests/test_metrics_common.py``, ``tests/test_controls_common.py``) call these over
every registered plugin, and a
plugin written outside the repository can call them the same way (as
scikit-learn's ``check_estimator``). The checks a plugin gets are chosen by the
hooks it declares, never by its name: a method declaring ``stochastic = True`` must
key its random draws by the sequence; one that does not must not draw at all; a
metric declaring ``placebo_ceiling`` must tie its placebo, the others must beat it;
a control arm declaring ``expect = "positive"`` must beat its placebo where the
planted site is, a negative one must not pass there.

Example:
    >>> from keras_iml import methods, testing
    >>> @methods.register("gradient_times_input")
    ... class GradientTimesInput(methods.AttributionMethod):
    ...     def attribute(self, function, x, rngs):
    ...         return {"values": function.gradient(x) * x}
    >>> testing.check_method("gradient_times_input")  # AssertionError on a failure

Each check is also available alone (``method_checks(name)``,
``metric_checks(name)``, ``control_checks(name)`` give ``(check_name, function)``
pairs) to parametrise a test suite with, as do ``surrogate_checks`` and
``library_checks`` for distillation's surrogates and query libraries, and
``family_checks`` for zoo families (their declared ``example`` loaded where its
files are at hand), ``input_kind_checks`` for kinds of model input (their
declared ``example`` model explained through its one-hot equivalent) and
``fast_path_checks`` for fast paths (their declared ``example`` model, also saved
and loaded back).
"""

from keras_iml.testing.control_checks import check_control, control_checks
from keras_iml.testing.family_checks import check_family, family_checks
from keras_iml.testing.fast_path_checks import check_fast_path, fast_path_checks
from keras_iml.testing.input_kind_checks import check_input_kind, input_kind_checks
from keras_iml.testing.method_checks import check_method, method_checks
from keras_iml.testing.metric_checks import check_metric, metric_checks, oracle_runs
from keras_iml.testing.surrogate_checks import (
    check_library,
    check_surrogate,
    library_checks,
    surrogate_checks,
)
from keras_iml.testing.toys import (
    ORACLE_DECOY,
    ORACLE_SITE,
    oracle_pfm,
    planted_sites,
    seeded_weights,
    toy_cnn,
    toy_multi_output,
    toy_sequences,
)

__all__ = ["check_method", "method_checks", "check_metric", "metric_checks", "oracle_runs",
           "check_control", "control_checks", "check_surrogate", "surrogate_checks",
           "check_library", "library_checks", "check_family", "family_checks", "check_input_kind",
           "input_kind_checks", "check_fast_path", "fast_path_checks", "toy_cnn", "toy_multi_output", "toy_sequences",
           "oracle_pfm", "planted_sites", "seeded_weights", "ORACLE_SITE", "ORACLE_DECOY"]
