"""Recovery's pure parts: reading history entries, what a pass acts on, the shared idempotency key,
the read window, and `--since`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from idn_tools.recover import RecoverUsageError, parse_since
from idn_triggers.catalogue import TriggerType
from idn_triggers.envelope import split_envelope
from idn_triggers.queue import idempotency_key, payload_fingerprint, queued_invocation, recovered_invocation
from idn_triggers.recovery import (
    HISTORY_CAP,
    Action,
    HistoryEntry,
    HistoryRead,
    PassReport,
    Reconciler,
    Subscriptions,
    classify,
    trigger_types,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CHANGED = "idn:identity-attributes-changed"
PRE = "idn:access-request-pre-approval"
OURS = Subscriptions({"sub-ours": False, "sub-bridge": True})
PAYLOAD = {"identity": {"id": "2c91", "name": "rufus", "type": "IDENTITY"}, "changes": []}


def status(
    *,
    trigger: str = CHANGED,
    subscription: str = "sub-ours",
    kind: str = "REAL_TIME",
    age: timedelta = timedelta(minutes=30),
    failed: bool = True,
    completed: bool = True,
    invocation: str = "inv-1",
) -> dict[str, Any]:
    """An InvocationStatus as the API returns it."""
    item: dict[str, Any] = {
        "id": invocation,
        "triggerId": trigger,
        "subscriptionId": subscription,
        "subscriptionName": "s",
        "type": kind,
        "created": (NOW - age).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "startInvocationInput": {"triggerId": trigger, "input": PAYLOAD, "contentJson": {}},
    }
    if completed:
        item["completed"] = (NOW - age + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        item["completeInvocationInput"] = {
            "output": None,
            **(
                {"localizedError": {"locale": "en-US", "message": "subscriber answered 503"}}
                if failed
                else {}
            ),
        }
    return item


def found(*items: dict[str, Any], include_tests: bool = False) -> list[tuple[str, Action, str]]:
    entries = [HistoryEntry.from_api(item) for item in items]
    findings = classify(
        [e for e in entries if e is not None],
        OURS,
        trigger_types(),
        now=NOW,
        grace=timedelta(minutes=15),
        include_tests=include_tests,
    )
    return [(f.entry.id, f.action, f.reason) for f in findings]


def test_a_failed_fire_and_forget_invocation_is_queued() -> None:
    assert found(status()) == [("inv-1", Action.QUEUE, "failed")]


def test_a_successful_invocation_is_left_alone() -> None:
    assert found(status(failed=False)) == []


def test_an_invocation_not_completed_past_the_grace_period_is_queued() -> None:
    assert found(status(completed=False, age=timedelta(minutes=20))) == [
        ("inv-1", Action.QUEUE, "not completed")
    ]


def test_an_invocation_still_in_flight_within_the_grace_period_is_left_alone() -> None:
    assert found(status(completed=False, age=timedelta(minutes=5))) == []


def test_a_failed_request_response_invocation_is_unrecoverable() -> None:
    assert found(status(trigger=PRE)) == [("inv-1", Action.UNRECOVERABLE, "request-response failed")]


def test_a_request_response_invocation_in_flight_is_not_reported() -> None:
    assert found(status(trigger=PRE, completed=False, age=timedelta(hours=2))) == []


def test_test_invocations_count_only_when_asked_for() -> None:
    assert found(status(kind="TEST")) == []
    assert found(status(kind="TEST"), include_tests=True) == [("inv-1", Action.QUEUE, "failed")]


def test_other_subscriptions_are_left_alone() -> None:
    assert found(status(subscription="someone-else")) == []


def test_a_failure_older_than_the_retention_is_reported_not_queued() -> None:
    assert found(status(age=timedelta(hours=49))) == [
        ("inv-1", Action.UNRECOVERABLE, "older than the retention")
    ]


def test_an_entry_without_id_or_created_is_skipped() -> None:
    assert HistoryEntry.from_api({"triggerId": CHANGED, "created": "2026-12-01T00:00:00Z"}) is None
    assert HistoryEntry.from_api({"id": "x", "triggerId": CHANGED, "created": "not a date"}) is None


def test_an_http_delivery_and_its_recovered_copy_share_the_idempotency_key() -> None:
    # Given the live fire-and-forget delivery the receiver queued (it carries no invocation id)
    live = queued_invocation(
        split_envelope(CHANGED, dict(PAYLOAD)), TriggerType.FIRE_AND_FORGET, timedelta(hours=1)
    )
    # When the same event is found failed in the history of an HTTP subscription
    [finding] = classify(
        [HistoryEntry.from_api(status())],  # type: ignore[list-item]
        OURS,
        trigger_types(),
        now=NOW,
        grace=timedelta(minutes=15),
    )
    recovered = recovered_invocation(CHANGED, finding.entry.id, finding.entry.input, finding.key)
    # Then both resolve to the payload's key, and the recovered one says so
    assert (
        recovered.idempotency_key
        == live.idempotency_key
        == f"{CHANGED}#{payload_fingerprint(CHANGED, PAYLOAD)}"
    )
    assert recovered.delivery.value == "RECOVERED" and recovered.invocation_id == "inv-1"


def test_a_delivery_carrying_the_invocation_id_is_keyed_on_it_on_both_sides() -> None:
    body = {
        **PAYLOAD,
        "_metadata": {"invocationId": "inv-1", "triggerType": "fireAndForget", "triggerId": CHANGED},
    }
    live = queued_invocation(split_envelope(CHANGED, body), TriggerType.FIRE_AND_FORGET, timedelta(hours=1))
    [finding] = classify(
        [HistoryEntry.from_api(status(subscription="sub-bridge"))],  # type: ignore[list-item]
        OURS,
        trigger_types(),
        now=NOW,
        grace=timedelta(minutes=15),
    )
    assert finding.key == live.idempotency_key == f"{CHANGED}#inv-1"


def test_the_fingerprint_leaves_metadata_out() -> None:
    with_metadata = {**PAYLOAD, "_metadata": {"callbackURL": "https://x/trigger-invocations/1/complete"}}
    assert payload_fingerprint(CHANGED, with_metadata) == payload_fingerprint(CHANGED, PAYLOAD)
    assert idempotency_key(CHANGED, with_metadata) == idempotency_key(CHANGED, PAYLOAD)
    assert idempotency_key(CHANGED, PAYLOAD, "inv-9") == f"{CHANGED}#inv-9"


def test_the_dry_run_row_has_ids_and_timestamps_only() -> None:
    [finding] = classify(
        [HistoryEntry.from_api(status())],  # type: ignore[list-item]
        OURS,
        trigger_types(),
        now=NOW,
        grace=timedelta(minutes=15),
    )
    assert finding.row() == {
        "invocationId": "inv-1",
        "triggerId": CHANGED,
        "subscriptionId": "sub-ours",
        "created": "2026-12-01T11:30:00.000Z",
        "action": "queue",
    }


@pytest.mark.parametrize(
    ("last_success", "since", "expected"),
    [
        (None, None, NOW - timedelta(hours=50)),  # first pass: everything retained, and a margin
        (NOW - timedelta(minutes=10), None, NOW - timedelta(hours=2, minutes=10)),  # late failures
        (NOW - timedelta(hours=60), None, NOW - timedelta(hours=50)),  # after a gap: the retention
        (NOW - timedelta(minutes=10), timedelta(hours=6), NOW - timedelta(hours=6)),  # by hand
    ],
)
def test_the_read_window(last_success: datetime | None, since: timedelta | None, expected: datetime) -> None:
    reconciler = Reconciler(None, lambda: OURS, None, None)  # type: ignore[arg-type]
    assert reconciler.window_start(NOW, last_success, since) == expected


def test_a_full_history_that_ends_inside_the_window_is_truncated() -> None:
    assert HistoryRead([], 8, HISTORY_CAP, reached_window_start=False).truncated
    assert not HistoryRead([], 8, HISTORY_CAP, reached_window_start=True).truncated
    assert not HistoryRead([], 2, 300, reached_window_start=True).truncated


def test_a_pass_that_could_not_send_publishes_no_successful_pass() -> None:
    report = PassReport(NOW, send_failures=1)
    assert not report.complete and report.metrics()["RecoveryPasses"] == 0
    assert PassReport(NOW).metrics()["RecoveryPasses"] == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("6h", timedelta(hours=6)),
        ("2d", timedelta(days=2)),
        ("1h30m", timedelta(minutes=90)),
        ("PT6H", timedelta(hours=6)),
        ("pt2h", timedelta(hours=2)),
    ],
)
def test_since_reads_short_and_iso_durations(text: str, expected: timedelta) -> None:
    assert parse_since(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "6", "0h", "-1h", "h"])
def test_since_refuses_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(RecoverUsageError):
        parse_since(text)


def test_the_recover_command_gives_the_shared_library_logger_back() -> None:
    # Given the service logger every library module shares, at its level and on its stream
    import logging

    from idn_tools.recover import _quiet_library_logs
    from idn_triggers.recovery import logger

    shared = logging.getLogger(logger.name)
    level, streams = shared.level, [getattr(h, "stream", None) for h in shared.handlers]
    # When the command quiets it for its own output, then ends
    with _quiet_library_logs(verbose=False):
        assert shared.level == logging.CRITICAL
    # Then later code in the same process logs as before
    assert shared.level == level
    assert [getattr(h, "stream", None) for h in shared.handlers] == streams
