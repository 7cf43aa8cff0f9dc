"""Subscription filters: SailPoint's Jayway JsonPath dialect, evaluated offline.

SailPoint decides whether a subscription receives an event by running its filter, a Jayway
JsonPath expression (com.jayway.jsonpath, 2.x), over the trigger input: a non-empty result is a
match. This module parses with python-jsonpath's lexer and parser (subclassed: Jayway tokens,
operators, ``[?(...)]`` and path functions) into its segments and selectors. Deep scans and
bracket unions are resolved by python-jsonpath; plain paths (names, indices, ``*``, slices,
filters) are walked directly, which is faster; the filter expressions themselves are evaluated
here with Jayway's rules, because they differ from RFC 9535's in almost every operator.

Supported grammar (whitespace is allowed between tokens, not inside a path)::

    filter     := path                      (trimmed; '@' first means '$'; no '$'/'@' means '$.' + text)
    path       := '$' step* [ '.' function '()' ]
    step       := '.' name | '.*' | '..' name | '..*' | '..[' selectors ']' | '.'? '[' selectors ']'
    selectors  := index | 'name' | "name" | '*' | start? ':' end? | '[?(' condition ')]'   (comma lists)
    condition  := and ( '||' and )*
    and        := unary ( '&&' unary )*
    unary      := '!' unary | '(' condition ')' | operand op operand | existence
    existence  := operand-path              (a path selecting at most one node; '!' negates)
    operand    := ('@' | '$') step* [ '.' function '()' ] | literal
    literal    := 'str' | "str" | number | true | false | null | [ scalar, ... ] | /regex/flags
    op         := == != === !== < <= > >= =~ in nin subsetof anyof noneof contains size empty
                  (word operators are case-insensitive and surrounded by spaces, as Jayway reads them)
    function   := length | size | min | max | avg | sum | stddev | keys   (keys() only ends a whole filter)

Jayway semantics implemented (checked against json-path's EvaluatorFactory, ValueNodes,
FilterCompiler, PathCompiler and function sources of the 2.9 line; SailPoint does not say which
version it runs: the two behaviours added during 2.x are marked "newer 2.x"):

- A filter applied to an *object* tests the object itself (``$[?(@.type == 'X')]`` on the root
  object selects the root); applied to an array it tests each element; applied to a primitive
  after a definite path it is an error (no match).
- Paths in comparisons: a definite path (names and indices only) is its value, or *undefined*
  when absent; an indefinite path (wildcard, slice, filter, deep scan, several names) is the
  array of what it selects, or undefined when a property before its first indefinite step is
  missing. Undefined equals nothing, not even undefined; ``!=`` is true against it.
- ``==``: numbers compare by value (``1 == 1.0``); a number equals a string when the string
  parses as the same decimal (number on the left) or when the string equals the number's
  Java ``BigDecimal.toString()`` (string on the left): ``1 == '1'`` and ``'1' == 1`` both hold.
  Jayway's README says "1 is not equal to '1'"; its code and its FilterTest.int_eq_string_evals
  say otherwise, and this module follows the code.
  Booleans equal only booleans, null only null; two arrays/objects compare structurally with
  Java types (1 and 1.0 differ) unless the left one is a literal, which Jayway compares unparsed
  (never equal). ``===``/``!==`` additionally require the same node type.
- ``< <= > >=``: number/number by value, string/string by UTF-16 code units (Java
  ``compareTo``), string/number by comparing the string with the number's text (newer 2.x;
  older releases answer false); anything else is false.
- ``=~ /re/flags``: exactly one side is a regex; it must match the whole text of a string,
  number or boolean (anything else is matched as ``""``, as Jayway does), or any element of an
  array (newer 2.x, json-path PR 685). Flags i, m, s, x, u, U, d; unknown letters are ignored like Jayway. Java's default
  ASCII-only ``\\w \\d \\s \\b`` and case folding are kept (``re.ASCII`` unless ``U``/``u``).
- ``in``/``nin``: the right side must be an array (literal or path); an object gives ``in``
  false (``nin`` true); anything else is an error. ``subsetof``/``anyof``/``noneof``: both
  sides arrays (an object on either side gives false, anything else an error). ``contains``:
  substring of a string, or element of an array. Element equality is ``==``'s. Array elements
  that are strings are unquoted and unescaped as Jayway's ``createStringNode(s, true)`` does;
  elements that are objects or arrays are an error.
- ``size n``: string length (UTF-16 units) or array length equals ``int(n)`` (an object's
  size is -1, Jayway's ``JsonNode.length()``); other values are false. ``empty true|false``: string, array or object emptiness; a non-boolean
  right side is an error.
- Errors (Jayway's InvalidPathException during a predicate) reject the candidate node; ``&&``
  and ``||`` short-circuit left to right as Jayway's do, so an error on the right side of a
  decided ``||`` does not count. Where Jayway would abort the whole read instead (an aggregate
  over no numbers, an array of objects compared with ``in``), the event does not match either.
- The result: a filter matches when it selects something (a selected ``null`` counts); a
  definite path that is absent selects nothing. ``isPathExist`` (``paths_exist``) is true when
  the path before the first filter selects something and every path that filter reads exists
  (``@`` paths in at least one candidate); SailPoint does not document its own rule.
- Functions: ``length()``/``size()`` of an array or object (null otherwise),
  ``min() max() sum() avg() stddev()`` over the numbers of an array with Java's double
  arithmetic (no numbers is an error); ``keys()`` only at the end of the whole filter
  (``$.attributes.keys()`` matches an object), since inside a filter Jayway fails on its Set.
- Number literals keep their text (``BigDecimal``), JSON doubles are rendered as Java's
  ``Double.toString`` (shortest repr, as JDK 19+), so ``1e3`` prints ``1E+3`` and 10.0 ``10.0``.

Deliberately refused (``UnsupportedFilterError`` with a position, never evaluated otherwise):
existence tests of indefinite paths (Jayway answers true even when they select nothing),
``!`` in front of a compared path (Jayway ignores it), functions after indefinite paths or
with arguments (``concat``, ``append``, ``index``...), ``first()``/``last()`` (2.9-only),
``keys()`` inside a filter, JSON object literals and nested arrays in literals, unquoted list
items, the ``all``, ``exists``, ``type`` and ``matches`` operators, slice steps, and regular
expressions Python's ``re`` reads differently (class intersections, ``\\p{..}``, ``\\Q``...).

Known, accepted differences: Java's ``.`` in a regex also stops at ``\\r``, ``\\u0085``,
``\\u2028`` and ``\\u2029``; array elements that are strings starting with ``$``/``@`` or
looking like JSON become paths/JSON nodes in Jayway and are plain strings here; Jayway reads a
regex's flags up to the next ``=`` or ``)``, this module only the letters after the slash.

python-jsonpath is imported inside functions: this module ships in the Lambda layer, which does
not bundle it, and importing the module must not fail there.
"""

from __future__ import annotations

import functools
import math
import re
import warnings
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from jsonpath import JSONPath, JSONPathEnvironment, JSONPathMatch
    from jsonpath.segments import JSONPathSegment
    from jsonpath.selectors import JSONPathSelector

__all__ = [
    "CompiledFilter",
    "FilterError",
    "FilterSyntaxError",
    "FilterVerdict",
    "UnsupportedFilterError",
    "compile_filter",
    "matches",
    "validate_filter",
]


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


@dataclass(frozen=True, slots=True)
class FilterVerdict:
    """What SailPoint's validate-filter endpoint reports, plus why a filter is invalid."""

    is_valid: bool
    """The filter matches the input (the event would be delivered)."""
    is_valid_json_path: bool
    """The expression parses."""
    is_path_exist: bool
    """The paths the expression reads exist in the input."""
    error: str | None = None
    position: int | None = None


# ------------------------------------------------------------------------------------------------
# Jayway values and operators (pure Python)
# ------------------------------------------------------------------------------------------------


class _Missing:
    """Jayway's UndefinedNode: a path that selects nothing."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<undefined>"


_MISSING: Final = _Missing()


class _EvalError(Exception):
    """Where Jayway throws while evaluating a predicate: the candidate node is rejected."""


# What evaluating a compiled filter may raise; python-jsonpath's JSONPathError is added when the
# parser is built (no filter can be compiled before), so that evaluation does not import it.
_EVALUATION_ERRORS: tuple[type[Exception], ...] = (_EvalError,)


class _Problem(Exception):
    """A parse problem at ``index`` of the normalised text; mapped to a FilterError by the caller."""

    def __init__(self, message: str, index: int, *, unsupported: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.index = index
        self.unsupported = unsupported


class _LiteralList(list[object]):
    """A JSON array written in the filter; ``elements`` are its Jayway value nodes, precomputed."""

    elements: list[object]


_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_JAVA_ESCAPES: Final = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _is_number(value: object) -> bool:
    kind = type(value)
    return kind is int or kind is float or kind is Decimal


_SCALAR_TYPES: Final = frozenset({str, int, float, bool, type(None), Decimal})


def _is_mapping(value: object) -> bool:
    """``isinstance(value, Mapping)``, without the ABC check for the types JSON decodes to."""
    kind = type(value)
    return kind is dict or (kind not in _SCALAR_TYPES and isinstance(value, Mapping))


def _is_json(value: object) -> bool:
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
        raise _EvalError("not a finite number")
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


def _java_unescape(text: str) -> str:
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


def _element(value: object) -> object:
    """A JSON array element as Jayway's ``ValueNode.toValueNode`` turns it into a value node."""
    if isinstance(value, str):
        if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        try:
            return _java_unescape(value)
        except ValueError:
            raise _EvalError("invalid escape in an array element") from None
    if _is_json(value):
        raise _EvalError("arrays of objects or arrays cannot be compared")
    return value


def _elements(value: object) -> list[object] | None:
    """``asValueListNode``: elements of an array, None for an object, error for anything else."""
    if type(value) is _LiteralList:
        return value.elements
    if isinstance(value, (list, tuple)):
        return [_element(item) for item in value]
    if _is_mapping(value):
        return None
    raise _EvalError("expected an array")


def _node_equals(left: object, right: object) -> bool:  # noqa: PLR0911
    """``left.equals(right)`` between Jayway value nodes."""
    if isinstance(left, str):
        if isinstance(right, str):
            return left == right
        return _is_number(right) and left == _number_text(right)
    if isinstance(left, bool):
        return isinstance(right, bool) and left == right
    if _is_number(left):
        if _is_number(right):
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
    if _is_json(left) and _is_json(right):
        return not left_literal and _json_equals(left, right)
    return _node_equals(left, right)


def _node_type(value: object) -> str:  # noqa: PLR0911
    if value is _MISSING:
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if _is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if _is_json(value):
        return "json"
    return "pattern"


def _order(left: object, right: object) -> int | None:
    """Jayway's ordering for < <= > >=; None when the types do not order."""
    left_number, right_number = _is_number(left), _is_number(right)
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
    if _is_number(value):
        return _number_text(value)
    return ""


def _regex_matches(left: object, right: object) -> bool:
    left_is, right_is = isinstance(left, re.Pattern), isinstance(right, re.Pattern)
    if left_is == right_is:
        return False
    pattern, subject = (left, right) if left_is else (right, left)
    assert isinstance(pattern, re.Pattern)
    if isinstance(subject, (list, tuple)):
        items = _elements(subject) or []
        return any(pattern.fullmatch(_regex_input(item)) is not None for item in items)
    return pattern.fullmatch(_regex_input(subject)) is not None


def _in(left: object, right: object) -> bool:
    items = _elements(right)
    if items is None:
        return False
    if type(left) is str:  # the usual case: a string among strings
        for item in items:
            if (item == left and type(item) is str) or (_is_number(item) and _node_equals(left, item)):
                return True
        return False
    return any(_node_equals(left, item) for item in items)


def _set_operands(left: object, right: object) -> tuple[list[object], list[object]] | None:
    right_items = _elements(right)
    if right_items is None:
        return None
    left_items = _elements(left)
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
    if _is_json(left):
        items = _elements(left)
        return items is not None and any(_node_equals(right, item) for item in items)
    return False


def _size(left: object, right: object) -> bool:
    if not _is_number(right):
        return False
    expected = int(_decimal(right))
    if isinstance(left, str):
        return _java_length(left) == expected
    if isinstance(left, (list, tuple)):
        return len(left) == expected
    if _is_mapping(left):
        return expected == -1  # Jayway's JsonNode.length() of an object
    return False


def _empty(left: object, right: object) -> bool:
    if not (isinstance(left, str) or _is_json(left)):
        return False
    if not isinstance(right, bool):
        raise _EvalError("empty expects true or false")
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


_OPERATORS: Final[dict[str, Callable[[object, object, bool], bool]]] = {
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
_UNSUPPORTED_OPERATORS: Final = frozenset({"all", "exists", "type", "matches"})
_FUNCTIONS: Final = frozenset({"length", "size", "min", "max", "avg", "sum", "stddev", "keys"})
_UNSUPPORTED_FUNCTIONS: Final = frozenset({"concat", "append", "first", "last", "index"})


def _apply(function: str, value: object) -> object:
    """A Jayway path function applied to the node a definite path reached."""
    if function in ("length", "size"):
        return len(value) if _is_json(value) else None  # type: ignore[arg-type]
    if function == "keys":
        return list(value) if _is_mapping(value) else None  # type: ignore[call-overload]
    numbers = [float(v) for v in value if _is_number(v)] if isinstance(value, (list, tuple)) else []
    if not numbers:
        raise _EvalError(f"{function}() over no numbers")
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


def _lookup(document: object, keys: tuple[str | int, ...]) -> object:
    """A definite path's value, or _MISSING."""
    for key in keys:
        if type(key) is str:
            if not _is_mapping(document):
                return _MISSING
            document = document.get(key, _MISSING)  # type: ignore[attr-defined]
            if document is _MISSING:
                return _MISSING
        elif isinstance(document, (list, tuple)):
            assert isinstance(key, int)
            if not -len(document) <= key < len(document):
                return _MISSING
            document = document[key]
        else:
            return _MISSING
    return document


# ------------------------------------------------------------------------------------------------
# Filter expression nodes (pure Python; built by the parser below)
# ------------------------------------------------------------------------------------------------


class _Ctx:
    __slots__ = ("current", "root")

    def __init__(self, current: object, root: object) -> None:
        self.current = current
        self.root = root


class _Node:
    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def evaluate(self, ctx: _Ctx) -> object:  # pragma: no cover - abstract
        raise NotImplementedError


class _Literal(_Node):
    __slots__ = ("value",)

    def __init__(self, value: object, index: int) -> None:
        super().__init__(index)
        self.value = value

    def evaluate(self, ctx: _Ctx) -> object:
        return self.value


class _Path(_Node):
    """A path inside a filter, with an optional trailing function."""

    __slots__ = ("function", "keys", "path", "prefix_keys", "relative", "steps")

    def __init__(
        self,
        path: JSONPath,
        index: int,
        *,
        relative: bool,
        function: str | None,
    ) -> None:
        super().__init__(index)
        self.path = path
        self.relative = relative
        self.function = function
        self.keys = _singular_keys(path.segments)
        self.prefix_keys = _leading_keys(path.segments)
        self.steps = _plan(path.segments)

    def evaluate(self, ctx: _Ctx) -> object:
        document = ctx.current if self.relative else ctx.root
        if self.keys is not None:
            value = _lookup(document, self.keys)
        elif _lookup(document, self.prefix_keys) is _MISSING or not _is_json(document):
            value = _MISSING
        elif self.steps is not None:
            value = _walk(self.steps, document, ctx.root)
        else:
            value = _resolve(self.path, document, ctx.root)
        if self.function is not None and value is not _MISSING:
            return _apply(self.function, value)
        return value


class _Compare(_Node):
    __slots__ = ("compare", "left", "left_literal", "operator", "right")

    def __init__(self, left: _Node, operator: str, right: _Node, index: int) -> None:
        super().__init__(index)
        self.left, self.operator, self.right = left, operator, right
        self.compare = _OPERATORS[operator]
        self.left_literal = isinstance(left, _Literal) and type(left.value) is _LiteralList

    def evaluate(self, ctx: _Ctx) -> bool:
        return self.compare(self.left.evaluate(ctx), self.right.evaluate(ctx), self.left_literal)


class _Exists(_Node):
    __slots__ = ("operand",)

    def __init__(self, operand: _Path) -> None:
        super().__init__(operand.index)
        self.operand = operand

    def evaluate(self, ctx: _Ctx) -> bool:
        return self.operand.evaluate(ctx) is not _MISSING


class _Not(_Node):
    __slots__ = ("operand",)

    def __init__(self, operand: _Node, index: int) -> None:
        super().__init__(index)
        self.operand = operand

    def evaluate(self, ctx: _Ctx) -> bool:
        return not self.operand.evaluate(ctx)


class _Logical(_Node):
    __slots__ = ("left", "operator", "right")

    def __init__(self, left: _Node, operator: str, right: _Node, index: int) -> None:
        super().__init__(index)
        self.left, self.operator, self.right = left, operator, right

    def evaluate(self, ctx: _Ctx) -> bool:
        if self.operator == "&&":
            return bool(self.left.evaluate(ctx)) and bool(self.right.evaluate(ctx))
        return bool(self.left.evaluate(ctx)) or bool(self.right.evaluate(ctx))


_OPERANDS: Final = (_Literal, _Path)


def _condition(node: _Node) -> _Node:
    """``node`` where a condition is expected: paths become existence tests, literals are refused."""
    if isinstance(node, _Path):
        if node.keys is None:
            raise _Problem(
                "an existence test needs a definite path (Jayway answers true for any indefinite "
                "path, even one that selects nothing); compare it, or filter with it instead",
                node.index,
                unsupported=True,
            )
        return _Exists(node)
    if isinstance(node, _Literal):
        raise _Problem("a literal must be compared with something", node.index)
    return node


def _accept(condition: _Node, candidate: object, root: object) -> bool:
    try:
        return bool(condition.evaluate(_Ctx(candidate, root)))
    except _EvalError:
        return False


def _condition_paths(node: _Node) -> Iterator[_Path]:
    """Paths a condition reads (not those inside nested filters of those paths)."""
    if isinstance(node, _Path):
        yield node
    elif isinstance(node, (_Compare, _Logical)):
        yield from _condition_paths(node.left)
        yield from _condition_paths(node.right)
    elif isinstance(node, (_Not, _Exists)):
        yield from _condition_paths(node.operand)


# ------------------------------------------------------------------------------------------------
# Paths (python-jsonpath segments)
# ------------------------------------------------------------------------------------------------


def _singular_keys(segments: Sequence[JSONPathSegment]) -> tuple[str | int, ...] | None:
    """Keys of a definite path (names and indices only), else None."""
    keys = _leading_keys(segments)
    return keys if len(keys) == len(segments) else None


def _leading_keys(segments: Sequence[JSONPathSegment]) -> tuple[str | int, ...]:
    from jsonpath.segments import JSONPathChildSegment
    from jsonpath.selectors import IndexSelector, NameSelector

    keys: list[str | int] = []
    for segment in segments:
        if type(segment) is not JSONPathChildSegment or len(segment.selectors) != 1:
            break
        selector = segment.selectors[0]
        if isinstance(selector, NameSelector):
            keys.append(selector.name)
        elif isinstance(selector, IndexSelector):
            keys.append(selector.index)
        else:
            break
    return tuple(keys)


def _resolve(path: JSONPath, document: object, root: object) -> list[object]:
    """Values ``path`` selects from ``document``; ``$`` in nested filters stays ``root``."""
    from jsonpath.match import JSONPathMatch

    nodes: Iterable[JSONPathMatch] = [
        JSONPathMatch(filter_context={}, obj=document, parent=None, path="$", parts=(), root=root)  # type: ignore[arg-type]
    ]
    for segment in path.segments:
        nodes = segment.resolve(nodes)
    return [node.obj for node in nodes]


_NAME, _INDEX, _WILDCARD, _SLICE, _FILTER = range(5)
_Step = tuple[int, Any]


def _plan(segments: Sequence[JSONPathSegment]) -> tuple[_Step, ...] | None:
    """The path as simple steps when it has only child segments with one selector each.

    Such paths (the usual ones: names, indices, ``*``, slices, filters) are walked by
    ``_walk`` without python-jsonpath's match objects; others are resolved by python-jsonpath.
    """
    from jsonpath.segments import JSONPathChildSegment
    from jsonpath.selectors import IndexSelector, NameSelector, SliceSelector, WildcardSelector

    steps: list[_Step] = []
    for segment in segments:
        if type(segment) is not JSONPathChildSegment or len(segment.selectors) != 1:
            return None
        selector = segment.selectors[0]
        if isinstance(selector, NameSelector):
            steps.append((_NAME, selector.name))
        elif isinstance(selector, IndexSelector):
            steps.append((_INDEX, selector.index))
        elif isinstance(selector, WildcardSelector):
            steps.append((_WILDCARD, None))
        elif isinstance(selector, SliceSelector):
            steps.append((_SLICE, selector.slice))
        elif _is_filter(selector):
            steps.append((_FILTER, (selector.condition, selector.upstream_definite)))  # type: ignore[attr-defined]
        else:  # pragma: no cover - the parser admits no other selector
            return None
    return tuple(steps)


def _walk(steps: tuple[_Step, ...], document: object, root: object) -> list[object]:  # noqa: PLR0912
    """What a planned path selects from ``document`` (Jayway semantics for filters)."""
    nodes = [document]
    for kind, arg in steps:
        found: list[object] = []
        for node in nodes:
            if kind == _NAME:
                if _is_mapping(node):
                    value = node.get(arg, _MISSING)  # type: ignore[attr-defined]
                    if value is not _MISSING:
                        found.append(value)
            elif kind == _INDEX:
                if isinstance(node, (list, tuple)) and -len(node) <= arg < len(node):
                    found.append(node[arg])
            elif kind == _WILDCARD:
                if _is_mapping(node):
                    found.extend(node.values())  # type: ignore[attr-defined]
                elif isinstance(node, (list, tuple)):
                    found.extend(node)
            elif kind == _SLICE:
                if isinstance(node, (list, tuple)):
                    found.extend(node[arg])
            else:
                condition, upstream_definite = arg
                if _is_mapping(node):  # Jayway: a filter on an object tests the object
                    if _accept(condition, node, root):
                        found.append(node)
                elif isinstance(node, (list, tuple)):
                    found.extend(item for item in node if _accept(condition, item, root))
                elif upstream_definite:
                    raise _EvalError("a filter cannot be applied to a primitive")
        nodes = found
    return nodes


def _is_filter(selector: JSONPathSelector) -> bool:
    return isinstance(getattr(selector, "condition", None), _Node)


# ------------------------------------------------------------------------------------------------
# Compiled filters and the public API
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class CompiledFilter:
    """A parsed filter, reusable across payloads and threads."""

    expression: str
    path: JSONPath
    """The path without a trailing function."""
    function: str | None = None
    _keys: tuple[str | int, ...] | None = None
    _steps: tuple[_Step, ...] | None = None

    def select(self, payload: object) -> list[object]:
        """The nodes the expression selects (Jayway semantics)."""
        if not _is_json(payload):
            return []
        try:
            if self._keys is not None:
                value = _lookup(payload, self._keys)
                if value is _MISSING:
                    return []
                return [_apply(self.function, value) if self.function else value]
            if self._steps is not None:
                return _walk(self._steps, payload, payload)
            return _resolve(self.path, payload, payload)
        except _EVALUATION_ERRORS:  # Jayway throws: the event is not delivered
            return []

    def matches(self, payload: object) -> bool:
        """True when the expression selects something: SailPoint then delivers the event."""
        return bool(self.select(payload))

    def paths_exist(self, payload: object) -> bool:
        """True when the path prefix and every path read by the first filter find something.

        A filter's condition is ignored here: only whether the fields it reads are present.
        Relative (``@``) paths count as present when some candidate node has them.
        """
        if not _is_json(payload):
            return False
        prefix_nodes = _prefix_nodes(self.path, payload, payload)
        if not prefix_nodes:
            return False
        if _first_filter_scans(self.path):
            prefix_nodes = [node for start in prefix_nodes for node in _descendants(start)]
        candidates = [child for node in prefix_nodes for child in _filter_candidates(node)]
        for operand in _filter_paths(self.path):
            if operand.relative:
                if not any(_prefix_nodes(operand.path, c, payload) for c in candidates):
                    return False
            elif not _prefix_nodes(operand.path, payload, payload):
                return False
        return True


@functools.lru_cache(maxsize=512)
def compile_filter(expression: str) -> CompiledFilter:
    """Parse a filter once; raises ``FilterSyntaxError`` or ``UnsupportedFilterError``."""
    from jsonpath.exceptions import JSONPathError

    if not isinstance(expression, str):
        raise FilterSyntaxError("filter must be a string", str(expression), None)
    offset = len(expression) - len(expression.lstrip())
    text = expression.strip()  # Jayway trims the expression before compiling it
    if not text:
        raise FilterSyntaxError("filter is empty", expression, 0)
    shift = 0
    if text[0] == "@":  # Jayway reads a leading '@' as the document, like '$'
        text = "$" + text[1:]
    elif text[0] != "$":  # Jayway prepends '$.' to anything else
        text, shift = "$." + text, 2

    def position(index: int) -> int:
        index = len(text) if index < 0 else index
        return offset + max(0, index - shift)

    try:
        segments, function = _jayway().parse(text)
    except _Problem as problem:
        kind = UnsupportedFilterError if problem.unsupported else FilterSyntaxError
        raise kind(problem.message, expression, position(problem.index)) from None
    except JSONPathError as err:
        token = err.token
        where = None
        if token is not None:  # string and regex tokens hold their inner text: point at the quote
            where = position(token.index - (token.kind in _QUOTED_KINDS))
        raise FilterSyntaxError(str(err.message), expression, where) from None
    except RecursionError:
        raise FilterSyntaxError("filter nests too deeply", expression, None) from None

    from jsonpath import JSONPath

    path = JSONPath(env=_jayway().env, segments=segments)
    keys = _singular_keys(path.segments)
    if function is not None and keys is None:
        raise UnsupportedFilterError(
            f"function '{function.value}()' after a path that can select several nodes",
            expression,
            position(function.index),
        )
    return CompiledFilter(
        expression=expression,
        path=path,
        function=function.value if function is not None else None,
        _keys=keys,
        _steps=_plan(path.segments),
    )


def matches(expression: str, payload: object) -> bool:
    """True when the filter selects something in the payload (SailPoint delivers the event)."""
    return compile_filter(expression).matches(payload)


def validate_filter(expression: str, payload: object) -> FilterVerdict:
    """SailPoint's validate-filter verdict; unsupported syntax raises ``UnsupportedFilterError``."""
    try:
        compiled = compile_filter(expression)
    except FilterSyntaxError as err:
        return FilterVerdict(False, False, False, error=str(err), position=err.position)
    return FilterVerdict(
        is_valid=compiled.matches(payload),
        is_valid_json_path=True,
        is_path_exist=compiled.paths_exist(payload),
    )


def _prefix_nodes(path: JSONPath, data: object, root: object) -> list[object]:
    """Nodes selected by the part of ``path`` before its first filter."""
    from jsonpath import JSONPath

    prefix = []
    for segment in path.segments:
        if any(_is_filter(selector) for selector in segment.selectors):
            break
        prefix.append(segment)
    if not _is_json(data):
        return [] if prefix else [data]
    try:
        return _resolve(JSONPath(env=path.env, segments=prefix), data, root)
    except _EvalError:
        return []


def _first_filter_scans(path: JSONPath) -> bool:
    """Whether the first filter of ``path`` is applied by a deep scan (``..[?(...)]``)."""
    from jsonpath.segments import JSONPathRecursiveDescentSegment

    for segment in path.segments:
        if any(_is_filter(selector) for selector in segment.selectors):
            return isinstance(segment, JSONPathRecursiveDescentSegment)
    return False


def _descendants(node: object) -> Iterator[object]:
    """``node`` and every object or array below it, as a deep scan visits them."""
    yield node
    children = node.values() if isinstance(node, Mapping) else node if isinstance(node, (list, tuple)) else ()
    for child in children:
        if _is_json(child):
            yield from _descendants(child)


def _filter_candidates(node: object) -> list[object]:
    """What ``@`` stands for in a filter applied to ``node`` (Jayway: an object is its own)."""
    if _is_mapping(node):
        return [node]
    if isinstance(node, (list, tuple)):
        return list(node)
    return []


def _filter_paths(path: JSONPath) -> Iterator[_Path]:
    """Paths read by the first filter segment of ``path`` (not by nested filters)."""
    for segment in path.segments:
        filters = [selector for selector in segment.selectors if _is_filter(selector)]
        if filters:
            for selector in filters:
                yield from _condition_paths(selector.condition)  # type: ignore[attr-defined]
            return


# ------------------------------------------------------------------------------------------------
# The python-jsonpath lexer and parser, taught Jayway
# ------------------------------------------------------------------------------------------------

_KIND_TSEQ: Final = "TOKEN_TSEQ"
_KIND_TSNE: Final = "TOKEN_TSNE"
_KIND_WORD: Final = "TOKEN_JWORD"
_KIND_LBRACE: Final = "TOKEN_LBRACE"
_KIND_RBRACE: Final = "TOKEN_RBRACE"
_QUOTED_KINDS: Final = frozenset(
    {"TOKEN_DOUBLE_QUOTE_STRING", "TOKEN_SINGLE_QUOTE_STRING", "TOKEN_RE_PATTERN"}
)
_KEY: Final = r"[\u0080-\U0010FFFFa-zA-Z0-9_-]+"
_WORDS: Final = "nin|in|subsetof|anyof|noneof|contains|size|empty|all|exists|type|matches"


class _Jayway:
    """The environment and parser entry point (built once, on first use)."""

    def __init__(self, env: JSONPathEnvironment, parse: Any) -> None:
        self.env = env
        self.parse = parse


def _java_regex(pattern: str, flags: str, index: int) -> re.Pattern[str]:
    """Compile a Jayway ``/pattern/flags`` with Java's defaults, or refuse it."""
    if "&&" in pattern or "[[" in pattern:
        raise _Problem("regular expression uses Java character-class operations", index, unsupported=True)
    python_flags = 0
    if "U" not in flags:
        if "u" not in flags:
            python_flags |= re.ASCII  # Java: ASCII \w \d \s \b and ASCII-only case folding
        elif re.search(r"\\[wWdDsSbB]", pattern):
            raise _Problem("flag 'u' with ASCII character classes", index, unsupported=True)
    for letter, flag in (("i", re.IGNORECASE), ("m", re.MULTILINE), ("s", re.DOTALL), ("x", re.VERBOSE)):
        if letter in flags:
            python_flags |= flag
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return re.compile(pattern, python_flags)
    except (re.error, Warning) as err:
        raise _Problem(
            f"regular expression Python reads differently from Java or not at all: {err}",
            index,
            unsupported=True,
        ) from None


@functools.cache
def _jayway() -> _Jayway:
    from jsonpath import JSONPathEnvironment
    from jsonpath.exceptions import JSONPathError
    from jsonpath.lex import Lexer
    from jsonpath.parse import Parser
    from jsonpath.segments import JSONPathChildSegment, JSONPathRecursiveDescentSegment
    from jsonpath.selectors import (
        IndexSelector,
        JSONPathSelector,
        NameSelector,
        SliceSelector,
        WildcardSelector,
    )
    from jsonpath.stream import TokenStream
    from jsonpath.token import (
        TOKEN_AND,
        TOKEN_COLON,
        TOKEN_COMMA,
        TOKEN_DDOT,
        TOKEN_DOT,
        TOKEN_DOT_PROPERTY,
        TOKEN_DOUBLE_QUOTE_STRING,
        TOKEN_EOF,
        TOKEN_EQ,
        TOKEN_ERROR,
        TOKEN_FALSE,
        TOKEN_FILTER,
        TOKEN_FLOAT,
        TOKEN_GE,
        TOKEN_GT,
        TOKEN_INT,
        TOKEN_LBRACKET,
        TOKEN_LE,
        TOKEN_LPAREN,
        TOKEN_LT,
        TOKEN_NAME,
        TOKEN_NE,
        TOKEN_NIL,
        TOKEN_NOT,
        TOKEN_NULL,
        TOKEN_OR,
        TOKEN_RBRACKET,
        TOKEN_RE,
        TOKEN_RE_FLAGS,
        TOKEN_RE_PATTERN,
        TOKEN_ROOT,
        TOKEN_RPAREN,
        TOKEN_SELF,
        TOKEN_SINGLE_QUOTE_STRING,
        TOKEN_TRUE,
        TOKEN_WHITESPACE,
        TOKEN_WILD,
        Token,
    )

    relational = Parser.PRECEDENCE_RELATIONAL

    class JaywayLexer(Lexer):
        """Jayway's tokens: word operators, ===/!==, /regex/flags; no RFC function syntax."""

        def compile_strict_rules(self) -> re.Pattern[str]:
            rules = [
                (TOKEN_DOUBLE_QUOTE_STRING, self.double_quote_pattern),
                (TOKEN_SINGLE_QUOTE_STRING, self.single_quote_pattern),
                (TOKEN_RE_PATTERN, r"/(?P<G_RE>(?:\\.|[^/\\])*)/(?P<G_RE_FLAGS>[a-zA-Z]*)"),
                (TOKEN_DOT_PROPERTY, rf"(?P<G_DOT>\.)(?P<G_PROP>{_KEY})"),
                (TOKEN_FLOAT, r"-?\d+(?:\.\d+(?:[eE][+-]?\d+)?|[eE][+-]?\d+)"),
                (TOKEN_INT, r"-?\d+"),
                (TOKEN_DDOT, r"\.\."),
                (TOKEN_DOT, r"\."),
                (TOKEN_AND, r"&&"),
                (TOKEN_OR, r"\|\|"),
                (TOKEN_ROOT, r"\$"),
                (TOKEN_SELF, r"@"),
                (TOKEN_WILD, r"\*"),
                (TOKEN_FILTER, r"\?"),
                (TOKEN_TRUE, r"true\b"),
                (TOKEN_FALSE, r"false\b"),
                (TOKEN_NULL, r"null\b"),
                (_KIND_WORD, rf"(?<=[ \t\n\r])(?i:{_WORDS})(?=[ \t\n\r])"),
                (TOKEN_LBRACKET, r"\["),
                (TOKEN_RBRACKET, r"]"),
                (_KIND_LBRACE, r"\{"),
                (_KIND_RBRACE, r"\}"),
                (TOKEN_COMMA, r","),
                (TOKEN_COLON, r":"),
                (_KIND_TSEQ, r"==="),
                (_KIND_TSNE, r"!=="),
                (TOKEN_EQ, r"=="),
                (TOKEN_NE, r"!="),
                (TOKEN_RE, r"=~"),
                (TOKEN_LE, r"<="),
                (TOKEN_GE, r">="),
                (TOKEN_LT, r"<"),
                (TOKEN_GT, r">"),
                (TOKEN_NOT, r"!"),
                (TOKEN_NAME, _KEY),
                (TOKEN_LPAREN, r"\("),
                (TOKEN_RPAREN, r"\)"),
                (TOKEN_WHITESPACE, r"[ \n\t\r]+"),
                (TOKEN_ERROR, r"."),
            ]
            return re.compile("|".join(f"(?P<{kind}>{pattern})" for kind, pattern in rules), re.DOTALL)

    class FunctionSegment(JSONPathChildSegment):
        """A trailing ``.name()``; stripped from the path before it is resolved."""

        def resolve(self, nodes: Iterable[JSONPathMatch]) -> Iterable[JSONPathMatch]:  # pragma: no cover
            raise AssertionError("path functions are applied by the filter module")

    class JaywayFilter(JSONPathSelector):
        """``[?(...)]``: an object is tested itself, an array's elements one by one."""

        __slots__ = ("condition", "upstream_definite")

        def __init__(self, *, env: JSONPathEnvironment, token: Token, condition: _Node) -> None:
            super().__init__(env=env, token=token)
            self.condition = condition
            self.upstream_definite = False

        def __str__(self) -> str:
            return f"?({self.token.path})"

        def resolve(self, node: JSONPathMatch) -> Iterable[JSONPathMatch]:
            data = node.obj
            if _is_mapping(data):
                if _accept(self.condition, data, node.root):
                    yield node
            elif isinstance(data, (list, tuple)):
                for index, item in enumerate(data):
                    if _accept(self.condition, item, node.root):
                        child = node.new_child(item, index)
                        node.add_child(child)
                        yield child
            elif self.upstream_definite:
                raise _EvalError("a filter cannot be applied to a primitive")

        async def resolve_async(self, node: JSONPathMatch) -> AsyncIterator[JSONPathMatch]:
            for match in self.resolve(node):
                yield match

    def begins(token: Token) -> int:
        """Where a token begins in the text (string and regex tokens hold their inner text)."""
        quoted = token.kind in (TOKEN_DOUBLE_QUOTE_STRING, TOKEN_SINGLE_QUOTE_STRING, TOKEN_RE_PATTERN)
        return token.index - 1 if quoted else token.index

    def node(expression: object, at: Token) -> _Node:
        if not isinstance(expression, _Node):  # pragma: no cover - every token_map entry is ours
            raise _Problem("unexpected expression", at.index)
        return expression

    class JaywayParser(Parser):
        PRECEDENCES = {  # noqa: RUF012 - python-jsonpath's own class attribute
            TOKEN_AND: Parser.PRECEDENCE_LOGICAL_AND,
            TOKEN_OR: Parser.PRECEDENCE_LOGICAL_OR,
            TOKEN_NOT: Parser.PRECEDENCE_PREFIX,
            TOKEN_RPAREN: Parser.PRECEDENCE_LOWEST,
            **dict.fromkeys(
                (
                    TOKEN_EQ,
                    TOKEN_NE,
                    TOKEN_LT,
                    TOKEN_LE,
                    TOKEN_GT,
                    TOKEN_GE,
                    TOKEN_RE,
                    _KIND_TSEQ,
                    _KIND_TSNE,
                    _KIND_WORD,
                ),
                relational,
            ),
        }
        BINARY_OPERATORS = {  # noqa: RUF012
            TOKEN_AND: "&&",
            TOKEN_OR: "||",
            TOKEN_EQ: "==",
            TOKEN_NE: "!=",
            TOKEN_LT: "<",
            TOKEN_LE: "<=",
            TOKEN_GT: ">",
            TOKEN_GE: ">=",
            TOKEN_RE: "=~",
            _KIND_TSEQ: "===",
            _KIND_TSNE: "!==",
            _KIND_WORD: "word",
        }

        def __init__(self, *, env: JSONPathEnvironment) -> None:
            super().__init__(env=env)
            self.token_map = {
                TOKEN_DOUBLE_QUOTE_STRING: self.parse_string_literal,
                TOKEN_SINGLE_QUOTE_STRING: self.parse_string_literal,
                TOKEN_INT: self.parse_integer_literal,
                TOKEN_FLOAT: self.parse_float_literal,
                TOKEN_TRUE: self.parse_boolean,
                TOKEN_FALSE: self.parse_boolean,
                TOKEN_NIL: self.parse_nil,
                TOKEN_LBRACKET: self.parse_list_literal,
                TOKEN_RE_PATTERN: self.parse_regex,
                TOKEN_ROOT: self.parse_absolute_query,
                TOKEN_SELF: self.parse_relative_query,
                TOKEN_LPAREN: self.parse_grouped_expression,
                TOKEN_NOT: self.parse_prefix_expression,
                _KIND_LBRACE: self.parse_object_literal,
            }

        # Paths ---------------------------------------------------------------------------------

        def parse_query(self, stream: TokenStream) -> Iterator[JSONPathSegment]:
            """Segments up to the end of the path; a trailing ``.fn()`` is a FunctionSegment."""
            while True:
                token = stream.current()
                if token.kind == TOKEN_DOT:
                    stream.next()
                    if stream.current().kind == TOKEN_LBRACKET:  # Jayway reads '.[' as '['
                        yield JSONPathChildSegment(
                            env=self.env, token=token, selectors=tuple(self.parse_bracketed_selection(stream))
                        )
                        continue
                    if stream.current().kind == TOKEN_NAME and stream.peek().kind == TOKEN_LPAREN:
                        yield self.parse_path_function(stream)
                        return
                    yield JSONPathChildSegment(
                        env=self.env, token=token, selectors=(self.parse_shorthand_selector(stream),)
                    )
                elif token.kind == TOKEN_DDOT:
                    stream.next()
                    if stream.current().kind == TOKEN_LBRACKET:
                        selectors = tuple(self.parse_bracketed_selection(stream))
                    else:
                        selectors = (self.parse_shorthand_selector(stream),)
                    yield JSONPathRecursiveDescentSegment(env=self.env, token=token, selectors=selectors)
                elif token.kind == TOKEN_LBRACKET:
                    yield JSONPathChildSegment(
                        env=self.env, token=token, selectors=tuple(self.parse_bracketed_selection(stream))
                    )
                else:
                    return

        def parse_path_function(self, stream: TokenStream) -> FunctionSegment:
            name = stream.next()
            stream.next()  # '('
            stream.skip_whitespace()
            if stream.current().kind != TOKEN_RPAREN:
                raise _Problem(
                    f"arguments to '{name.value}()' are not supported",
                    begins(stream.current()),
                    unsupported=True,
                )
            stream.next()
            if name.value in _UNSUPPORTED_FUNCTIONS:
                raise _Problem(f"function '{name.value}()' is not supported", name.index, unsupported=True)
            if name.value not in _FUNCTIONS:
                raise _Problem(f"function '{name.value}()' does not exist", name.index)
            if stream.current().kind in (TOKEN_DOT, TOKEN_DDOT, TOKEN_LBRACKET):
                raise _Problem("a function must end the path", stream.current().index)
            return FunctionSegment(env=self.env, token=name, selectors=())

        def path(self, stream: TokenStream) -> tuple[list[JSONPathSegment], Token | None]:
            """The segments of a path (root token consumed) and its trailing function token."""
            segments = list(self.parse_query(stream))
            function = None
            if segments and isinstance(segments[-1], FunctionSegment):
                function = segments.pop().token
            definite = True
            for segment in segments:
                for selector in segment.selectors:
                    if isinstance(selector, JaywayFilter):
                        if len(segment.selectors) > 1:
                            raise _Problem("a filter must be alone in its brackets", selector.token.index)
                        selector.upstream_definite = definite and type(segment) is JSONPathChildSegment
                    elif isinstance(selector, SliceSelector):
                        if selector.slice.step is not None:
                            raise _Problem(
                                "slice steps are not supported", selector.token.index, unsupported=True
                            )
                    elif not isinstance(selector, (NameSelector, IndexSelector, WildcardSelector)):
                        raise _Problem(f"unexpected {selector.token.value!r}", selector.token.index)
                definite = definite and (
                    type(segment) is JSONPathChildSegment
                    and len(segment.selectors) == 1
                    and isinstance(segment.selectors[0], (NameSelector, IndexSelector))
                )
            return segments, function

        def operand(self, stream: TokenStream, *, relative: bool) -> _Path:
            from jsonpath import JSONPath

            start = stream.next()
            segments, function = self.path(stream)
            operand = _Path(
                JSONPath(env=self.env, segments=segments),
                start.index,
                relative=relative,
                function=function.value if function is not None else None,
            )
            if function is not None and function.value == "keys":
                raise _Problem(
                    "keys() inside a filter (Jayway cannot turn its Set into a value and fails)",
                    function.index,
                    unsupported=True,
                )
            if function is not None and operand.keys is None:
                raise _Problem(
                    f"function '{function.value}()' after a path that can select several nodes",
                    function.index,
                    unsupported=True,
                )
            return operand

        def parse_absolute_query(self, stream: TokenStream) -> Any:
            return self.operand(stream, relative=False)

        def parse_relative_query(self, stream: TokenStream) -> Any:
            return self.operand(stream, relative=True)

        # Filters -------------------------------------------------------------------------------

        def parse_filter_selector(self, stream: TokenStream, *, keys: bool = False) -> Any:
            token = stream.next()  # '?'
            stream.skip_whitespace()
            if stream.current().kind != TOKEN_LPAREN:
                raise _Problem("a Jayway filter is written [?(...)]: expected '('", begins(stream.current()))
            expression = node(self.parse_filter_expression(stream), token)
            stream.skip_whitespace()
            before = stream.pos - 1
            while before > 0 and stream.tokens[before].kind == TOKEN_WHITESPACE:
                before -= 1
            if stream.tokens[before].kind != TOKEN_RPAREN:
                raise _Problem("a Jayway filter must end with ')' before ']'", begins(stream.current()))
            return JaywayFilter(env=self.env, token=token, condition=_condition(expression))

        def parse_infix_expression(self, stream: TokenStream, left: Any) -> Any:
            token = stream.next()
            if token.kind not in self.BINARY_OPERATORS:
                what = "end of expression" if token.kind == TOKEN_EOF else repr(token.value)
                raise _Problem(f"unexpected {what}", begins(token))
            left_node = node(left, token)
            if token.kind in (TOKEN_AND, TOKEN_OR):
                right = node(self.parse_filter_expression(stream, self.PRECEDENCES[token.kind]), token)
                return _Logical(
                    _condition(left_node), self.BINARY_OPERATORS[token.kind], _condition(right), token.index
                )
            operator = token.value.lower() if token.kind == _KIND_WORD else self.BINARY_OPERATORS[token.kind]
            if operator in _UNSUPPORTED_OPERATORS:
                raise _Problem(f"operator '{token.value}' is not supported", token.index, unsupported=True)
            self.check_operand(left_node, token)
            right = node(self.parse_filter_expression(stream, relational + 1), token)
            self.check_operand(right, token)
            return _Compare(left_node, operator, right, token.index)

        def check_operand(self, operand: _Node, operator: Token) -> None:
            if isinstance(operand, _OPERANDS):
                return
            if isinstance(operand, _Not) and isinstance(operand.operand, _Exists):
                raise _Problem(
                    "'!' in front of a compared path (Jayway ignores it)", operand.index, unsupported=True
                )
            raise _Problem(f"'{operator.value}' needs a path or a value on each side", operator.index)

        def parse_prefix_expression(self, stream: TokenStream) -> Any:
            token = stream.next()
            operand = node(self.parse_filter_expression(stream, self.PRECEDENCE_PREFIX), token)
            return _Not(_condition(operand), token.index)

        # Literals ------------------------------------------------------------------------------

        def parse_string_literal(self, stream: TokenStream) -> Any:
            token = stream.next()
            return _Literal(self.java_string(token), token.index - 1)

        def java_string(self, token: Token) -> str:
            try:
                return _java_unescape(token.value)
            except ValueError as err:
                raise _Problem(str(err), token.index) from None

        def parse_integer_literal(self, stream: TokenStream) -> Any:
            token = stream.next()  # BigDecimal("05").toString() is "5", as str(int("05")) is
            return _Literal(int(token.value), token.index)

        def parse_float_literal(self, stream: TokenStream) -> Any:
            token = stream.next()
            return _Literal(Decimal(token.value), token.index)

        def parse_boolean(self, stream: TokenStream) -> Any:
            token = stream.next()
            return _Literal(token.kind == TOKEN_TRUE, token.index)

        def parse_nil(self, stream: TokenStream) -> Any:
            return _Literal(None, stream.next().index)

        def parse_regex(self, stream: TokenStream) -> Any:
            token = stream.next()
            flags = stream.next().value if stream.current().kind == TOKEN_RE_FLAGS else ""
            return _Literal(_java_regex(token.value, flags, token.index - 1), token.index - 1)

        def parse_object_literal(self, stream: TokenStream) -> Any:
            raise _Problem("JSON object literals are not supported", stream.current().index, unsupported=True)

        def parse_list_literal(self, stream: TokenStream) -> Any:
            start = stream.next()
            items: list[object] = []
            while True:
                stream.skip_whitespace()
                token = stream.current()
                if token.kind == TOKEN_RBRACKET and not items:
                    break
                if token.kind in (TOKEN_DOUBLE_QUOTE_STRING, TOKEN_SINGLE_QUOTE_STRING):
                    items.append(self.java_string(token))
                elif token.kind == TOKEN_INT:
                    items.append(int(token.value))
                elif token.kind == TOKEN_FLOAT:
                    items.append(float(token.value))
                elif token.kind in (TOKEN_TRUE, TOKEN_FALSE):
                    items.append(token.kind == TOKEN_TRUE)
                elif token.kind == TOKEN_NIL:
                    items.append(None)
                elif token.kind in (TOKEN_LBRACKET, _KIND_LBRACE):
                    raise _Problem(
                        "nested arrays and objects in a list are not supported", token.index, unsupported=True
                    )
                elif token.kind == TOKEN_NAME:
                    raise _Problem(
                        "unquoted strings in a list are not supported", token.index, unsupported=True
                    )
                else:
                    what = "end of expression" if token.kind == TOKEN_EOF else repr(token.value)
                    raise _Problem(f"unexpected {what} in a list", begins(token))
                stream.next()
                stream.skip_whitespace()
                if stream.current().kind == TOKEN_RBRACKET:
                    break
                if stream.current().kind != TOKEN_COMMA:
                    raise _Problem("expected ',' or ']' in a list", begins(stream.current()))
                stream.next()
            stream.next()  # ']'
            value = _LiteralList(items)
            value.elements = [_element(item) for item in items]
            return _Literal(value, start.index)

    class JaywayEnvironment(JSONPathEnvironment):
        lexer_class = JaywayLexer
        parser_class = JaywayParser

    global _EVALUATION_ERRORS  # noqa: PLW0603 - set once, with the parser that makes it reachable
    _EVALUATION_ERRORS = (_EvalError, JSONPathError)
    env = JaywayEnvironment(strict=True, filter_caching=False)
    parser = env.parser
    assert isinstance(parser, JaywayParser)

    def parse(text: str) -> tuple[list[JSONPathSegment], Token | None]:
        stream = TokenStream(env.lexer.tokenize(text))
        stream.next()  # '$' (the caller normalised the text)
        segments, function = parser.path(stream)
        if stream.current().kind != TOKEN_EOF:
            token = stream.current()
            raise _Problem(f"unexpected {token.value!r}", begins(token))
        return segments, function

    return _Jayway(env, parse)
