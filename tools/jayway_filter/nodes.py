"""Filter conditions and path walking: what a parsed filter does with a document.

The parser (``parser.py``) builds these nodes; ``evaluate.py`` runs them. Plain paths (names,
indices, ``*``, slices, filters) are walked directly by ``walk``, which is faster than
python-jsonpath's match objects; deep scans and bracket unions are resolved by python-jsonpath,
with ``JaywayFilter`` as the filter selector so that both apply Jayway's filter rule.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any

from jsonpath import JSONPath, JSONPathEnvironment, JSONPathMatch
from jsonpath.segments import JSONPathChildSegment, JSONPathSegment
from jsonpath.selectors import IndexSelector, JSONPathSelector, NameSelector, WildcardSelector
from jsonpath.token import Token

from .errors import EvalError
from .values import MISSING, OPERATORS, LiteralList, LiteralObject, apply, is_json, is_mapping, lookup


class Ctx:
    __slots__ = ("current", "root")

    def __init__(self, current: object, root: object) -> None:
        self.current = current
        self.root = root


class Node:
    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def evaluate(self, ctx: Ctx) -> object:  # pragma: no cover - abstract
        raise NotImplementedError


class Literal(Node):
    __slots__ = ("value",)

    def __init__(self, value: object, index: int) -> None:
        super().__init__(index)
        self.value = value

    def evaluate(self, ctx: Ctx) -> object:
        return self.value


class Path(Node):
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
        self.keys = singular_keys(path.segments)
        self.prefix_keys = leading_keys(path.segments)
        self.steps = plan(path.segments)

    def evaluate(self, ctx: Ctx) -> object:
        document = ctx.current if self.relative else ctx.root
        if self.keys is not None:
            value = lookup(document, self.keys)
        elif lookup(document, self.prefix_keys) is MISSING or not is_json(document):
            value = MISSING
        elif self.steps is not None:
            value = walk(self.steps, document, ctx.root)
        else:
            value = resolve(self.path, document, ctx.root)
        if self.function is not None and value is not MISSING:
            return apply(self.function, value)
        return value


class Compare(Node):
    __slots__ = ("compare", "left", "left_literal", "operator", "right")

    def __init__(self, left: Node, operator: str, right: Node, index: int) -> None:
        super().__init__(index)
        self.left, self.operator, self.right = left, operator, right
        self.compare = OPERATORS[operator]
        self.left_literal = isinstance(left, Literal) and type(left.value) in (LiteralList, LiteralObject)

    def evaluate(self, ctx: Ctx) -> bool:
        return self.compare(self.left.evaluate(ctx), self.right.evaluate(ctx), self.left_literal)


class Exists(Node):
    __slots__ = ("operand",)

    def __init__(self, operand: Path) -> None:
        super().__init__(operand.index)
        self.operand = operand

    def evaluate(self, ctx: Ctx) -> bool:
        return self.operand.evaluate(ctx) is not MISSING


class IndefiniteExists(Node):
    """An existence test of an indefinite path, as Jayway runs it: with ``REQUIRE_PROPERTIES``.

    True unless a property the path names is missing from an object it reaches (or a name or an
    index is applied to a non-object/non-array while the path before is definite): Jayway then
    throws PathNotFoundException. Selecting nothing is still true (``@.a.*`` on ``{"a": 0}``). A
    trailing deep scan (``@..child``) never throws.
    """

    __slots__ = ("operand", "steps")

    def __init__(self, operand: Path, steps: tuple[Step, ...]) -> None:
        super().__init__(operand.index)
        self.operand = operand
        self.steps = steps

    def evaluate(self, ctx: Ctx) -> bool:
        document = ctx.current if self.operand.relative else ctx.root
        return strict_walk(self.steps, document, ctx.root)


class Not(Node):
    __slots__ = ("operand",)

    def __init__(self, operand: Node, index: int) -> None:
        super().__init__(index)
        self.operand = operand

    def evaluate(self, ctx: Ctx) -> bool:
        return not self.operand.evaluate(ctx)


class Logical(Node):
    __slots__ = ("left", "operator", "right")

    def __init__(self, left: Node, operator: str, right: Node, index: int) -> None:
        super().__init__(index)
        self.left, self.operator, self.right = left, operator, right

    def evaluate(self, ctx: Ctx) -> bool:
        if self.operator == "&&":
            return bool(self.left.evaluate(ctx)) and bool(self.right.evaluate(ctx))
        return bool(self.left.evaluate(ctx)) or bool(self.right.evaluate(ctx))


def accept(condition: Node, candidate: object, root: object) -> bool:
    try:
        return bool(condition.evaluate(Ctx(candidate, root)))
    except EvalError:
        return False


def condition_paths(node: Node) -> Iterator[Path]:
    """Paths a condition reads (not those inside nested filters of those paths)."""
    if isinstance(node, Path):
        yield node
    elif isinstance(node, (Compare, Logical)):
        yield from condition_paths(node.left)
        yield from condition_paths(node.right)
    elif isinstance(node, (Not, Exists, IndefiniteExists)):
        yield from condition_paths(node.operand)


# ------------------------------------------------------------------------------------------------
# Paths (python-jsonpath segments)
# ------------------------------------------------------------------------------------------------


def singular_keys(segments: Sequence[JSONPathSegment]) -> tuple[str | int, ...] | None:
    """Keys of a definite path (names and indices only), else None."""
    keys = leading_keys(segments)
    return keys if len(keys) == len(segments) else None


def leading_keys(segments: Sequence[JSONPathSegment]) -> tuple[str | int, ...]:
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


def resolve(path: JSONPath, document: object, root: object) -> list[object]:
    """Values ``path`` selects from ``document``; ``$`` in nested filters stays ``root``."""
    nodes: Iterable[JSONPathMatch] = [
        JSONPathMatch(filter_context={}, obj=document, parent=None, path="$", parts=(), root=root)  # type: ignore[arg-type] # a JSON container
    ]
    for segment in path.segments:
        nodes = segment.resolve(nodes)
    return [node.obj for node in nodes]


_NAME, _INDEX, _WILDCARD, _SLICE, _FILTER = range(5)
Step = tuple[int, Any]


def plan(segments: Sequence[JSONPathSegment]) -> tuple[Step, ...] | None:
    """The path as simple steps when it has only child segments with one selector each.

    Such paths (the usual ones: names, indices, ``*``, slices, filters) are walked by
    ``walk`` without python-jsonpath's match objects; others are resolved by python-jsonpath.
    """
    steps: list[Step] = []
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
        elif isinstance(selector, JaywaySlice):
            steps.append((_SLICE, selector))
        elif isinstance(selector, JaywayFilter):
            steps.append((_FILTER, (selector.condition, selector.upstream_definite)))
        else:  # pragma: no cover - the parser admits no other selector
            return None
    return tuple(steps)


def walk(steps: tuple[Step, ...], document: object, root: object) -> list[object]:  # noqa: PLR0912
    """What a planned path selects from ``document`` (Jayway semantics for filters)."""
    nodes = [document]
    for kind, arg in steps:
        found: list[object] = []
        for node in nodes:
            if kind == _NAME:
                if is_mapping(node):
                    value = node.get(arg, MISSING)
                    if value is not MISSING:
                        found.append(value)
            elif kind == _INDEX:
                if isinstance(node, (list, tuple)) and -len(node) <= arg < len(node):
                    found.append(node[arg])
            elif kind == _WILDCARD:
                if is_mapping(node):
                    found.extend(node.values())
                elif isinstance(node, (list, tuple)):
                    found.extend(node)
            elif kind == _SLICE:
                if isinstance(node, (list, tuple)):
                    found.extend(node[index] for index in arg.indices(len(node)))
            else:
                condition, upstream_definite = arg
                if is_mapping(node):  # Jayway: a filter on an object tests the object
                    if accept(condition, node, root):
                        found.append(node)
                elif isinstance(node, (list, tuple)):
                    found.extend(item for item in node if accept(condition, item, root))
                elif upstream_definite:
                    raise EvalError("a filter cannot be applied to a primitive")
        nodes = found
    return nodes


def strict_walk(steps: tuple[Step, ...], document: object, root: object) -> bool:
    """Whether Jayway's walk with ``REQUIRE_PROPERTIES`` gets through ``steps`` without throwing."""
    nodes, definite = [document], True
    for kind, arg in steps:
        if kind == _NAME:
            if any(arg not in node for node in nodes if is_mapping(node)):
                return False
            if definite and not all(is_mapping(node) for node in nodes):
                return False
        elif kind in (_INDEX, _SLICE) and definite and not all(isinstance(n, (list, tuple)) for n in nodes):
            return False
        nodes = [found for node in nodes for found in walk(((kind, arg),), node, root)]
        definite = definite and kind in (_NAME, _INDEX)
    return True


class FunctionSegment(JSONPathChildSegment):
    """A trailing ``.name()``; stripped from the path before it is resolved."""

    def resolve(self, nodes: Iterable[JSONPathMatch]) -> Iterable[JSONPathMatch]:  # pragma: no cover
        raise AssertionError("path functions are applied by the filter module")


class JaywayFilter(JSONPathSelector):
    """``[?(...)]``: an object is tested itself, an array's elements one by one."""

    __slots__ = ("condition", "upstream_definite")

    def __init__(self, *, env: JSONPathEnvironment, token: Token, condition: Node) -> None:
        super().__init__(env=env, token=token)
        self.condition = condition
        self.upstream_definite = False

    def __str__(self) -> str:
        return f"?({self.token.path})"

    def resolve(self, node: JSONPathMatch) -> Iterable[JSONPathMatch]:
        data = node.obj
        if is_mapping(data):
            if accept(self.condition, data, node.root):
                yield node
        elif isinstance(data, (list, tuple)):
            for index, item in enumerate(data):
                if accept(self.condition, item, node.root):
                    child = node.new_child(item, index)
                    node.add_child(child)
                    yield child
        elif self.upstream_definite:
            raise EvalError("a filter cannot be applied to a primitive")

    async def resolve_async(self, node: JSONPathMatch) -> AsyncIterator[JSONPathMatch]:
        for match in self.resolve(node):
            yield match


class JaywaySlice(JSONPathSelector):
    """``[from:to]`` as Jayway's ArraySliceToken runs it (a step, if written, is ignored).

    ``[from:]`` counts a negative start from the end; ``[:to]`` a negative end. ``[from:to]`` with
    both does not: it visits ``from`` up to ``min(to, length)``, and each negative index counts from
    the end, so ``[-4:1]`` on six elements selects the elements 2, 3, 4, 5 and 0.
    """

    __slots__ = ("start", "stop")

    def __init__(
        self, *, env: JSONPathEnvironment, token: Token, start: int | None, stop: int | None
    ) -> None:
        super().__init__(env=env, token=token)
        self.start = start
        self.stop = stop

    def __str__(self) -> str:
        return f"{'' if self.start is None else self.start}:{'' if self.stop is None else self.stop}"

    def indices(self, length: int) -> list[int]:
        """The indices this slice selects in an array of ``length`` elements, in order."""
        if length == 0:
            return []
        if self.stop is None:
            assert self.start is not None
            start = self.start + length if self.start < 0 else self.start
            return list(range(max(0, start), length))
        if self.start is None:
            stop = self.stop + length if self.stop < 0 else self.stop
            return list(range(min(length, stop)))
        stop = min(length, self.stop)
        # negative indices (before 0) count from the end; out-of-range ones select nothing
        before_zero = range(max(self.start, -length) + length, min(stop, 0) + length)
        from_zero = range(max(self.start, 0), stop)
        return [*before_zero, *from_zero]

    def resolve(self, node: JSONPathMatch) -> Iterable[JSONPathMatch]:
        data = node.obj
        if isinstance(data, (list, tuple)):
            for index in self.indices(len(data)):
                child = node.new_child(data[index], index)
                node.add_child(child)
                yield child

    async def resolve_async(self, node: JSONPathMatch) -> AsyncIterator[JSONPathMatch]:
        for match in self.resolve(node):
            yield match
