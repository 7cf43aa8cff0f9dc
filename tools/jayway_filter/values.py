"""Jayway's values and operators, in pure Python: Java's equality, ordering, regex and set rules.

Value nodes are what the filter compares: JSON scalars (``int``/``float``/``Decimal`` numbers,
strings, booleans, ``None``), JSON arrays and objects, compiled regular expressions, and
``MISSING`` (Jayway's UndefinedNode). The rules are documented in the package docstring.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Final, TypeGuard

from .errors import EvalError, Problem


class Missing:
    """Jayway's UndefinedNode: a path that selects nothing."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<undefined>"


MISSING: Final = Missing()


class LiteralList(list[object]):
    """A JSON array written in the filter; ``elements`` are its Jayway value nodes, precomputed."""

    elements: list[object]


class LiteralObject(dict[str, object]):
    """A JSON object written in the filter (Jayway's JsonNode literal)."""


_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_JAVA_ESCAPES: Final = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def is_number(value: object) -> TypeGuard[int | float | Decimal]:
    kind = type(value)
    return kind is int or kind is float or kind is Decimal


_SCALAR_TYPES: Final = frozenset({str, int, float, bool, type(None), Decimal})


def is_mapping(value: object) -> TypeGuard[Mapping[str, object]]:
    """``isinstance(value, Mapping)``, without the ABC check for the types JSON decodes to."""
    kind = type(value)
    return kind is dict or (kind not in _SCALAR_TYPES and isinstance(value, Mapping))


def is_json(value: object) -> TypeGuard[list[object] | tuple[object, ...] | Mapping[str, object]]:
    """An array or an object (Jayway's JsonNode)."""
    kind = type(value)
    return (
        kind is dict
        or kind is list
        or (kind not in _SCALAR_TYPES and isinstance(value, (list, tuple, Mapping)))
    )


def _java_double(value: float) -> str:
    """Java's ``Double.toString`` (shortest digits, as JDK 19+)."""
    if math.isnan(value) or math.isinf(value):
        raise EvalError("not a finite number")
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    if 1e-3 <= abs(value) < 1e7:
        return repr(value)  # Python prints this range in plain notation too
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits)).rstrip("0") or "0"
    adjusted = exponent + len(digits) - 1
    return f"{'-' if sign else ''}{text[0]}.{text[1:] or '0'}E{adjusted}"


def _decimal(value: object) -> Decimal:
    """The ``BigDecimal`` Jayway builds for a number node."""
    if type(value) is int:
        return Decimal(value)
    if type(value) is float:
        return Decimal(_java_double(value))
    assert isinstance(value, Decimal)
    return value


def _number_text(value: object) -> str:
    """``BigDecimal.toString()`` of a number node (Python's Decimal prints by the same rules)."""
    if type(value) is int:
        return str(value)
    return str(_decimal(value))


def _numbers_equal(left: object, right: object) -> bool:
    if type(left) is int and type(right) is int:
        return left == right
    return _decimal(left) == _decimal(right)


def _java_compare(left: str, right: str) -> int:
    """Java's ``String.compareTo``: UTF-16 code units, then length."""
    if left == right:
        return 0
    if not (left.isascii() and right.isascii()):
        left_units, right_units = left.encode("utf-16-be"), right.encode("utf-16-be")
        return -1 if left_units < right_units else 1
    return -1 if left < right else 1


def _java_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def java_unescape(text: str) -> str:
    """Jayway's ``Utils.unescape`` (commons-lang style): unknown escapes drop the backslash."""
    if "\\" not in text:
        return text
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != "\\" or index + 1 == len(text):
            out.append(char)
            index += 1
            continue
        escaped = text[index + 1]
        if escaped == "u":
            digits = text[index + 2 : index + 6]
            if len(digits) != 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise ValueError("invalid \\u escape")
            out.append(chr(int(digits, 16)))
            index += 6
            continue
        out.append(_JAVA_ESCAPES.get(escaped, escaped))
        index += 2
    return "".join(out)


def element(value: object) -> object:
    """A JSON array element as Jayway's ``ValueNode.toValueNode`` turns it into a value node."""
    if isinstance(value, str):
        if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        try:
            return java_unescape(value)
        except ValueError:
            raise EvalError("invalid escape in an array element") from None
    if is_json(value):
        raise EvalError("arrays of objects or arrays cannot be compared")
    return value


def elements(value: object) -> list[object] | None:
    """``asValueListNode``: elements of an array, None for an object, error for anything else."""
    if type(value) is LiteralList:
        return value.elements
    if isinstance(value, (list, tuple)):
        return [element(item) for item in value]
    if is_mapping(value):
        return None
    raise EvalError("expected an array")


def _node_equals(left: object, right: object) -> bool:  # noqa: PLR0911
    """``left.equals(right)`` between Jayway value nodes."""
    if isinstance(left, str):
        if isinstance(right, str):
            return left == right
        return is_number(right) and left == _number_text(right)
    if isinstance(left, bool):
        return isinstance(right, bool) and left == right
    if is_number(left):
        if is_number(right):
            return _numbers_equal(left, right)
        if isinstance(right, str):
            return _NUMBER_TEXT.fullmatch(right) is not None and _decimal(left) == Decimal(right)
        return False
    if left is None:
        return right is None
    return False  # undefined, regex, and JSON nodes against other value nodes


def _json_equals(left: object, right: object) -> bool:
    """Java ``equals`` between parsed JSON values (Integer and Double differ)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return len(left) == len(right) and all(map(_json_equals, left, right))
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(_json_equals(left[k], right[k]) for k in left)
    if type(left) in (int, float, str) or left is None:
        return type(left) is type(right) and left == right
    return False


def _equals(left: object, right: object, *, left_literal: bool = False) -> bool:
    if is_json(left) and is_json(right):
        return not left_literal and _json_equals(left, right)
    return _node_equals(left, right)


def _node_type(value: object) -> str:  # noqa: PLR0911
    if value is MISSING:
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if is_json(value):
        return "json"
    return "pattern"


def _order(left: object, right: object) -> int | None:
    """Jayway's ordering for < <= > >=; None when the types do not order."""
    left_number, right_number = is_number(left), is_number(right)
    if left_number and right_number:
        a, b = _decimal(left), _decimal(right)
        return (a > b) - (a < b)
    if isinstance(left, str):
        if isinstance(right, str):
            return _java_compare(left, right)
        if right_number:
            return _java_compare(left, _number_text(right))
    elif left_number and isinstance(right, str):
        return _java_compare(_number_text(left), right)
    return None


def _regex_input(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return _number_text(value)
    return ""


def _regex_matches(left: object, right: object) -> bool:
    left_is, right_is = isinstance(left, re.Pattern), isinstance(right, re.Pattern)
    if left_is == right_is:
        return False
    pattern, subject = (left, right) if left_is else (right, left)
    assert isinstance(pattern, re.Pattern)
    if isinstance(subject, (list, tuple)):
        items = elements(subject) or []
        return any(pattern.fullmatch(_regex_input(item)) is not None for item in items)
    return pattern.fullmatch(_regex_input(subject)) is not None


def _in(left: object, right: object) -> bool:
    items = elements(right)
    if items is None:
        return False
    if type(left) is str:  # the usual case: a string among strings
        for item in items:
            if (item == left and type(item) is str) or (is_number(item) and _node_equals(left, item)):
                return True
        return False
    return any(_node_equals(left, item) for item in items)


def _set_operands(left: object, right: object) -> tuple[list[object], list[object]] | None:
    right_items = elements(right)
    if right_items is None:
        return None
    left_items = elements(left)
    if left_items is None:
        return None
    return left_items, right_items


def _subsetof(left: object, right: object) -> bool:
    operands = _set_operands(left, right)
    if operands is None:
        return False
    lefts, rights = operands
    return all(any(_node_equals(a, b) for b in rights) for a in lefts)


def _anyof(left: object, right: object) -> bool:
    operands = _set_operands(left, right)
    if operands is None:
        return False
    lefts, rights = operands
    return any(_node_equals(a, b) for a in lefts for b in rights)


def _noneof(left: object, right: object) -> bool:
    operands = _set_operands(left, right)
    if operands is None:
        return False
    lefts, rights = operands
    return not any(_node_equals(a, b) for a in lefts for b in rights)


def _contains(left: object, right: object) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return right in left
    if is_json(left):
        items = elements(left)
        return items is not None and any(_node_equals(right, item) for item in items)
    return False


def _size(left: object, right: object) -> bool:
    if not is_number(right):
        return False
    expected = int(_decimal(right))
    if isinstance(left, str):
        return _java_length(left) == expected
    if isinstance(left, (list, tuple)):
        return len(left) == expected
    if is_mapping(left):
        return expected == -1  # Jayway's JsonNode.length() of an object
    return False


def _empty(left: object, right: object) -> bool:
    if not (isinstance(left, str) or is_json(left)):
        return False
    if not isinstance(right, bool):
        raise EvalError("empty expects true or false")
    assert isinstance(left, (str, list, tuple, Mapping))
    return (len(left) == 0) == right


def _eq(left: object, right: object, left_literal: bool) -> bool:
    if type(left) is str and type(right) is str:
        return left == right
    return _equals(left, right, left_literal=left_literal)


def _strict_eq(left: object, right: object, left_literal: bool) -> bool:
    return _node_type(left) == _node_type(right) and _equals(left, right, left_literal=left_literal)


def _ordering(test: Callable[[int], bool]) -> Callable[[object, object, bool], bool]:
    def compare(left: object, right: object, left_literal: bool) -> bool:
        if type(left) is int and type(right) is int:
            return test((left > right) - (left < right))
        order = _order(left, right)
        return order is not None and test(order)

    return compare


def _word(operator: Callable[[object, object], bool]) -> Callable[[object, object, bool], bool]:
    return lambda left, right, left_literal: operator(left, right)


OPERATORS: Final[dict[str, Callable[[object, object, bool], bool]]] = {
    "==": _eq,
    "!=": lambda left, right, left_literal: not _eq(left, right, left_literal),
    "===": _strict_eq,
    "!==": lambda left, right, left_literal: not _strict_eq(left, right, left_literal),
    "<": _ordering(lambda order: order < 0),
    "<=": _ordering(lambda order: order <= 0),
    ">": _ordering(lambda order: order > 0),
    ">=": _ordering(lambda order: order >= 0),
    "=~": _word(_regex_matches),
    "in": _word(_in),
    "nin": _word(lambda left, right: not _in(left, right)),
    "subsetof": _word(_subsetof),
    "anyof": _word(_anyof),
    "noneof": _word(_noneof),
    "contains": _word(_contains),
    "size": _word(_size),
    "empty": _word(_empty),
}
UNSUPPORTED_OPERATORS: Final = frozenset({"all", "exists", "type", "matches"})
FUNCTIONS: Final = frozenset({"length", "size", "min", "max", "avg", "sum", "stddev", "keys"})
UNSUPPORTED_FUNCTIONS: Final = frozenset({"concat", "append", "first", "last", "index"})


def apply(function: str, value: object) -> object:
    """A Jayway path function applied to the node a definite path reached."""
    if function in ("length", "size"):
        return len(value) if is_json(value) else None
    if function == "keys":
        return list(value) if is_mapping(value) else None
    numbers = [float(v) for v in value if is_number(v)] if isinstance(value, (list, tuple)) else []
    if not numbers:
        raise EvalError(f"{function}() over no numbers")
    if function in ("sum", "avg"):
        total = 0.0
        for number in numbers:
            total += number
        return total if function == "sum" else total / len(numbers)
    if function == "min":
        lowest = 1.7976931348623157e308
        for number in numbers:
            lowest = min(lowest, number)
        return lowest
    if function == "max":
        highest = -1.7976931348623157e308
        for number in numbers:
            highest = max(highest, number)
        return highest
    total = squares = 0.0
    for number in numbers:
        total += number
        squares += number * number
    variance = squares / len(numbers) - total * total / len(numbers) / len(numbers)
    return math.sqrt(variance) if variance >= 0 else math.nan


def lookup(document: object, keys: tuple[str | int, ...]) -> object:
    """A definite path's value, or MISSING."""
    for key in keys:
        if type(key) is str:
            if not is_mapping(document):
                return MISSING
            document = document.get(key, MISSING)
            if document is MISSING:
                return MISSING
        elif isinstance(document, (list, tuple)):
            assert isinstance(key, int)
            if not -len(document) <= key < len(document):
                return MISSING
            document = document[key]
        else:
            return MISSING
    return document


# ------------------------------------------------------------------------------------------------
def java_regex(pattern: str, flags: str, index: int) -> re.Pattern[str]:
    """Compile a Jayway ``/pattern/flags`` with Java's defaults, or refuse it."""
    if "&&" in pattern or "[[" in pattern:
        raise Problem("regular expression uses Java character-class operations", index, unsupported=True)
    python_flags = 0
    if "U" not in flags:
        if "u" not in flags:
            python_flags |= re.ASCII  # Java: ASCII \w \d \s \b and ASCII-only case folding
        elif re.search(r"\\[wWdDsSbB]", pattern):
            raise Problem("flag 'u' with ASCII character classes", index, unsupported=True)
    for letter, flag in (("i", re.IGNORECASE), ("m", re.MULTILINE), ("s", re.DOTALL), ("x", re.VERBOSE)):
        if letter in flags:
            python_flags |= flag
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return re.compile(pattern, python_flags)
    except (re.error, Warning) as err:
        raise Problem(
            f"regular expression Python reads differently from Java or not at all: {err}",
            index,
            unsupported=True,
        ) from None
