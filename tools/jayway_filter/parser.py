"""Jayway's grammar on python-jsonpath's Pratt parser: paths, ``[?(...)]`` filters, literals.

``parse`` turns a normalised expression (starting with ``$``) into python-jsonpath segments,
whose filter selectors are ``JaywayFilter``s holding the condition nodes of ``nodes.py``, and
the token of a trailing path function. Problems are raised as ``Problem`` with their index.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Final

from jsonpath import JSONPath, JSONPathEnvironment
from jsonpath.parse import Parser
from jsonpath.segments import JSONPathChildSegment, JSONPathRecursiveDescentSegment, JSONPathSegment
from jsonpath.selectors import IndexSelector, JSONPathSelector, NameSelector, WildcardSelector
from jsonpath.stream import TokenStream
from jsonpath.token import (
    TOKEN_AND,
    TOKEN_COLON,
    TOKEN_COMMA,
    TOKEN_DDOT,
    TOKEN_DOT,
    TOKEN_DOUBLE_QUOTE_STRING,
    TOKEN_EOF,
    TOKEN_EQ,
    TOKEN_FALSE,
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
    Token,
)

from .errors import Problem
from .nodes import (
    Compare,
    Exists,
    FunctionSegment,
    IndefiniteExists,
    JaywayFilter,
    JaywaySlice,
    Literal,
    Logical,
    Node,
    Not,
    Path,
    Step,
    plan,
)
from .tokens import (
    KIND_ADJACENT_NAME,
    KIND_LBRACE,
    KIND_SCAN_NAME,
    KIND_TSEQ,
    KIND_TSNE,
    KIND_WORD,
    JaywayLexer,
    begins,
)
from .values import (
    FUNCTIONS,
    UNSUPPORTED_FUNCTIONS,
    UNSUPPORTED_OPERATORS,
    LiteralList,
    LiteralObject,
    element,
    java_regex,
    java_unescape,
)

_RELATIONAL: Final = Parser.PRECEDENCE_RELATIONAL
_JSON: Final = json.JSONDecoder()


OPERANDS: Final = (Literal, Path)


def condition(node: Node) -> Node:
    """``node`` where a condition is expected: paths become existence tests, literals are refused."""
    if isinstance(node, Path):
        if node.keys is not None:
            return Exists(node)
        return IndefiniteExists(node, _existence_steps(node))
    if isinstance(node, Literal):
        raise Problem("a literal must be compared with something", node.index)
    return node


def _existence_steps(path: Path) -> tuple[Step, ...]:
    """The steps an indefinite existence test walks: a planned path, or one ending in a deep scan.

    A trailing deep scan with one selector never throws in Jayway (it only visits nodes that have
    what it selects), so it is true once the steps before it are.
    """
    segments = path.path.segments
    scans_last = bool(segments) and type(segments[-1]) is JSONPathRecursiveDescentSegment
    steps = plan(segments[:-1] if scans_last else segments)
    if steps is None or (scans_last and len(segments[-1].selectors) != 1):
        raise Problem(
            "an existence test of a path with unions or inner deep scans is not supported",
            path.index,
            unsupported=True,
        )
    return steps


def node(expression: object, at: Token) -> Node:
    if not isinstance(expression, Node):  # pragma: no cover - every token_map entry is ours
        raise Problem("unexpected expression", at.index)
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
                KIND_TSEQ,
                KIND_TSNE,
                KIND_WORD,
            ),
            _RELATIONAL,
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
        KIND_TSEQ: "===",
        KIND_TSNE: "!==",
        KIND_WORD: "word",
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
            KIND_LBRACE: self.parse_object_literal,
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
            elif token.kind in (KIND_SCAN_NAME, KIND_ADJACENT_NAME):
                yield self.parse_bare_name(stream)
            else:
                return

    def parse_bare_name(self, stream: TokenStream) -> JSONPathSegment:
        """``..name`` (a deep scan), or a name right after ``]`` (Jayway reads ``[0]name`` as ``[0].name``)."""
        token = stream.next()
        if token.kind == KIND_SCAN_NAME:
            name = NameSelector(env=self.env, token=token, name=token.value[2:])
            return JSONPathRecursiveDescentSegment(env=self.env, token=token, selectors=(name,))
        name = NameSelector(env=self.env, token=token, name=token.value)
        return JSONPathChildSegment(env=self.env, token=token, selectors=(name,))

    def parse_path_function(self, stream: TokenStream) -> FunctionSegment:
        name = stream.next()
        stream.next()  # '('
        stream.skip_whitespace()
        if stream.current().kind != TOKEN_RPAREN:
            raise Problem(
                f"arguments to '{name.value}()' are not supported",
                begins(stream.current()),
                unsupported=True,
            )
        stream.next()
        if name.value in UNSUPPORTED_FUNCTIONS:
            raise Problem(f"function '{name.value}()' is not supported", name.index, unsupported=True)
        if name.value not in FUNCTIONS:
            raise Problem(f"function '{name.value}()' does not exist", name.index)
        if stream.current().kind in (TOKEN_DOT, TOKEN_DDOT, TOKEN_LBRACKET):
            raise Problem("a function must end the path", stream.current().index)
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
                        raise Problem("a filter must be alone in its brackets", selector.token.index)
                    selector.upstream_definite = definite and type(segment) is JSONPathChildSegment
                elif not isinstance(selector, (NameSelector, IndexSelector, WildcardSelector, JaywaySlice)):
                    raise Problem(f"unexpected {selector.token.value!r}", selector.token.index)
            _check_union(segment.selectors)
            definite = definite and (
                type(segment) is JSONPathChildSegment
                and len(segment.selectors) == 1
                and isinstance(segment.selectors[0], (NameSelector, IndexSelector))
            )
        return segments, function

    def parse_slice(self, stream: TokenStream) -> Any:
        """``[from:to]`` read as Jayway's ArraySliceOperation reads it: split at ':', two parts used."""
        first = stream.current()
        text = ""
        while stream.current().kind in (TOKEN_INT, TOKEN_COLON):
            text += stream.next().value
        parts = text.split(":")
        while parts and not parts[-1]:  # Java's split drops trailing empty strings
            parts.pop()
        parts += ["", ""]
        start = _java_int(parts[0], first) if parts[0] else None
        stop = _java_int(parts[1], first) if parts[1] else None
        if start is None and stop is None:
            raise Problem(f"a slice needs a start or an end: '{text}'", first.index)
        return JaywaySlice(env=self.env, token=first, start=start, stop=stop)

    def operand(self, stream: TokenStream, *, relative: bool) -> Path:
        start = stream.next()
        segments, function = self.path(stream)
        operand = Path(
            JSONPath(env=self.env, segments=segments),
            start.index,
            relative=relative,
            function=function.value if function is not None else None,
        )
        if function is not None and function.value == "keys":
            raise Problem(
                "keys() inside a filter (Jayway cannot turn its Set into a value and fails)",
                function.index,
                unsupported=True,
            )
        if function is not None and operand.keys is None:
            raise Problem(
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
            raise Problem("a Jayway filter is written [?(...)]: expected '('", begins(stream.current()))
        expression = node(self.parse_filter_expression(stream), token)
        stream.skip_whitespace()
        before = stream.pos - 1
        while before > 0 and stream.tokens[before].kind == TOKEN_WHITESPACE:
            before -= 1
        if stream.tokens[before].kind != TOKEN_RPAREN:
            raise Problem("a Jayway filter must end with ')' before ']'", begins(stream.current()))
        return JaywayFilter(env=self.env, token=token, condition=condition(expression))

    def parse_infix_expression(self, stream: TokenStream, left: Any) -> Any:
        token = stream.next()
        if token.kind not in self.BINARY_OPERATORS:
            what = "end of expression" if token.kind == TOKEN_EOF else repr(token.value)
            raise Problem(f"unexpected {what}", begins(token))
        left_node = node(left, token)
        if token.kind in (TOKEN_AND, TOKEN_OR):
            right = node(self.parse_filter_expression(stream, self.PRECEDENCES[token.kind]), token)
            return Logical(
                condition(left_node), self.BINARY_OPERATORS[token.kind], condition(right), token.index
            )
        operator = token.value.lower() if token.kind == KIND_WORD else self.BINARY_OPERATORS[token.kind]
        if operator in UNSUPPORTED_OPERATORS:
            raise Problem(f"operator '{token.value}' is not supported", token.index, unsupported=True)
        self.check_operand(left_node, token)
        right = node(self.parse_filter_expression(stream, _RELATIONAL + 1), token)
        self.check_operand(right, token)
        return Compare(left_node, operator, right, token.index)

    def check_operand(self, operand: Node, operator: Token) -> None:
        if isinstance(operand, OPERANDS):
            return
        if isinstance(operand, Not) and isinstance(operand.operand, Exists):
            raise Problem(
                "'!' in front of a compared path (Jayway ignores it)", operand.index, unsupported=True
            )
        raise Problem(f"'{operator.value}' needs a path or a value on each side", operator.index)

    def parse_prefix_expression(self, stream: TokenStream) -> Any:
        token = stream.next()
        operand = node(self.parse_filter_expression(stream, self.PRECEDENCE_PREFIX), token)
        return Not(condition(operand), token.index)

    # Literals ------------------------------------------------------------------------------

    def parse_string_literal(self, stream: TokenStream) -> Any:
        token = stream.next()
        return Literal(self.java_string(token), token.index - 1)

    def java_string(self, token: Token) -> str:
        try:
            return java_unescape(token.value)
        except ValueError as err:
            raise Problem(str(err), token.index) from None

    def parse_integer_literal(self, stream: TokenStream) -> Any:
        token = stream.next()  # BigDecimal("05").toString() is "5", as str(int("05")) is
        return Literal(int(token.value), token.index)

    def parse_float_literal(self, stream: TokenStream) -> Any:
        token = stream.next()
        return Literal(Decimal(token.value), token.index)

    def parse_boolean(self, stream: TokenStream) -> Any:
        token = stream.next()
        return Literal(token.kind == TOKEN_TRUE, token.index)

    def parse_nil(self, stream: TokenStream) -> Any:
        return Literal(None, stream.next().index)

    def parse_regex(self, stream: TokenStream) -> Any:
        token = stream.next()
        flags = stream.next().value if stream.current().kind == TOKEN_RE_FLAGS else ""
        return Literal(java_regex(token.value, flags, token.index - 1), token.index - 1)

    def parse_object_literal(self, stream: TokenStream) -> Any:
        """``{...}``: a JSON object, compared structurally like Jayway's JsonNode literal."""
        start = stream.current()
        try:
            value, end = _JSON.raw_decode(start.path, start.index)
        except json.JSONDecodeError as err:
            raise Problem(f"invalid JSON object: {err.msg}", err.pos) from None
        if not isinstance(value, dict):  # pragma: no cover - the text starts with '{'
            raise Problem("expected a JSON object", start.index)
        while stream.current().kind != TOKEN_EOF and stream.current().index < end:
            stream.next()
        return Literal(LiteralObject(value), start.index)

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
            elif token.kind in (TOKEN_LBRACKET, KIND_LBRACE):
                raise Problem(
                    "nested arrays and objects in a list are not supported", token.index, unsupported=True
                )
            elif token.kind == TOKEN_NAME:
                raise Problem("unquoted strings in a list are not supported", token.index, unsupported=True)
            else:
                what = "end of expression" if token.kind == TOKEN_EOF else repr(token.value)
                raise Problem(f"unexpected {what} in a list", begins(token))
            stream.next()
            stream.skip_whitespace()
            if stream.current().kind == TOKEN_RBRACKET:
                break
            if stream.current().kind != TOKEN_COMMA:
                raise Problem("expected ',' or ']' in a list", begins(stream.current()))
            stream.next()
        stream.next()  # ']'
        value = LiteralList(items)
        value.elements = [element(item) for item in items]
        return Literal(value, start.index)


def _java_int(text: str, token: Token) -> int:
    """``Integer.parseInt``: Jayway refuses slice bounds outside Java's int range."""
    value = int(text)
    if not -(2**31) <= value < 2**31:
        raise Problem(f"slice bound {text} is not a Java int", token.index)
    return value


def _check_union(selectors: tuple[JSONPathSelector, ...]) -> None:
    """Jayway's brackets hold one selector, or a list of quoted names, or a list of indices."""
    if len(selectors) < 2:
        return
    kind = type(selectors[0])
    for selector in selectors:
        if type(selector) not in (NameSelector, IndexSelector) or type(selector) is not kind:
            raise Problem("Jayway lists only quoted names or only indices in brackets", selector.token.index)


class JaywayEnvironment(JSONPathEnvironment):
    lexer_class = JaywayLexer
    parser_class = JaywayParser


ENV: Final = JaywayEnvironment(strict=True, filter_caching=False)
_PARSER: Final = JaywayParser(env=ENV)


def parse(text: str) -> tuple[list[JSONPathSegment], Token | None]:
    """Segments of a normalised expression and the token of its trailing function, if any."""
    stream = TokenStream(ENV.lexer.tokenize(text))
    stream.next()  # '$' (the caller normalised the text)
    segments, function = _PARSER.path(stream)
    if stream.current().kind != TOKEN_EOF:
        token = stream.current()
        raise Problem(f"unexpected {token.value!r}", begins(token))
    return segments, function
