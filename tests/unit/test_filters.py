"""Subscription filters: SailPoint's Jayway JsonPath dialect on top of python-jsonpath."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from jayway_filter import (
    FilterSyntaxError,
    FilterVerdict,
    UnsupportedFilterError,
    compile_filter,
    matches,
    validate_filter,
)

EVENT = {
    "identity": {"id": "2c9180", "name": "Ada", "attributes": {"department": "Engineering", "level": 3}},
    "changes": [
        {"attribute": "department", "oldValue": "Sales", "newValue": "Engineering"},
        {"attribute": "manager", "oldValue": None, "newValue": "Bob"},
    ],
}


@pytest.mark.parametrize(
    "expression",
    [
        '$[?($.identity.attributes.department == "Engineering")]',
        "$[?(@.identity.attributes.department == 'Engineering')]",
        '$.changes[?(@.attribute == "department")]',
        '$.identity[?(@.name == "Ada" && @.attributes.level >= 3)]',
        '$[?(!($.identity.name == "Bob") || $.identity.attributes.level < 1)]',
        "$[?(@.identity.attributes)]",
        "$.changes[?(@.oldValue == null)]",
        "  $.identity.id  ",
    ],
)
def test_filter_matching_the_event(expression: str) -> None:
    assert matches(expression, EVENT)


@pytest.mark.parametrize(
    "expression",
    [
        '$[?($.identity.attributes.department == "Sales")]',
        '$.changes[?(@.attribute == "title")]',
        '$.identity[?(@.name == "Ada" && @.attributes.level > 3)]',
        "$[?($.identity.attributes.department == 1)]",
    ],
)
def test_filter_not_matching_the_event(expression: str) -> None:
    assert not matches(expression, EVENT)


def test_filter_on_a_missing_path_matches_nothing() -> None:
    verdict = validate_filter('$[?($.identity.attributes.title == "CTO")]', EVENT)

    assert verdict == FilterVerdict(
        is_valid=False,
        is_valid_json_path=True,
        is_path_exist=False,
        missing_path="$['identity']['attributes']['title']",
    )


def test_a_missing_path_relative_to_the_filtered_node_is_named_from_it() -> None:
    verdict = validate_filter('$.changes[?(@.nosuch == "x")]', EVENT)

    assert verdict.missing_path == "@['nosuch']"


def test_relative_path_exists_when_some_element_has_it() -> None:
    verdict = validate_filter('$.changes[?(@.newValue == "Nobody")]', EVENT)

    assert (verdict.is_valid, verdict.is_path_exist) == (False, True)


def test_matching_filter_is_valid_and_its_paths_exist() -> None:
    verdict = validate_filter('$[?($.identity.name == "Ada")]', EVENT)

    assert verdict == FilterVerdict(is_valid=True, is_valid_json_path=True, is_path_exist=True)


def test_syntax_error_reports_its_position() -> None:
    with pytest.raises(FilterSyntaxError) as raised:
        compile_filter('$[?(@.name == "Ada")')

    assert raised.value.position is not None
    assert "position" in str(raised.value)


def test_syntax_error_becomes_an_invalid_verdict() -> None:
    verdict = validate_filter("$[?(@.name ==)]", EVENT)

    assert (verdict.is_valid, verdict.is_valid_json_path) == (False, False)
    assert verdict.position == 13
    assert verdict.error is not None and "13" in verdict.error


@pytest.mark.parametrize(
    "expression",
    [
        '$[?(@.identity.name in ["Ada"])]',
        '$[?(@.identity.name nin ["Bob"])]',
        "$[?(@.changes size 2)]",
        "$[?(@.identity.name =~ /A.*/)]",
        "$.changes.length()",
        '$[?(@.identity.attributes.level == "3")]',  # Jayway: a number equals its numeric string
        # refused until issue 18 showed Jayway answers them (json-path-comparison's suite):
        "$[?(@.changes[*])]",  # an indefinite existence test: true, the property exists
        '$[?(@.identity.attributes == {"department": "Engineering", "level": 3})]',  # object literal
        "$.changes[0:2:5]",  # Jayway reads [from:to] and ignores the step
    ],
)
def test_jayway_syntax_the_first_version_refused_is_evaluated(expression: str) -> None:
    assert matches(expression, EVENT)


@pytest.mark.parametrize(
    ("expression", "word", "position"),
    [
        ('$[?(@.identity all ["Ada"])]', "all", 15),
        ("$.changes.first()", "first", 10),
        ("$[?(@..name[0])]", "existence", 4),
        ("$[?(@.identity.name =~ /\\p{L}+/)]", "regular expression", 23),
    ],
)
def test_unsupported_jayway_syntax_is_refused_not_guessed(expression: str, word: str, position: int) -> None:
    with pytest.raises(UnsupportedFilterError) as raised:
        matches(expression, EVENT)

    assert word in str(raised.value)
    assert raised.value.position == position


def test_validate_filter_raises_for_unsupported_syntax() -> None:
    with pytest.raises(UnsupportedFilterError):
        validate_filter('$[?(@.identity all ["Ada"])]', EVENT)


def test_compiled_filters_are_cached() -> None:
    assert compile_filter("$.identity.id") is compile_filter("$.identity.id")


def test_non_container_payload_matches_nothing() -> None:
    assert not matches("$[?(@.a == 1)]", "not an object")


def test_a_compiled_filter_is_shared_by_threads() -> None:
    compiled = compile_filter('$.changes[?(@.attribute in ["department", "title"])]')
    events = [{"changes": [{"attribute": "department" if n % 2 else "manager"}]} for n in range(400)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(compiled.matches, events))

    assert results == [bool(n % 2) for n in range(400)]


def test_the_lambda_layer_imports_without_python_jsonpath() -> None:
    """The evaluator left the layer, which does not bundle python-jsonpath: no layer module may need it."""
    code = (
        "import sys, importlib, pkgutil; sys.modules['jsonpath'] = sys.modules['jayway_filter'] = None; "
        "import idn_triggers; names = [m.name for m in pkgutil.walk_packages(idn_triggers.__path__, 'idn_triggers.')]; "
        "[importlib.import_module(name) for name in names]; print(len(names))"
    )

    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)

    assert completed.returncode == 0, completed.stderr
    assert int(completed.stdout) > 10


@pytest.mark.parametrize(
    ("expression", "position", "words"),
    [
        ('$[?(@.identity == {"name": "Ada")]', 32, "invalid JSON object"),
        ("$.changes[99999999999:]", 10, "not a Java int"),
        ("$.changes[:]", 10, "a slice needs a start or an end"),
        ("$.changes[*,1]", 10, "only quoted names or only indices"),
    ],
)
def test_what_jayway_rejects_is_a_syntax_error_with_its_position(
    expression: str, position: int, words: str
) -> None:
    verdict = validate_filter(expression, EVENT)

    assert (verdict.is_valid_json_path, verdict.position) == (False, position)
    assert verdict.error is not None and words in verdict.error


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("$.changes[-1:1]", True),  # Jayway: indices -1 and 0, each counted from the end
        ("$.changes[1:-1]", False),  # Jayway does not count the end of [from:to] from the end
        ("$.changes[0]attribute", True),  # a name right after ']' is Jayway's '.attribute'
        ("$[?(@.changes[?(@.oldValue == 'nobody')])]", True),  # selects nothing: still exists
        ("$[?(@.changes[*].nothing)]", False),  # a property missing on the way: Jayway throws
        ("$[?(@..newValue)]", True),
    ],
)
def test_jayway_path_rules_learnt_from_the_independent_suite(expression: str, expected: bool) -> None:
    assert matches(expression, EVENT) is expected
