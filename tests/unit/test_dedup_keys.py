"""De-duplication keys of fire-and-forget deliveries (idn_triggers.queue): content for real events,
one per delivery for the trigger's published sample, so resending a test event runs it again."""

from __future__ import annotations

import copy
from datetime import timedelta

from idn_triggers.catalogue import TriggerType, trigger_document
from idn_triggers.envelope import split_envelope
from idn_triggers.queue import queued_invocation

TRIGGER = "idn:identity-created"


def key(payload: dict[str, object]) -> str:
    delivery = split_envelope(TRIGGER, payload)
    return queued_invocation(delivery, TriggerType.FIRE_AND_FORGET, timedelta(hours=1)).idempotency_key


def test_the_published_sample_sent_twice_gets_two_keys() -> None:
    sample = copy.deepcopy(trigger_document(TRIGGER)["exampleInput"])

    first, second = key(sample), key(copy.deepcopy(sample))

    assert first != second
    assert first.startswith(f"{TRIGGER}#sample-")


def test_a_real_event_sent_twice_gets_one_key() -> None:
    event = copy.deepcopy(trigger_document(TRIGGER)["exampleInput"])
    event["identity"]["id"] = "a-real-identity-id"

    assert key(event) == key(copy.deepcopy(event))
