"""`_metadata` handling: optional, case-tolerant, invocation id from the callback URL."""

from __future__ import annotations

import pytest

from idn_triggers.catalogue import TriggerType
from idn_triggers.envelope import ResponseMode, invocation_id_from_callback, split_envelope
from idn_triggers.errors import InvalidPayload, MalformedBody

PRE = "idn:access-request-pre-approval"
CALLBACK = "https://acme.api.identitynow.com/trigger-invocations/v1/0f5b9f6e-1a2b/complete"


def metadata(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "callbackURL": CALLBACK,
        "secret": "s3cr3t",
        "responseMode": "async",
        "triggerId": PRE,
        "triggerType": "requestResponse",
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (CALLBACK, "0f5b9f6e-1a2b"),
        ("https://acme.api.identitynow.com/beta/trigger-invocations/abc/complete", "abc"),
        ("https://acme.api.identitynow.com/trigger-invocations/abc/complete/", "abc"),
        ("https://acme.api.identitynow.com/trigger-invocations/v1/abc", None),
        ("https://evil.example/anything", None),
    ],
)
def test_invocation_id_comes_from_the_callback_path(url: str, expected: str | None) -> None:
    assert invocation_id_from_callback(url) == expected


def test_no_metadata_means_sync() -> None:
    delivery = split_envelope(PRE, {"accessRequestId": "x"})
    assert delivery.response_mode is ResponseMode.SYNC
    assert delivery.invocation_id is None
    assert delivery.payload == {"accessRequestId": "x"}


@pytest.mark.parametrize("mode", ["async", "ASYNC", "Async", " async "])
def test_response_mode_is_case_insensitive(mode: str) -> None:
    delivery = split_envelope(PRE, {"a": 1, "_metadata": metadata(responseMode=mode)})
    assert delivery.response_mode is ResponseMode.ASYNC
    assert "_metadata" not in delivery.payload


@pytest.mark.parametrize("value", ["requestResponse", "REQUEST_RESPONSE", "request-response"])
def test_trigger_type_spellings(value: str) -> None:
    delivery = split_envelope(PRE, {"_metadata": metadata(triggerType=value)})
    assert delivery.metadata is not None and delivery.metadata.trigger_type is TriggerType.REQUEST_RESPONSE


def test_explicit_invocation_id_wins() -> None:
    delivery = split_envelope(PRE, {"_metadata": metadata(invocationId="given")})
    assert delivery.invocation_id == "given"


def test_invocation_id_derived_from_callback() -> None:
    assert split_envelope(PRE, {"_metadata": metadata()}).invocation_id == "0f5b9f6e-1a2b"


def test_metadata_must_be_an_object() -> None:
    with pytest.raises(MalformedBody):
        split_envelope(PRE, {"_metadata": "nope"})


def test_unknown_response_mode_names_the_field() -> None:
    with pytest.raises(InvalidPayload) as caught:
        split_envelope(PRE, {"_metadata": metadata(responseMode="sometimes")})
    assert caught.value.details[0]["field"] == "_metadata.responseMode"


@pytest.mark.parametrize("missing", ["callbackURL", "secret"])
def test_async_needs_callback_and_secret(missing: str) -> None:
    with pytest.raises(InvalidPayload) as caught:
        split_envelope(PRE, {"_metadata": metadata(**{missing: None})})
    assert missing in caught.value.details[0]["problem"]


def test_callback_must_be_a_completion_url() -> None:
    with pytest.raises(InvalidPayload):
        split_envelope(PRE, {"_metadata": metadata(callbackURL="https://evil.example/steal")})


def test_trigger_id_must_match_the_path() -> None:
    with pytest.raises(InvalidPayload) as caught:
        split_envelope(PRE, {"_metadata": metadata(triggerId="idn:identity-created")})
    assert caught.value.details == [
        {"field": "_metadata.triggerId", "problem": "does not match the URL path"}
    ]


def test_secret_never_prints() -> None:
    delivery = split_envelope(PRE, {"_metadata": metadata()})
    assert "s3cr3t" not in repr(delivery) and "s3cr3t" not in str(delivery.metadata)
    assert delivery.metadata is not None and delivery.metadata.secret is not None
    assert delivery.metadata.secret.get_secret_value() == "s3cr3t"


def test_errors_never_echo_values() -> None:
    with pytest.raises(InvalidPayload) as caught:
        split_envelope(PRE, {"_metadata": metadata(responseMode="PII-VALUE-123")})
    assert "PII-VALUE-123" not in str(caught.value.public_body())
