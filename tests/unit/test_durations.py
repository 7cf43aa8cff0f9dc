"""The one ISO-8601 duration parser (receiver settings and the tenant simulator both use it)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from idn_triggers.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT1H", timedelta(hours=1)),
        ("PT30M", timedelta(minutes=30)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("PT0.3S", timedelta(seconds=0.3)),
        ("P2D", timedelta(days=2)),
        ("PT1H30M15S", timedelta(hours=1, minutes=30, seconds=15)),
    ],
)
def test_given_a_sailpoint_deadline_when_parsed_then_it_is_that_long(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "P", "PT", "P1DT", "1H", "PT1X", "P1M", "P1W", "one hour", "pt1h", " PT1H"]
)
def test_given_no_day_time_duration_when_parsed_then_value_error_names_it(text: str) -> None:
    with pytest.raises(ValueError, match="ISO-8601 duration"):
        parse_duration(text)
