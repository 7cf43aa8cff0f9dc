"""The summary helper handlers use to log what happened without personal data."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from idn_triggers.envelope import ResponseMode
from idn_triggers.handlers import HandlerContext
from idn_triggers.models.common import Ref
from idn_triggers.summaries import EventSummary, summarise


@pytest.fixture
def logs(service_logs: io.StringIO) -> io.StringIO:
    return service_logs


def summaries(logs: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("message") == "trigger event summary"]


CONTEXT = HandlerContext("idn:x", ResponseMode.ASYNC, "inv-1")


def test_summary_leaves_out_empty_parts_and_repeats_no_attribute() -> None:
    summary = EventSummary("idn:x", "updated", "IDENTITY", "id-1", attributes=("a",))
    assert summary.as_dict() == {
        "trigger_id": "idn:x",
        "operation": "updated",
        "subject": {"type": "IDENTITY", "id": "id-1"},
        "attributes": ["a"],
    }


def test_related_references_are_logged_by_id_only(logs: io.StringIO) -> None:
    source = Ref(id="s-1", type="SOURCE", name="Corporate Directory")
    summary = summarise(CONTEXT, "updated", "ACCOUNT", "a-1", related={"source": source, "identity": None})
    assert summary.related == {"source": "s-1", "identity": None}
    assert "Corporate Directory" not in logs.getvalue()


def test_summarise_logs_at_the_callers_location(logs: io.StringIO) -> None:
    returned = summarise(CONTEXT, "deleted", "SOURCE", "s-1", attributes=["b", "a", "b"], level="WARNING")
    [line] = summaries(logs)
    assert line["level"] == "WARNING" and line["summary"] == returned.as_dict()
    assert returned.attributes == ("b", "a") and returned.trigger_id == "idn:x"  # from the context
    assert line["location"].startswith("test_summarise_logs_at_the_callers_location")
