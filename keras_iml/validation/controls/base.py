"""Control arms of a validation run, as plugins: the base class, the registry, and the
step that makes a protocol's arms.

A metric's value means something only next to what a map that knows nothing scores
on it. Every run therefore adds, as a clinical trial would, arms that are not
treatments. Each kind of arm is one :class:`Control` class registered by name
(``@register("placebo")``); the built-in ones are

* **placebo** (``placebo:<method>``), one per method: model-independent noise
  matched to that method's own smoothness, sparsity and marginal distribution
  (:func:`keras_iml.methods.placebo.match_placebo`). Every metric row of a method
  or arm is compared with the same row of its own placebo (the arm that declares
  ``comparator``).
* **randomised model** (``randomised_model:<method>``): the method explaining a
  copy of the model whose every weight is redrawn (the last step of the
  model-parameter randomisation cascade). A map that still scores well explains the
  input, not the model.
* **positive controls** (``positive:ism``, and ``positive:ground_truth`` where a
  planted motif mask is given): maps that are right by construction. A metric on
  which the positive control does not beat placebo has no assay sensitivity here.

The arms, their settings and seeds are fixed by the protocol (``controls``) before
any result is seen, and recorded in ``ValidationReport.controls``. A new arm is one
class and one registration: it then runs in every default protocol (unless it
declares ``default = False``), and appears in the summary, the report and the zoo's
results table.

Example:
    >>> from keras_iml.validation import controls
    >>> @controls.register("all_ones")
    ... class AllOnes(controls.Control):
    ...     '''A map of ones on the observed bases: knows nothing.'''
    ...     def make(self, run):
    ...         for label in run.real:
    ...             arm = controls.ControlArm(f"all_ones:{label}", "all_ones", label,
    ...                                       run.seed, "ones on the observed bases")
    ...             run.add(arm, attributions=keras_iml.Attributions(run.ctx.x.copy()))
"""

import dataclasses

from keras_iml.registry import Configurable, Registry

__all__ = ["Control", "ControlArm", "ArmRun", "REGISTRY", "register", "get", "names",
           "default_controls", "check_controls", "add_arms", "partners", "expectation", "EXPECT"]

#: What a working protocol sees of an arm: a ``"negative"`` arm (a map that knows
#: nothing) must not pass nor beat its placebo; a ``"positive"`` arm (right by
#: construction) must.
EXPECT = ("negative", "positive")


@dataclasses.dataclass
class ControlArm:
    """One control arm of a run (a row of ``ValidationReport.controls``).

    Attributes:
        label: its label in every table (``placebo:saliency``...).
        kind: its kind (the summary's ``arm`` column): ``"placebo"``,
            ``"randomised_model"``, ``"positive_control"``, or a plugin's.
        matches: the method it is a control for (its placebo partner is the
            comparator arm made for ``matches``).
        seed: the seed its maps were drawn with.
        description: how it is made, in words.
        config: the settings of its maps (the placebo's matched width and quantiles...).
        expect: ``"negative"`` or ``"positive"`` (set from the arm's class).
        control: the registered name of the arm's class (set when it is made).
    """

    label: str
    kind: str
    matches: str
    seed: int
    description: str
    config: dict = dataclasses.field(default_factory=dict)
    expect: str = "negative"
    control: str = None

    def row(self):
        return {"arm": self.label, "kind": self.kind, "matches": self.matches, "seed": self.seed,
                "description": self.description, "config": _compact_config(self.config),
                "expect": self.expect}


def _compact_config(config):
    out = {}
    for key, value in config.items():
        if key == "quantiles" and value is not None:
            value = f"{len(value)} quantiles from {value[0]:.3g} to {value[-1]:.3g}"
        out[key] = value
    return out


class Control(Configurable):
    """Base of a control arm. A subclass's ``__init__`` takes explicit keyword options
    and only stores them (they are the arm's settings in ``protocol['controls']``).

    Declared hooks (class attributes the run and the reports read):

    * ``expect``: ``"negative"`` (default) or ``"positive"``.
    * ``kind``: the arm's kind in the tables (default: its registered name).
    * ``order``: arms are made in increasing ``order``; the placebo (20) comes after
      the arms it may be a placebo for, the randomised-model arm (30) after it.
    * ``comparator``: the arm every row of its ``matches`` is compared with (the placebo).
    * ``default``: part of the default protocol.
    * ``needs_model``: made by the engine, so not made for attributions given
      precomputed without a model.
    """

    expect = "negative"
    kind = None
    order = 10
    comparator = False
    default = True
    needs_model = True

    def make(self, run):
        """Makes the arm's maps through ``run.add`` (an :class:`ArmRun`); an arm that
        cannot be made is recorded with ``run.skip(label, reason)``."""
        raise NotImplementedError

    @classmethod
    def arm_kind(cls):
        return cls.kind or cls.name


def _check_control(name, cls):
    if cls.expect not in EXPECT:
        raise ValueError(f"Control {name!r}: `expect` must be one of {EXPECT}. Received: {cls.expect!r}")


REGISTRY = Registry("control arm", Control, check=_check_control)
register = REGISTRY.register
get = REGISTRY.get
names = REGISTRY.names


@dataclasses.dataclass
class ArmRun:
    """What an arm sees while it is made: the run's Context (read only), the methods
    that ran, the arms made so far; :meth:`add` is the one way an arm enters the run.

    Attributes:
        ctx: the run's :class:`keras_iml.metrics.Context` (the methods explained).
        real: labels of the protocol's methods that have attributions.
        explain: ``explain(label, method, model, seed)`` -> ``Attributions``, or None
            when the method could not explain the model (the runner records why).
        arms: the arms made so far.
        not_run: ``(arm label, reason)`` of the arms that could not be made.
        attributions: arm label -> its maps.
        methods: arm label -> the method that made its maps (None: given as maps).
        models: arm label -> the model the arm explains instead of the run's.
    """

    ctx: object
    real: list
    explain: object
    arms: list = dataclasses.field(default_factory=list)
    not_run: list = dataclasses.field(default_factory=list)
    attributions: dict = dataclasses.field(default_factory=dict)
    methods: dict = dataclasses.field(default_factory=dict)
    models: dict = dataclasses.field(default_factory=dict)

    @property
    def seed(self):
        return self.ctx.seed

    @property
    def maps(self):
        """Label -> attributions of the methods and of the arms made so far."""
        return {**self.ctx.attributions, **self.attributions}

    def add(self, arm, *, method=None, attributions=None, model=None):
        """Adds ``arm``: its ``attributions`` as given, or ``method`` explaining ``model``
        (the run's when None) with the arm's seed. An arm whose method could not
        explain the model is left out (the runner records why)."""
        if attributions is None:
            attributions = self.explain(arm.label, method, model, arm.seed)
        if attributions is None:
            return
        self.attributions[arm.label] = attributions
        self.methods[arm.label] = method
        if model is not None:
            self.models[arm.label] = model
        self.arms.append(arm)

    def skip(self, label, reason):
        self.not_run.append((label, reason))


def default_controls():
    """``protocol['controls']`` by default: every registered arm that declares
    ``default``, True for an arm without options, else its default options."""
    out = {}
    for name in names():
        cls = REGISTRY.get_class(name)
        options = cls().get_config()
        out[name] = (dict(options) if options else True) if cls.default else False
    return out


def check_controls(controls):
    """Normalises a protocol's ``controls``: None/True (defaults), False/"none", or a
    dict ``{arm name: bool or dict of the arm's options}``."""
    if controls is None or controls is True:
        return default_controls()
    if controls is False or controls == "none":
        return {name: False for name in names()}
    if not isinstance(controls, dict):
        raise ValueError(
            f"`controls` must be True, False, 'none' or a dict with keys among {names()}. "
            f"Received: controls={controls!r}")
    unknown = set(controls) - set(names())
    if unknown:
        raise ValueError(
            f"Unknown `controls` keys {sorted(unknown, key=repr)}; expected a subset of "
            f"{names()}. Received: controls={controls!r}")
    out = default_controls()
    for key, value in controls.items():
        options = REGISTRY.get_class(key).option_names()
        if isinstance(value, dict) and options:
            try:
                REGISTRY.get(key, **value)
            except ValueError as err:
                raise ValueError(f"`controls[{key!r}]`: {err} Received: {value!r}") from None
            out[key] = {**REGISTRY.get_class(key)().get_config(), **value}
        elif isinstance(value, bool):
            out[key] = (REGISTRY.get_class(key)().get_config() if options else True) if value else False
        else:
            raise ValueError(f"`controls[{key!r}]` must be a bool{' or a dict' if options else ''}. "
                             f"Received: {value!r}")
    return out


def add_arms(ctx, controls, explain):
    """Makes the control arms of ``controls``.

    Args:
        ctx: the run's :class:`keras_iml.metrics.Context`, its methods explained
            (read, never changed).
        controls: normalised ``controls`` (:func:`check_controls`).
        explain: ``explain(label, method, model, seed)`` -> ``Attributions`` or None
            (the runner's, which records failures as not run).

    Returns:
        the :class:`ArmRun`: its ``arms`` (list of :class:`ControlArm`), their
        ``attributions``, ``methods`` and ``models``, and ``not_run``.
    """
    run = ArmRun(ctx, [label for label in ctx.methods if label in ctx.attributions], explain)
    chosen = [(REGISTRY.get_class(name), value) for name, value in controls.items() if value]
    for cls, value in sorted(chosen, key=lambda item: item[0].order):
        if cls.needs_model and ctx.model is None:
            run.skip(cls.name, "control arms are made by the engine, which needs a model "
                               "(attributions given precomputed without one)")
            continue
        before = len(run.arms)
        REGISTRY.get(cls.name, **(value if isinstance(value, dict) else {})).make(run)
        for arm in run.arms[before:]:
            arm.expect, arm.control = cls.expect, cls.name
    return run


def partners(arms, real):
    """Label -> the label of its comparator arm (its placebo), for the methods and arms
    that have one."""
    comparators = {a.matches: a.label for a in arms if REGISTRY.get_class(a.control).comparator}
    out = {label: comparators[label] for label in real if label in comparators}
    out.update({a.label: comparators[a.matches] for a in arms
                if a.matches in comparators and a.label != comparators[a.matches]})
    return out


def expectation(control):
    """``"negative"``/``"positive"``: what the registered arm ``control`` (a
    :class:`Control`'s name) expects; None for a name that is not registered."""
    return REGISTRY.get_class(control).expect if control in REGISTRY else None
