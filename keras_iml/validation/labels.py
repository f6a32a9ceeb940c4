"""`Label`: whom a row of a validation run's tables is about, as a record.

A row is about a method the protocol explains (``kind="method"``), a control arm
(``kind`` the arm's kind: ``"placebo"``, ``"randomised_model"``...), or a pair of
methods compared with each other (``kind="pair"``, ``partner`` the second method).
The tables carry the three fields as the columns ``method``, ``arm`` and
``partner``; nothing reads a label's text to learn what it is.
"""

import dataclasses

__all__ = ["Label", "METHOD", "PAIR"]

#: The kind of a method the protocol explains.
METHOD = "method"
#: The kind of a method x method comparison (shown, never judged).
PAIR = "pair"


@dataclasses.dataclass(frozen=True)
class Label:
    """Whom a row is about.

    Attributes:
        method: the method's label, or the control arm's label.
        kind: ``"method"``, ``"pair"``, or a control arm's kind.
        partner: the other method of a pair; None otherwise.

    Example:
        >>> Label("saliency")
        Label(method='saliency', kind='method', partner=None)
        >>> Label.pair("saliency", "ism").judged
        False
    """

    method: str
    kind: str = METHOD
    partner: str = None

    @classmethod
    def pair(cls, method, partner):
        """The label of the comparison of ``method`` with ``partner``."""
        return cls(method, PAIR, partner)

    @property
    def judged(self):
        """Whether rows with this label can pass or fail (pairs are shown only)."""
        return self.partner is None

    @property
    def is_method(self):
        """Whether this is one of the protocol's methods (not an arm nor a pair)."""
        return self.kind == METHOD

    def fields(self):
        """The label's table columns: ``{"method", "arm", "partner"}``."""
        return {"method": self.method, "arm": self.kind, "partner": self.partner}
