"""Tracing is opt-in for the receiver; SDK loggers are held above DEBUG."""

from __future__ import annotations

import logging

from idn_triggers.observability import keep_sdk_logs_free_of_secrets, traced


def handler(event: dict[str, str], context: object) -> dict[str, str]:
    return {"echo": event["x"]}


def test_without_xray_sdk_the_handler_is_untouched() -> None:
    assert traced(handler, xray_sdk=False) is handler


def test_with_xray_sdk_the_handler_is_wrapped_and_still_answers() -> None:
    wrapped = traced(handler, xray_sdk=True)
    assert wrapped is not handler
    assert wrapped({"x": "1"}, None) == {"echo": "1"}


def test_sdk_loggers_are_raised_to_info() -> None:
    botocore = logging.getLogger("botocore")
    previous = botocore.level
    try:
        botocore.setLevel(logging.DEBUG)
        keep_sdk_logs_free_of_secrets()
        assert botocore.getEffectiveLevel() == logging.INFO
    finally:
        botocore.setLevel(previous)
