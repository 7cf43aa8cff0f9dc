"""Subscription filters: SailPoint's Jayway JsonPath dialect, evaluated with python-jsonpath.

SailPoint decides whether a subscription receives an event by running its filter over the
trigger input: a non-empty result is a match. python-jsonpath follows RFC 9535, which differs
from Jayway in one way that matters for every SailPoint example: Jayway applies a filter to an
*object* by testing the object itself (``$[?($.a == 1)]`` selects the root when ``a`` is 1),
where RFC 9535 tests each member value. The parser is therefore given a filter selector with
Jayway's behaviour; everything else (paths, comparisons, ``&&``, ``||``, ``!``, existence tests)
is python-jsonpath's RFC 9535 strict mode, which agrees with Jayway on it.

Jayway syntax this first version does not evaluate (``in``, ``nin``, ``subsetof``, ``anyof``,
``noneof``, ``size``, ``empty``, ``=~``, path functions such as ``.length()``) raises
``UnsupportedFilterError`` instead of being evaluated by different rules.

Known gap: Jayway compares a number and a numeric string as equal (``1 == "1"``); RFC 9535,
and so this module, does not.

python-jsonpath is imported inside functions: this module ships in the Lambda layer, which does
not bundle it, and importing the module must not fail there.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jsonpath import JSONPath, JSONPathEnvironment, JSONPathMatch
    from jsonpath.filter import BaseExpression
    from jsonpath.token import Token

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

# Jayway operators written as words; python-jsonpath lexes them as plain names.
_JAYWAY_WORD_OPERATORS = frozenset({"in", "nin", "subsetof", "anyof", "noneof", "size", "empty", "contains"})

# Token kinds (python-jsonpath's non-strict lexer) for syntax this module evaluates.
_SUPPORTED_TOKENS = frozenset(
    {
        "TOKEN_ROOT",
        "TOKEN_SELF",
        "TOKEN_DOT",
        "TOKEN_DDOT",
        "TOKEN_NAME",
        "TOKEN_DOT_PROPERTY",
        "TOKEN_WILD",
        "TOKEN_LBRACKET",
        "TOKEN_RBRACKET",
        "TOKEN_COMMA",
        "TOKEN_COLON",
        "TOKEN_INT",
        "TOKEN_FLOAT",
        "TOKEN_DOUBLE_QUOTE_STRING",
        "TOKEN_SINGLE_QUOTE_STRING",
        "TOKEN_FILTER",
        "TOKEN_LPAREN",
        "TOKEN_RPAREN",
        "TOKEN_EQ",
        "TOKEN_NE",
        "TOKEN_LT",
        "TOKEN_LE",
        "TOKEN_GT",
        "TOKEN_GE",
        "TOKEN_AND",
        "TOKEN_OR",
        "TOKEN_NOT",
        "TOKEN_TRUE",
        "TOKEN_FALSE",
        "TOKEN_NULL",
        "TOKEN_NIL",  # the permissive lexer's name for null; the strict parser rejects nil and None
        "TOKEN_WHITESPACE",
        "TOKEN_EOF",
    }
)


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
    """Valid Jayway syntax that this module does not evaluate yet (never evaluated by other rules)."""


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


@dataclass(frozen=True, slots=True, eq=False)
class CompiledFilter:
    """A parsed filter, reusable across payloads and threads."""

    expression: str
    path: JSONPath

    def select(self, payload: object) -> list[object]:
        """The nodes the expression selects (Jayway semantics)."""
        if not isinstance(payload, (Mapping, Sequence)) or isinstance(payload, str):
            return []
        return self.path.findall(payload)

    def matches(self, payload: object) -> bool:
        """True when the expression selects something: SailPoint then delivers the event."""
        return bool(self.select(payload))

    def paths_exist(self, payload: object) -> bool:
        """True when the path prefix and every query inside the top filters find something.

        A filter's condition is ignored here: only whether the fields it reads are present.
        Relative (``@``) queries count as present when some candidate node has them.
        """
        from jsonpath.filter import RelativeFilterQuery, RootFilterQuery

        if not isinstance(payload, (Mapping, Sequence)) or isinstance(payload, str):
            return False
        prefix_nodes = _prefix_nodes(self.path, payload)
        if not prefix_nodes:
            return False
        candidates = [child for node in prefix_nodes for child in _filter_candidates(node)]
        for query in _filter_queries(self.path):
            if isinstance(query, RootFilterQuery) and not _prefix_nodes(query.path, payload):
                return False
            if isinstance(query, RelativeFilterQuery) and not any(
                _prefix_nodes(query.path, candidate) for candidate in candidates
            ):
                return False
        return True


@functools.lru_cache(maxsize=512)
def compile_filter(expression: str) -> CompiledFilter:
    """Parse a filter once; raises ``FilterSyntaxError`` or ``UnsupportedFilterError``."""
    from jsonpath import JSONPath
    from jsonpath.exceptions import JSONPathError

    if not isinstance(expression, str):
        raise FilterSyntaxError("filter must be a string", str(expression), None)
    offset = len(expression) - len(expression.lstrip())
    text = expression.strip()  # Jayway trims the expression before compiling it
    if not text:
        raise FilterSyntaxError("filter is empty", expression, 0)
    _reject_unsupported(text, expression, offset)
    try:
        path = _environment().compile(text)
    except JSONPathError as err:
        position = err.token.index + offset if err.token is not None else None
        raise FilterSyntaxError(str(err.message), expression, position) from None
    if not isinstance(path, JSONPath):  # a union or intersection of paths: not Jayway
        raise UnsupportedFilterError("compound paths are not supported", expression, None)
    return CompiledFilter(expression=expression, path=path)


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


def _reject_unsupported(text: str, expression: str, offset: int) -> None:
    """Raise for Jayway syntax outside this module's supported subset, before parsing."""
    from jsonpath.exceptions import JSONPathError

    try:
        tokens: list[Token] = list(_scanner().lexer.tokenize(text))
    except JSONPathError:
        return  # the parser reports the syntax error with its position
    previous: Token | None = None
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        word = token.value if token.kind == "TOKEN_NAME" else ""
        if token.kind not in _SUPPORTED_TOKENS and token.kind != "TOKEN_ERROR":
            raise UnsupportedFilterError(
                f"'{token.value}' is not supported yet", expression, token.index + offset
            )
        if word in _JAYWAY_WORD_OPERATORS and previous is not None and previous.kind == "TOKEN_WHITESPACE":
            raise UnsupportedFilterError(
                f"operator '{word}' is not supported yet", expression, token.index + offset
            )
        if word and following is not None and following.kind == "TOKEN_LPAREN":
            raise UnsupportedFilterError(
                f"function '{word}()' is not supported yet", expression, token.index + offset
            )
        previous = token


def _prefix_nodes(path: JSONPath, data: object) -> list[object]:
    """Nodes selected by the part of ``path`` before its first filter."""
    from jsonpath import JSONPath
    from jsonpath.selectors import Filter

    prefix = []
    for segment in path.segments:
        if any(isinstance(selector, Filter) for selector in segment.selectors):
            break
        prefix.append(segment)
    if not isinstance(data, (Mapping, Sequence)) or isinstance(data, str):
        return [] if prefix else [data]
    return JSONPath(env=path.env, segments=prefix).findall(data)


def _filter_candidates(node: object) -> list[object]:
    """What ``@`` stands for in a filter applied to ``node`` (Jayway: an object is its own)."""
    if isinstance(node, Mapping):
        return [node]
    if isinstance(node, Sequence) and not isinstance(node, str):
        return list(node)
    return []


def _filter_queries(path: JSONPath) -> Iterator[BaseExpression]:
    """Queries inside the first filter segment of ``path`` (not inside nested filters)."""
    from jsonpath.filter import FilterQuery
    from jsonpath.selectors import Filter

    def walk(expression: BaseExpression) -> Iterator[BaseExpression]:
        if isinstance(expression, FilterQuery):
            yield expression
            return
        for child in expression.children():
            yield from walk(child)

    for segment in path.segments:
        filters = [selector for selector in segment.selectors if isinstance(selector, Filter)]
        if filters:
            for selector in filters:
                yield from walk(selector.expression)
            return


@functools.cache
def _scanner() -> JSONPathEnvironment:
    """A permissive lexer, used only to name unsupported Jayway syntax precisely."""
    from jsonpath import JSONPathEnvironment

    return JSONPathEnvironment(strict=False)


@functools.cache
def _environment() -> JSONPathEnvironment:
    """RFC 9535 strict parsing with Jayway's filter-on-object semantics."""
    from jsonpath import JSONPathEnvironment
    from jsonpath.parse import Parser
    from jsonpath.selectors import Filter, FilterContext, KeysFilter
    from jsonpath.stream import TokenStream

    class JaywayFilter(Filter):
        """Jayway: a filter applied to an object tests the object itself, not its members."""

        def resolve(self, node: JSONPathMatch) -> Iterable[JSONPathMatch]:
            if not isinstance(node.obj, Mapping):
                yield from super().resolve(node)
                return
            context = FilterContext(
                env=self.env,
                current=node.obj,
                root=node.root,
                extra_context=node.filter_context(),
            )
            if self.expression.evaluate(context):
                yield node

    class JaywayParser(Parser):
        def parse_filter_selector(self, stream: TokenStream, *, keys: bool = False) -> Filter | KeysFilter:
            selector = super().parse_filter_selector(stream, keys=keys)
            if isinstance(selector, KeysFilter):
                return selector
            return JaywayFilter(env=self.env, token=selector.token, expression=selector.expression)

    class JaywayEnvironment(JSONPathEnvironment):
        parser_class = JaywayParser

    return JaywayEnvironment(strict=True)
