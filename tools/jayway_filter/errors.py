"""The evaluator's errors: the public ones, and two internal signals of the parser and evaluator."""

from __future__ import annotations


class FilterError(ValueError):
    """A filter that cannot be evaluated; ``position`` is the 0-based offset of the problem."""

    def __init__(self, message: str, expression: str, position: int | None = None) -> None:
        self.message = message
        self.expression = expression
        self.position = position
        where = f" at position {position}" if position is not None else ""
        super().__init__(f"{message}{where}")


class FilterSyntaxError(FilterError):
    """Not a valid JsonPath expression."""


class UnsupportedFilterError(FilterError):
    """Valid Jayway syntax that this module does not evaluate (never evaluated by other rules)."""


class Problem(Exception):
    """A parse problem at ``index`` of the normalised text; mapped to a FilterError by the caller."""

    def __init__(self, message: str, index: int, *, unsupported: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.index = index
        self.unsupported = unsupported


class EvalError(Exception):
    """Where Jayway throws while evaluating a predicate: the candidate node is rejected."""
