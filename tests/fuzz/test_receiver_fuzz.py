"""The receiver's lambda_handler under generated API Gateway events, in-process (no AWS, no HTTP).

Given any request, when the receiver answers, then no exception escapes, no 5xx but the documented
handler-failure 500, every 4xx carries a `message`, and no generated value comes back in the answer.
Size: FUZZ_PROFILE (tests/fuzz/strategies.py): `quick` by default, `deep` for `make fuzz`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import given

from tests.fuzz import strategies as gen
from tests.fuzz.harness import InProcessReceiver, check, quiet_logs

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")


@pytest.fixture(scope="module")
def receiver() -> Iterator[InProcessReceiver]:
    started = InProcessReceiver()
    with quiet_logs():
        yield started


def answer(receiver: InProcessReceiver, source: str, request: gen.Request) -> int:
    status, body = receiver.invoke(request.event)
    check(source, status, body, request.tainted)
    return status


@gen.fuzz_settings(weight=4)
@given(request=gen.structured_requests())
def test_mutated_trigger_inputs(receiver: InProcessReceiver, request: gen.Request) -> None:
    answer(receiver, "in-process", request)


@gen.fuzz_settings(weight=2)
@given(request=gen.metadata_requests())
def test_metadata_in_every_mode_and_shape(receiver: InProcessReceiver, request: gen.Request) -> None:
    queued_before = receiver.queue.sent
    status = answer(receiver, "in-process", request)
    meta = json.loads(request.event["body"]).get("_metadata")
    if not isinstance(meta, dict) or meta.get("callbackURL") not in gen.FORGED_CALLBACKS:
        return
    trigger_id = request.event["path"].removeprefix("/triggers/")
    mode = str(meta.get("responseMode", "")).strip().upper()
    if trigger_id in gen.REQUEST_RESPONSE and mode in ("ASYNC", "DYNAMIC"):
        # a forged callback is never queued for the worker to call: 400 (or 413 when a generated
        # extra `_metadata` value made the body too large first), nothing sent
        assert status in (400, 413) and receiver.queue.sent == queued_before, (status, meta["callbackURL"])


@gen.fuzz_settings(weight=2)
@given(request=gen.arbitrary_json_requests())
def test_arbitrary_json_documents(receiver: InProcessReceiver, request: gen.Request) -> None:
    answer(receiver, "in-process", request)


@gen.fuzz_settings(weight=2)
@given(request=gen.raw_body_requests())
def test_bodies_that_are_not_json(receiver: InProcessReceiver, request: gen.Request) -> None:
    answer(receiver, "in-process", request)


@gen.fuzz_settings(weight=2)
@given(request=gen.envelope_requests())
def test_methods_paths_and_headers(receiver: InProcessReceiver, request: gen.Request) -> None:
    answer(receiver, "in-process", request)


@gen.fuzz_settings(weight=2)
@given(request=gen.lexical_requests())
def test_huge_integers_non_finite_numbers_and_duplicate_keys(
    receiver: InProcessReceiver, request: gen.Request
) -> None:
    """Each is a 400 naming the problem (tests/unit/test_receiver.py pins the messages), or 413 when
    the generated `_metadata` made the body too large first."""
    assert answer(receiver, "in-process", request) in (400, 413)
