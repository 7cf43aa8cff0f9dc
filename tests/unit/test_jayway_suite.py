"""Jayway's own answers to an independent suite (json-path-comparison's regression suite), offline.

``jayway_suite_cases.json`` holds, for each query of that suite whose document can be an event
input, the delivery verdict Jayway JsonPath gives: ``match`` (a non-empty result), ``no_match``
(``[]`` or NOT_FOUND) or ``error`` (Jayway rejects the query). The evaluator must give the same
verdict, and report Jayway's errors as syntax errors with a position, never refuse a query Jayway
answers. ``DISAGREEMENTS`` lists the deliberate exceptions; each is explained in the package
docstring of ``jayway_filter``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import jayway_filter
from jayway_filter import UnsupportedFilterError, validate_filter

CASES: list[dict[str, Any]] = json.loads(
    Path(__file__).with_name("jayway_suite_cases.json").read_text(encoding="utf-8")
)["cases"]
DISAGREEMENTS: dict[str, str] = {}
"""Suite query id -> what this evaluator answers instead (documented in jayway_filter's docstring)."""


def verdict(case: dict[str, Any]) -> str:
    """This evaluator's delivery verdict for a case: match, no_match, error, or refused."""
    try:
        result = validate_filter(case["filter"], case["input"])
    except UnsupportedFilterError:
        return "refused"
    if not result.is_valid_json_path:
        assert result.position is not None, result.error
        return "error"
    return "match" if result.is_valid else "no_match"


def test_the_cases_cover_every_verdict_and_every_id_once() -> None:
    ids = [case["id"] for case in CASES]

    assert len(ids) == len(set(ids)) >= 250
    assert {case["expect"] for case in CASES} == {"match", "no_match", "error"}
    assert set(DISAGREEMENTS) <= set(ids)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_the_evaluator_gives_jayways_verdict(case: dict[str, Any]) -> None:
    got = verdict(case)

    if case["id"] in DISAGREEMENTS:
        assert got == DISAGREEMENTS[case["id"]] != case["expect"]
    else:
        assert got == case["expect"], case["filter"]


def test_at_least_98_percent_agree_and_each_exception_is_documented() -> None:
    agreeing = sum(verdict(case) == case["expect"] for case in CASES)
    documentation = jayway_filter.__doc__ or ""

    assert agreeing / len(CASES) >= 0.98
    assert [qid for qid in DISAGREEMENTS if qid not in documentation] == []


def test_no_query_jayway_answers_is_refused() -> None:
    refused = [case["id"] for case in CASES if case["expect"] != "error" and verdict(case) == "refused"]

    assert refused == []
