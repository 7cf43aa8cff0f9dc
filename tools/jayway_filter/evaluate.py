"""Compiled filters and the public entry points: compile once, then match events or validate."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from jsonpath import JSONPath
from jsonpath.exceptions import JSONPathError
from jsonpath.segments import JSONPathRecursiveDescentSegment

from .errors import EvalError, FilterSyntaxError, Problem, UnsupportedFilterError
from .nodes import JaywayFilter, Path, Step, condition_paths, plan, resolve, singular_keys, walk
from .parser import ENV, parse
from .tokens import QUOTED_KINDS
from .values import MISSING, apply, is_json, is_mapping, lookup


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
    missing_path: str | None = None
    """The first path read by the filter that finds nothing in the input (when one does)."""


@dataclass(frozen=True, slots=True, eq=False)
class CompiledFilter:
    """A parsed filter, reusable across payloads and threads."""

    expression: str
    path: JSONPath
    """The path without a trailing function."""
    function: str | None = None
    _keys: tuple[str | int, ...] | None = None
    _steps: tuple[Step, ...] | None = None

    def select(self, payload: object) -> list[object]:
        """The nodes the expression selects (Jayway semantics)."""
        if not is_json(payload):
            return []
        try:
            if self._keys is not None:
                value = lookup(payload, self._keys)
                if value is MISSING:
                    return []
                return [apply(self.function, value) if self.function else value]
            if self._steps is not None:
                return walk(self._steps, payload, payload)
            return resolve(self.path, payload, payload)
        except (EvalError, JSONPathError):  # Jayway throws: the event is not delivered
            return []

    def matches(self, payload: object) -> bool:
        """True when the expression selects something: SailPoint then delivers the event."""
        return bool(self.select(payload))

    def paths_exist(self, payload: object) -> bool:
        """True when the path prefix and every path read by the first filter find something.

        A filter's condition is ignored here: only whether the fields it reads are present.
        Relative (``@``) paths count as present when some candidate node has them.
        """
        return self.missing_path(payload) is None

    def missing_path(self, payload: object) -> str | None:
        """The first path that finds nothing in ``payload`` (as JSONPath text, ``@...`` for a path
        relative to the filtered node), or None when every path exists (see ``paths_exist``)."""
        if not is_json(payload):
            return "$"
        prefix_nodes = _prefix_nodes(self.path, payload, payload)
        if not prefix_nodes:
            return _path_text(_prefix(self.path))
        if _first_filter_scans(self.path):
            prefix_nodes = [node for start in prefix_nodes for node in _descendants(start)]
        candidates = [child for node in prefix_nodes for child in _filter_candidates(node)]
        for operand in _filter_paths(self.path):
            if operand.relative:
                if not any(_prefix_nodes(operand.path, c, payload) for c in candidates):
                    return "@" + _path_text(operand.path)[1:]
            elif not _prefix_nodes(operand.path, payload, payload):
                return _path_text(operand.path)
        return None


def _prefix(path: JSONPath) -> JSONPath:
    """The part of ``path`` before its first filter."""
    prefix = []
    for segment in path.segments:
        if any(isinstance(selector, JaywayFilter) for selector in segment.selectors):
            break
        prefix.append(segment)
    return JSONPath(env=path.env, segments=prefix)


def _path_text(path: JSONPath) -> str:
    """A path as a user reads it, up to its first filter: ``$['identity']['type']``."""
    return str(_prefix(path))


@functools.lru_cache(maxsize=512)
def compile_filter(expression: str) -> CompiledFilter:
    """Parse a filter once; raises ``FilterSyntaxError`` or ``UnsupportedFilterError``."""
    if not isinstance(expression, str):
        raise FilterSyntaxError("filter must be a string", str(expression), None)
    text, offset, shift = _normalise(expression)

    def position(index: int) -> int:
        index = len(text) if index < 0 else index
        return offset + max(0, index - shift)

    try:
        segments, function = parse(text)
    except Problem as problem:
        kind = UnsupportedFilterError if problem.unsupported else FilterSyntaxError
        raise kind(problem.message, expression, position(problem.index)) from None
    except JSONPathError as err:
        token = err.token
        where = None
        if token is not None:  # string and regex tokens hold their inner text: point at the quote
            where = position(token.index - (token.kind in QUOTED_KINDS))
        raise FilterSyntaxError(str(err.message), expression, where) from None
    except RecursionError:
        raise FilterSyntaxError("filter nests too deeply", expression, None) from None

    path = JSONPath(env=ENV, segments=segments)
    keys = singular_keys(path.segments)
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
        _steps=plan(path.segments),
    )


def _normalise(expression: str) -> tuple[str, int, int]:
    """The text Jayway compiles, where it starts in ``expression``, and how much was prepended."""
    offset = len(expression) - len(expression.lstrip())
    text = expression.strip()  # Jayway trims the expression before compiling it
    if not text:
        raise FilterSyntaxError("filter is empty", expression, 0)
    if text[0] == "@":  # Jayway reads a leading '@' as the document, like '$'
        return "$" + text[1:], offset, 0
    if text[0] != "$":  # Jayway prepends '$.' to anything else
        return "$." + text, offset, 2
    return text, offset, 0


def matches(expression: str, payload: object) -> bool:
    """True when the filter selects something in the payload (SailPoint delivers the event)."""
    return compile_filter(expression).matches(payload)


def validate_filter(expression: str, payload: object) -> FilterVerdict:
    """SailPoint's validate-filter verdict; unsupported syntax raises ``UnsupportedFilterError``."""
    try:
        compiled = compile_filter(expression)
    except FilterSyntaxError as err:
        return FilterVerdict(False, False, False, error=str(err), position=err.position)
    missing = compiled.missing_path(payload)
    return FilterVerdict(
        is_valid=compiled.matches(payload),
        is_valid_json_path=True,
        is_path_exist=missing is None,
        missing_path=missing,
    )


def _prefix_nodes(path: JSONPath, data: object, root: object) -> list[object]:
    """Nodes selected by the part of ``path`` before its first filter."""
    prefix = []
    for segment in path.segments:
        if any(isinstance(selector, JaywayFilter) for selector in segment.selectors):
            break
        prefix.append(segment)
    if not is_json(data):
        return [] if prefix else [data]
    try:
        return resolve(JSONPath(env=path.env, segments=prefix), data, root)
    except EvalError:
        return []


def _first_filter_scans(path: JSONPath) -> bool:
    """Whether the first filter of ``path`` is applied by a deep scan (``..[?(...)]``)."""
    for segment in path.segments:
        if any(isinstance(selector, JaywayFilter) for selector in segment.selectors):
            return isinstance(segment, JSONPathRecursiveDescentSegment)
    return False


def _descendants(node: object) -> Iterator[object]:
    """``node`` and every object or array below it, as a deep scan visits them."""
    yield node
    children = node.values() if isinstance(node, Mapping) else node if isinstance(node, (list, tuple)) else ()
    for child in children:
        if is_json(child):
            yield from _descendants(child)


def _filter_candidates(node: object) -> list[object]:
    """What ``@`` stands for in a filter applied to ``node`` (Jayway: an object is its own)."""
    if is_mapping(node):
        return [node]
    if isinstance(node, (list, tuple)):
        return list(node)
    return []


def _filter_paths(path: JSONPath) -> Iterator[Path]:
    """Paths read by the first filter segment of ``path`` (not by nested filters)."""
    for segment in path.segments:
        filters = [selector for selector in segment.selectors if isinstance(selector, JaywayFilter)]
        if filters:
            for selector in filters:
                yield from condition_paths(selector.condition)
            return
