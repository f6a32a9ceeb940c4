"""Control arms of a validation run, as registered plugins (see :mod:`.base`).

Every module of this package is imported here, so a new arm is one file with a
``@register("name")`` :class:`Control` class (or one class registered anywhere).
"""

from keras_iml.registry import import_submodules
from keras_iml.validation.controls.base import (
    EXPECT,
    REGISTRY,
    ArmRun,
    Control,
    ControlArm,
    add_arms,
    check_controls,
    default_controls,
    expectation,
    get,
    names,
    partners,
    register,
)

import_submodules(__name__, __path__, skip=("base",))

__all__ = ["EXPECT", "REGISTRY", "ArmRun", "Control", "ControlArm", "add_arms", "check_controls",
           "default_controls", "expectation", "get", "names", "partners", "register"]
