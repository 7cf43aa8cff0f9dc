"""Jayway's tokens, as python-jsonpath's lexer reads them (its strict rules, replaced)."""

from __future__ import annotations

import re
from typing import Final

from jsonpath.lex import Lexer
from jsonpath.token import (
    TOKEN_AND,
    TOKEN_COLON,
    TOKEN_COMMA,
    TOKEN_DDOT,
    TOKEN_DOT,
    TOKEN_DOT_PROPERTY,
    TOKEN_DOUBLE_QUOTE_STRING,
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
    TOKEN_NOT,
    TOKEN_NULL,
    TOKEN_OR,
    TOKEN_RBRACKET,
    TOKEN_RE,
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

KIND_TSEQ: Final = "TOKEN_TSEQ"
KIND_TSNE: Final = "TOKEN_TSNE"
KIND_WORD: Final = "TOKEN_JWORD"
KIND_LBRACE: Final = "TOKEN_LBRACE"
KIND_RBRACE: Final = "TOKEN_RBRACE"
KIND_SCAN_NAME: Final = "TOKEN_JSCAN_NAME"
"""``..name``: a deep scan for a property (value: the name)."""
KIND_ADJACENT_NAME: Final = "TOKEN_JADJACENT_NAME"
"""A property name right after ``]`` without a dot, which Jayway reads as ``.name``."""
QUOTED_KINDS: Final = frozenset({TOKEN_DOUBLE_QUOTE_STRING, TOKEN_SINGLE_QUOTE_STRING, TOKEN_RE_PATTERN})
"""Tokens whose value (and index) is their inner text: the quote or slash is one character before."""

_KEY: Final = r"[\u0080-\U0010FFFFa-zA-Z0-9_-]+"
_PROPERTY: Final = r"(?!\*)[^\s.\[\]()<>=~!,&|/]+"
"""A property after '.', '..' or ']': Jayway reads anything up to '.', '[' or '(' (and in a filter up to
an operator, a blank or ')'), so ``$.'key'`` is the property ``'key'`` and ``$.$`` the property ``$``.
This reads the intersection of the two; ``&``, ``|``, ``,`` and ``/`` end it too (Jayway's filter
scanner takes ``/`` for a regex, and names with ``&&``/``||`` would swallow logical operators)."""
_WORDS: Final = "nin|in|subsetof|anyof|noneof|contains|size|empty|all|exists|type|matches"
_RULES: Final = (
    (TOKEN_RE_PATTERN, r"/(?P<G_RE>(?:\\.|[^/\\])*)/(?P<G_RE_FLAGS>[a-zA-Z]*)"),
    (KIND_SCAN_NAME, rf"\.\.{_PROPERTY}"),
    (TOKEN_DOT_PROPERTY, rf"(?P<G_DOT>\.)(?P<G_PROP>{_PROPERTY})"),
    (KIND_ADJACENT_NAME, rf"(?<=\]){_PROPERTY}"),
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
    (KIND_WORD, rf"(?<=[ \t\n\r])(?i:{_WORDS})(?=[ \t\n\r])"),
    (TOKEN_LBRACKET, r"\["),
    (TOKEN_RBRACKET, r"]"),
    (KIND_LBRACE, r"\{"),
    (KIND_RBRACE, r"\}"),
    (TOKEN_COMMA, r","),
    (TOKEN_COLON, r":"),
    (KIND_TSEQ, r"==="),
    (KIND_TSNE, r"!=="),
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
)
"""Jayway's tokens after the two string rules (whose patterns the lexer instance holds), in order."""


class JaywayLexer(Lexer):
    """Jayway's tokens: word operators, ===/!==, /regex/flags; no RFC function syntax."""

    def compile_strict_rules(self) -> re.Pattern[str]:
        rules = (
            (TOKEN_DOUBLE_QUOTE_STRING, self.double_quote_pattern),
            (TOKEN_SINGLE_QUOTE_STRING, self.single_quote_pattern),
            *_RULES,
        )
        return re.compile("|".join(f"(?P<{kind}>{pattern})" for kind, pattern in rules), re.DOTALL)


def begins(token: Token) -> int:
    """Where a token begins in the text (string and regex tokens hold their inner text)."""
    return token.index - 1 if token.kind in QUOTED_KINDS else token.index
