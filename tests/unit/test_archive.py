"""The archive's records, ids and redaction, and the ops tool's time and rate arguments (no network)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import SecretStr

from idn_tools.events import EventsError, once_each, parse_rate, parse_time, tail_line
from idn_triggers.archive import (
    ArchivedDelivery,
    ArchiveError,
    Window,
    acknowledged_status,
    answered_record,
    event_day,
    new_event_id,
    processed_record,
    shown,
)
from idn_triggers.catalogue import TriggerType, known_triggers
from idn_triggers.envelope import DeliveryKind, ResponseMode
from idn_triggers.eventbridge import queued_from_event
from idn_triggers.queue import QueuedInvocation, replayed_invocation

NOW = datetime(2026, 12, 2, 1, 8, 6, 123456, tzinfo=UTC)
PRE = "idn:access-request-pre-approval"


def queued(**extra: object) -> QueuedInvocation:
    fields: dict[str, object] = {
        "trigger_id": PRE,
        "trigger_type": TriggerType.REQUEST_RESPONSE,
        "mode": ResponseMode.DYNAMIC,
        "invocation_id": "inv-1",
        "idempotency_key": f"{PRE}#inv-1",
        "callback_url": "https://t.api.identitynow.com/trigger-invocations/v1/inv-1/complete",
        "secret": SecretStr("s3cr3t-value"),
        "received_at": NOW,
        "payload": {"requestedFor": [{"name": "Ada"}]},
    }
    return QueuedInvocation(**(fields | extra))  # type: ignore[arg-type]


def test_an_event_id_starts_with_its_arrival_time_and_names_its_day() -> None:
    event_id = new_event_id(NOW, PRE, "inv-1")
    assert event_id.startswith("20261202T010806123456Z-") and len(event_id) == 31
    assert event_day(event_id) == date(2026, 12, 2)
    assert new_event_id(NOW, PRE, "inv-2") != event_id


@pytest.mark.parametrize("text", ["", "20261302T010806123456Z-00000000", "abc", "20261202T010806Z-1"])
def test_what_is_not_an_event_id_is_refused_clearly(text: str) -> None:
    with pytest.raises(ArchiveError, match="not an event id"):
        event_day(text)


def test_a_processed_record_copies_no_secret_and_says_what_sailpoint_was_answered() -> None:
    record = processed_record(queued(), "completed", {"approved": True}, 3.2, NOW + timedelta(seconds=2))
    text = record.model_dump_json()
    assert "s3cr3t-value" not in text and "trigger-invocations" not in text
    assert (record.status_code, record.mode, record.latency_ms) == (202, "DYNAMIC", 2000.0)


def test_status_codes_by_mode_and_delivery() -> None:
    assert acknowledged_status(None, DeliveryKind.LIVE) == 200  # fire-and-forget
    assert acknowledged_status(ResponseMode.ASYNC, DeliveryKind.LIVE) == 200
    assert acknowledged_status(ResponseMode.DYNAMIC, DeliveryKind.LIVE) == 202
    assert acknowledged_status(ResponseMode.ASYNC, DeliveryKind.REPLAY) is None
    assert acknowledged_status(None, DeliveryKind.RECOVERED) is None  # SailPoint saw the failure, not 200
    assert acknowledged_status(None, DeliveryKind.REDRIVE) == 200  # acknowledged before dead-lettering


def test_a_replayed_invocation_has_no_callback_and_its_own_idempotency_key() -> None:
    message = replayed_invocation(
        trigger_id=PRE,
        trigger_type=TriggerType.REQUEST_RESPONSE,
        mode=ResponseMode.SYNC,
        invocation_id="inv-1",
        payload={"a": 1},
        event_id="20261202T010806123456Z-00000000",
        replay_id="r1",
        now=NOW,
    )
    assert message.delivery is DeliveryKind.REPLAY and not message.expects_answer
    assert message.idempotency_key == f"{PRE}#inv-1#replay:r1"
    assert QueuedInvocation.model_validate_json(message.model_dump_json()) == message


def test_show_redacts_every_value_unless_revealed() -> None:
    record = answered_record(
        trigger_id=PRE,
        trigger_type=TriggerType.REQUEST_RESPONSE,
        mode=ResponseMode.SYNC,
        invocation_id=None,
        payload={"requestedFor": [{"name": "Ada", "id": 7}], "note": None},
        status_code=200,
        outcome="answered",
        answer={"approved": True, "approver": "policy-bot", "comment": "Ada may have it"},
        received_at=NOW,
        finished_at=NOW,
    )
    hidden = shown(record)
    assert hidden["payload"] == {"requestedFor": [{"name": "***", "id": "***"}], "note": None}
    # the decision is shown; the free-text comment stays redacted
    assert hidden["answer"] == {"approved": True, "approver": "policy-bot", "comment": "***"}
    assert hidden["trigger_id"] == PRE
    assert shown(record, reveal=True)["payload"]["requestedFor"][0]["name"] == "Ada"
    assert len(record.invocation_id) == 64  # no invocation id on SYNC: the payload's fingerprint


def test_show_gives_the_dynamic_approvers_id_and_type_but_not_the_name() -> None:
    record = answered_record(
        trigger_id="idn:access-request-dynamic-approver",
        trigger_type=TriggerType.REQUEST_RESPONSE,
        mode=ResponseMode.SYNC,
        invocation_id="inv-1",
        payload={},
        status_code=200,
        outcome="answered",
        answer={"id": "2c91808b", "name": "Ada Lovelace", "type": "IDENTITY"},
        received_at=NOW,
        finished_at=NOW,
    )
    assert shown(record)["answer"] == {"id": "2c91808b", "name": "***", "type": "IDENTITY"}


def test_a_window_holds_since_but_not_until() -> None:
    window = Window(NOW, NOW + timedelta(seconds=1))
    assert window.holds(new_event_id(NOW))
    assert not window.holds(new_event_id(NOW + timedelta(seconds=1)))
    assert Window(NOW - timedelta(days=2), NOW).days() == [
        date(2026, 11, 30),
        date(2026, 12, 1),
        date(2026, 12, 2),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("15m", NOW - timedelta(minutes=15)),
        ("2h", NOW - timedelta(hours=2)),
        ("7d", NOW - timedelta(days=7)),
        ("2026-12-01", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12-01T09:30Z", datetime(2026, 12, 1, 9, 30, tzinfo=UTC)),
        ("2026-12-01T10:30+01:00", datetime(2026, 12, 1, 9, 30, tzinfo=UTC)),
    ],
)
def test_times_are_iso_dates_ages_or_now(text: str, expected: datetime) -> None:
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "15 minutes", "-5m", "2026-13-01"])
def test_an_unreadable_time_is_a_clear_error(text: str) -> None:
    with pytest.raises(EventsError, match="cannot read the time"):
        parse_time(text, NOW)


def test_rates() -> None:
    assert parse_rate("10/s") == 10.0 and parse_rate("2.5") == 2.5
    for bad in ("0/s", "fast", "-1", "10/m"):
        with pytest.raises(EventsError, match="--rate"):
            parse_rate(bad)


def _record(invocation: str, delivery: DeliveryKind = DeliveryKind.LIVE) -> ArchivedDelivery:
    return processed_record(queued(invocation_id=invocation, delivery=delivery), "completed", None, None, NOW)


def test_one_replay_selects_each_invocation_once() -> None:
    first, again, other = _record("a"), _record("a"), _record("b")
    assert once_each([first, again, other]) == [first, other]


def test_a_tail_line_has_time_trigger_mode_status_outcome_latency_and_invocation() -> None:
    line = tail_line(_record("inv-9"))
    assert line == f"2026-12-02T01:08:06.123Z  {PRE}  DYNAMIC  202  completed  0ms  inv-9"
    assert tail_line(_record("inv-9", DeliveryKind.REPLAY)).endswith("  -  completed  0ms  inv-9  [REPLAY]")


def test_an_eventbridge_delivery_received_no_status_from_us_and_says_how_it_came() -> None:
    # Given an EventBridge event the worker processed (SailPoint put it on a bus: no HTTP answer)
    event = {
        "detail-type": "idn:identity-created",
        "source": "aws.partner/sailpoint.com/x/idn/identity-created",
        "time": "2026-12-02T01:08:06Z",
        "detail": {"identity": {"id": "i1"}, "_metadata": {"invocationId": "inv-eb"}},
    }
    message = queued_from_event(event, lambda _: known_triggers()["idn:identity-created"], timedelta(hours=1))
    # When the worker archives it
    record = processed_record(message, "processed", None, 1.0, NOW)
    # Then its status is "-" (None), and it is marked as EventBridge
    assert (record.status_code, record.transport) == (None, "EVENTBRIDGE")
    assert record.summary()["transport"] == "EVENTBRIDGE"
