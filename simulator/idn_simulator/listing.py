"""SailPoint's standard collection parameters: ``filters``, ``sorters``, ``limit``, ``offset``, ``count``.

Only what the trigger endpoints document is accepted; anything else is a 400 that says what is
supported, so a client never silently gets an unfiltered list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .api_errors import bad_request

MAX_LIMIT = 250
_CLAUSE = re.compile(
    r"\s*(?P<field>[A-Za-z]+)\s+(?P<op>[a-z]+)\s+"
    r"(?P<value>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|\((?:[^)]*)\)|[^\s()]+)\s*"
)
_AND = re.compile(r"\s*and\s+", re.IGNORECASE)
_ITEM = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'")


def _first(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    return raw


def _compare(op: str, actual: Any, wanted: str | list[str]) -> bool:
    if actual is None:
        return False
    text = str(actual)
    if op == "eq":
        return text == wanted
    if op == "in":
        return text in wanted
    if op == "ge":
        return text >= str(wanted)
    if op == "le":
        return text <= str(wanted)
    return False  # unreachable: operators are checked against the allowed set first


def apply_filters(
    items: list[dict[str, Any]], expression: str | None, allowed: Mapping[str, set[str]]
) -> list[dict[str, Any]]:
    """Keep the items that satisfy every ``field op value`` clause (joined by ``and``)."""
    if expression is None or not expression.strip():
        return items
    position = 0
    clauses: list[tuple[str, str, str | list[str]]] = []
    while position < len(expression):
        match = _CLAUSE.match(expression, position)
        if match is None:
            raise bad_request(f"filters: cannot parse the expression at position {position}")
        field, op, raw = match["field"], match["op"], match["value"]
        if field not in allowed:
            raise bad_request(f"filters: field '{field}' is not filterable; use {', '.join(sorted(allowed))}")
        if op not in allowed[field]:
            raise bad_request(
                f"filters: operator '{op}' is not supported for '{field}'; use {', '.join(sorted(allowed[field]))}"
            )
        value: str | list[str] = (
            [_unquote(item) for item in _ITEM.findall(raw)] if op == "in" else _unquote(raw)
        )
        clauses.append((field, op, value))
        position = match.end()
        if position < len(expression):
            conjunction = _AND.match(expression, position)
            if conjunction is None:
                raise bad_request(f"filters: expected 'and' at position {position} (only 'and' is supported)")
            position = conjunction.end()
    return [item for item in items if all(_compare(op, item.get(f), v) for f, op, v in clauses)]


def apply_sorters(
    items: list[dict[str, Any]], sorters: str | None, allowed: set[str]
) -> list[dict[str, Any]]:
    """Sort by comma-separated fields; a leading ``-`` sorts that field descending."""
    if sorters is None or not sorters.strip():
        return items
    keys = [part.strip() for part in sorters.split(",") if part.strip()]
    for key in keys:
        if key.lstrip("-") not in allowed:
            raise bad_request(
                f"sorters: cannot sort by '{key.lstrip('-')}'; use {', '.join(sorted(allowed))}"
            )
    result = list(items)
    for key in reversed(keys):  # stable sorts, least significant key first
        name = key.lstrip("-")
        result.sort(
            key=lambda item: (item.get(name) is None, str(item.get(name) or "")), reverse=key.startswith("-")
        )
    return result


def paginate(
    items: list[dict[str, Any]], query: Mapping[str, Sequence[str]]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Apply ``limit``/``offset``; ``count=true`` adds the X-Total-Count header."""
    limit = _integer(query, "limit", 0, MAX_LIMIT, MAX_LIMIT)
    offset = _integer(query, "offset", 0, None, 0)
    count = (_first(query, "count") or "false").lower()
    if count not in ("true", "false"):
        raise bad_request("count must be true or false")
    headers = {"X-Total-Count": str(len(items))} if count == "true" else {}
    return items[offset : offset + limit], headers


def _integer(query: Mapping[str, Sequence[str]], name: str, low: int, high: int | None, default: int) -> int:
    raw = _first(query, name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer") from None
    if value < low or (high is not None and value > high):
        upper = f" and {high}" if high is not None else ""
        raise bad_request(
            f"{name} must be between {low}{upper}" if upper else f"{name} must be at least {low}"
        )
    return value
