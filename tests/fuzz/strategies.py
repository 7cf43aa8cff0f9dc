"""Hypothesis strategies for requests to the receiver, and the profile that sizes a run.

`FUZZ_PROFILE` picks the size: `quick` (default, inside the normal test suite: deterministic, a few
hundred examples, seconds) or `deep` (`make fuzz`: random, over 10,000 in-process requests plus an
HTTP pass over local mode). Every generated string that could be echoed is collected as "tainted"
alongside the request, so the checks can prove that no answer repeats it.
"""

from __future__ import annotations

import base64
import copy
import json
import os
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from idn_triggers.catalogue import known_triggers
from tests.fuzz.harness import AUTHORIZATION, TENANT, proxy_event
from tests.support import trigger_document

PROFILE = os.environ.get("FUZZ_PROFILE", "quick")
if PROFILE not in ("quick", "deep"):
    raise SystemExit(f"FUZZ_PROFILE must be quick or deep, not {PROFILE!r}")
DEEP = PROFILE == "deep"
_COMMON: dict[str, Any] = {
    "deadline": None,  # a shared 2-core machine: timing is not what is under test
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    "print_blob": True,
}
settings.register_profile("fuzz-quick", derandomize=True, database=None, **_COMMON)
settings.register_profile("fuzz-deep", **_COMMON)
BASE = settings.get_profile(f"fuzz-{PROFILE}")
EXAMPLES_PER_WEIGHT = 1000 if DEEP else 40


def fuzz_settings(weight: int) -> settings:
    """Settings for one fuzz test: `weight` thousand examples when deep, a few dozen otherwise."""
    return settings(BASE, max_examples=weight * EXAMPLES_PER_WEIGHT)


TRIGGERS = sorted(known_triggers())
REQUEST_RESPONSE = sorted(t for t, info in known_triggers().items() if info.is_request_response)
PRE = "idn:access-request-pre-approval"
EXAMPLES = {trigger: trigger_document(trigger)["exampleInput"] for trigger in TRIGGERS}
CALLBACK = f"{TENANT}/trigger-invocations/v1/{{id}}/complete"

# Callback URLs an attacker would try: the receiver must refuse every one (tests/unit has them too).
FORGED_CALLBACKS = [
    "https://evil.example/trigger-invocations/v1/abc/complete",
    "http://acme.api.identitynow.com/trigger-invocations/v1/abc/complete",
    "https://acme.api.identitynow.com/trigger-subscriptions/v1/abc",
    "https://acme.api.identitynow.com@evil.example/trigger-invocations/v1/abc/complete",
    "https://evil.example\\@acme.api.identitynow.com/trigger-invocations/v1/abc/complete",
    "https://evil.example#@acme.api.identitynow.com/trigger-invocations/v1/abc/complete",
    "https://acme.api.identitynow.com./trigger-invocations/v1/abc/complete",
    "https://acme.api.identitynow.com:8443/trigger-invocations/v1/abc/complete",
    "https://acme.api.xn--identitynw-9ob.com/trigger-invocations/v1/abc/complete",
    "https://acme.api.identityn\u043ew.com/trigger-invocations/v1/abc/complete",  # Cyrillic o
    "https://evil.example:acme.api.identitynow.com/trigger-invocations/v1/abc/complete",
    "https://acme.api.identitynow.com\t/trigger-invocations/v1/abc/complete",
    "//acme.api.identitynow.com/trigger-invocations/v1/abc/complete",
    "file:///etc/passwd#/trigger-invocations/v1/abc/complete",
    "https://acme.api.identitynow.com/v3/sources/X/schemas/../../../v2024/anything"
    "/trigger-invocations/../complete?x=1",
    "https://acme.api.identitynow.com/trigger-invocations/%2e%2e/complete",
    "https://acme.api.identitynow.com/trigger-invocations/v1/abc/complete\n",
]
MODES = ["sync", "SYNC", "async", "ASYNC", "Async", "dynamic", "DYNAMIC", " async ", "", "fire", None]
TRIGGER_TYPES = ["requestResponse", "REQUEST_RESPONSE", "fireAndForget", "FIRE_AND_FORGET", "other", None]
METHODS = [
    "POST",
    "POST",
    "POST",
    "GET",
    "PUT",
    "PATCH",
    "DELETE",
    "HEAD",
    "OPTIONS",
    "TRACE",
    "post",
    "BREW",
]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "",
]


@dataclass
class Request:
    """One generated request and the strings in it that must never come back."""

    event: dict[str, Any]
    tainted: list[str] = field(default_factory=list)


class Taint:
    """Collects generated strings while a request is being built."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def add(self, value: Any) -> Any:
        if isinstance(value, str):
            self.values.append(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                self.add(key)
                self.add(item)
        elif isinstance(value, list):
            for item in value:
                self.add(item)
        return value


# -- values ---------------------------------------------------------------------------------
def text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Any Unicode text, surrogates included (JSON can carry them as escapes)."""
    return st.text(st.characters(codec=None), max_size=max_size)


def header_text(max_size: int = 60) -> st.SearchStrategy[str]:
    """Text API Gateway can put in a header or a path: decoded from HTTP bytes, so never a lone
    surrogate (those only reach the receiver through JSON escapes in a body)."""
    return st.text(st.characters(codec="utf-8"), max_size=max_size)


huge_strings = st.builds(lambda s, n: s * n, text(8).filter(bool), st.integers(1_000, 40_000))
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text(), st.just(""), huge_strings
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=6), st.dictionaries(text(12), children, max_size=6)
    ),
    max_leaves=30,
)

# JSON text Python's json module reads but the receiver must refuse with 400 (issue 27): integers
# past the int-conversion limit, NaN/Infinity, numbers that overflow to infinity. Spliced in as text.
huge_integers = st.builds(
    lambda sign, n: sign + "9" * n, st.sampled_from(["", "-"]), st.integers(4301, 20_000)
)
non_finite = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1E400", "123456789e999"])
# Duplicate keys: parsers disagree on which one wins.
duplicate_keys = st.builds(
    lambda key, a, b: (
        "{" + json.dumps(key) + ": " + json.dumps(a) + ", " + json.dumps(key) + ": " + json.dumps(b) + "}"
    ),
    text(10),
    st.integers(),
    st.integers(),
)
lexical_values = st.one_of(huge_integers, non_finite, duplicate_keys)


def deep_nesting(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"n": value}
    return value


def mutate(value: Any, draw: Any, taint: Taint) -> Any:
    """Change one random place of a JSON value: replace, drop, add, retype, grow or nest it."""
    if isinstance(value, dict) and value and draw(st.booleans()):
        return _mutate_object(value, draw, taint)
    if isinstance(value, list) and value and draw(st.booleans()):
        return _mutate_array(value, draw, taint)
    kind = draw(st.sampled_from(["generated", "generated", "nested", "none"]))
    if kind == "nested":
        return deep_nesting(draw(st.integers(10, 400)))
    return None if kind == "none" else taint.add(draw(json_values))


def _mutate_object(value: dict[str, Any], draw: Any, taint: Taint) -> dict[str, Any]:
    key = draw(st.sampled_from(sorted(value)))
    value = dict(value)
    action = draw(st.sampled_from(["replace", "drop", "recurse", "recurse", "extra"]))
    if action == "replace":
        value[key] = taint.add(draw(json_values))
    elif action == "drop":
        del value[key]
    elif action == "extra":
        value[taint.add(draw(text(20)))] = taint.add(draw(json_values))
    else:
        value[key] = mutate(value[key], draw, taint)
    return value


def _mutate_array(value: list[Any], draw: Any, taint: Taint) -> list[Any]:
    value = list(value)
    action = draw(st.sampled_from(["recurse", "grow", "empty", "drop"]))
    index = draw(st.integers(0, len(value) - 1))
    if action == "grow":  # a long array, kept under ~1 MB of JSON
        return value * draw(st.integers(2, max(2, 1_000_000 // (len(json.dumps(value)) + 1))))
    if action == "empty":
        return []
    if action == "recurse":
        value[index] = mutate(value[index], draw, taint)
    else:
        del value[index]
    return value


@st.composite
def metadata(draw: Any, trigger_id: str, taint: Taint) -> Any:
    """`_metadata` in every mode and shape: valid, forged callback, wrong types, extra keys."""
    invocation = draw(st.sampled_from(["inv-1", "0f5b9f6e-1a2b-4c3d-8e9f-001122334455"]))
    candidate: dict[str, Any] = {
        "callbackURL": draw(
            st.one_of(
                st.just(CALLBACK.format(id=invocation)),
                st.just(CALLBACK.format(id=invocation) + "\n"),  # `$` matches before a final newline
                st.just(CALLBACK.format(id="..")),
                st.sampled_from(FORGED_CALLBACKS),
                text(60).map(taint.add),
                st.builds(lambda s: CALLBACK.format(id=s), text(20).map(taint.add)),
                st.integers(),
            )
        ),
        "secret": draw(st.one_of(st.just("callback-secret-0001"), text(30).map(taint.add), st.integers())),
        "responseMode": draw(st.one_of(st.sampled_from(MODES), text(10).map(taint.add))),
        "triggerId": draw(st.one_of(st.just(trigger_id), st.sampled_from(TRIGGERS), text(30).map(taint.add))),
        "triggerType": draw(st.sampled_from(TRIGGER_TYPES)),
        "invocationId": draw(
            st.one_of(st.none(), st.just(invocation), st.just(invocation + "\n"), text(30).map(taint.add))
        ),
    }
    keys = draw(st.sets(st.sampled_from(sorted(candidate))))
    meta: Any = {key: candidate[key] for key in sorted(keys) if candidate[key] is not None}
    if draw(st.integers(0, 9)) == 0:
        meta[taint.add(draw(text(15)))] = taint.add(draw(json_values))
    if draw(st.integers(0, 19)) == 0:
        meta = taint.add(draw(json_values))  # not an object at all
    return meta


def headers_for(draw: Any, taint: Taint, authorization: str | None = AUTHORIZATION) -> dict[str, str]:
    headers = {"Content-Type": draw(st.sampled_from(CONTENT_TYPES))}
    if authorization is not None:
        headers["Authorization"] = authorization
    return headers


# -- requests -------------------------------------------------------------------------------
@st.composite
def structured_requests(draw: Any) -> Request:
    """A trigger's example input, mutated, with or without `_metadata`: what reaches the models."""
    taint = Taint()
    trigger_id = draw(st.one_of(st.sampled_from(REQUEST_RESPONSE), st.sampled_from(TRIGGERS)))
    payload = copy.deepcopy(EXAMPLES[trigger_id])
    for _ in range(draw(st.integers(0, 3))):
        payload = mutate(payload, draw, taint)
    if draw(st.booleans()):
        if not isinstance(payload, dict):
            payload = {"value": payload}
        payload["_metadata"] = draw(metadata(trigger_id, taint))
    body = json.dumps(payload)
    event = proxy_event(path=f"/triggers/{trigger_id}", headers=headers_for(draw, taint), body=body)
    return Request(event, taint.values)


@st.composite
def metadata_requests(draw: Any) -> Request:
    """A valid input with `_metadata` in every mode and shape (forged callbacks included)."""
    taint = Taint()
    trigger_id = draw(st.sampled_from([*REQUEST_RESPONSE, PRE, "idn:identity-created"]))
    payload = {**copy.deepcopy(EXAMPLES[trigger_id]), "_metadata": draw(metadata(trigger_id, taint))}
    event = proxy_event(
        path=f"/triggers/{trigger_id}", headers=headers_for(draw, taint), body=json.dumps(payload)
    )
    return Request(event, taint.values)


@st.composite
def arbitrary_json_requests(draw: Any) -> Request:
    """Any JSON document (wrong top-level types, huge strings and arrays, deep nesting)."""
    taint = Taint()
    trigger_id = draw(st.sampled_from(TRIGGERS))
    kind = draw(st.sampled_from(["value", "object", "object", "nested"]))
    if kind == "nested":  # built as text: deeper than Python's own recursion limit
        depth = draw(st.integers(10, 50_000))
        opening, closing = draw(st.sampled_from([("[", "]"), ('{"n":', "}"), ('[{"n":', "}]")]))
        body = opening * depth + "0" + closing * depth
    else:
        document = taint.add(draw(json_values if kind == "value" else st.dictionaries(text(), json_values)))
        body = json.dumps(document)
    event = proxy_event(path=f"/triggers/{trigger_id}", headers=headers_for(draw, taint), body=body)
    return Request(event, taint.values)


@st.composite
def raw_body_requests(draw: Any) -> Request:
    """Bodies that are not JSON: text, broken JSON, invalid UTF-8 and base64, oversize, empty."""
    taint = Taint()
    trigger_id = draw(st.sampled_from(TRIGGERS))
    valid = json.dumps(EXAMPLES[trigger_id])
    kind = draw(
        st.sampled_from(["text", "truncated", "bytes", "base64-json", "bad-base64", "oversize", "empty"])
    )
    is_base64 = False
    body: str | None
    if kind == "text":
        body = taint.add(draw(text(200)))
    elif kind == "truncated":
        body = valid[: draw(st.integers(0, len(valid) - 1))] + taint.add(draw(text(10)))
    elif kind == "bytes":
        body, is_base64 = base64.b64encode(draw(st.binary(max_size=300))).decode(), True
    elif kind == "base64-json":
        body, is_base64 = base64.b64encode(valid.encode()).decode(), True
    elif kind == "bad-base64":
        body, is_base64 = taint.add(draw(text(50))), True
    elif kind == "oversize":
        filler = taint.add(draw(text(8).filter(lambda s: len(s) >= 8)))
        size = draw(st.sampled_from([256 * 1024 + 1, 300_000, 1_000_000]))
        body = json.dumps({"pad": filler * (size // len(filler) + 1)})
        if draw(st.booleans()):
            body, is_base64 = base64.b64encode(body.encode()).decode(), True
    else:
        body = draw(st.sampled_from([None, "", " ", "null", "{}", "[]"]))
    event = proxy_event(
        path=f"/triggers/{trigger_id}", headers=headers_for(draw, taint), body=body, is_base64=is_base64
    )
    return Request(event, taint.values)


@st.composite
def envelope_requests(draw: Any) -> Request:
    """Wrong methods and paths, odd or injected headers, missing and wrong credentials."""
    taint = Taint()
    trigger_id = draw(st.sampled_from(TRIGGERS))
    path = draw(
        st.one_of(
            st.just(f"/triggers/{trigger_id}"),
            st.just(f"/triggers/{trigger_id.replace(':', '%3A')}"),
            st.builds(lambda s: f"/triggers/{s}", header_text(40).map(taint.add)),
            st.sampled_from(
                [
                    "/",
                    "/triggers",
                    "/triggers/",
                    f"/triggers/{trigger_id}/x",
                    "//triggers/a",
                    "/v1/triggers/a",
                ]
            ),
        )
    )
    authorization = draw(
        st.one_of(
            st.just(AUTHORIZATION),
            st.none(),
            st.sampled_from(
                ["Bearer", "Bearer ", "bearer fuzz", "Basic Zm9vOmJhcg==", "Basic !!!", AUTHORIZATION + "x"]
            ),
            header_text(60).map(taint.add),
            st.builds(lambda s: f"Bearer {s}", header_text(60).map(taint.add)),
            st.just(AUTHORIZATION + "\r\nX-Injected: yes"),
        )
    )
    headers: dict[str, str] = headers_for(draw, taint, authorization)
    extra = draw(st.dictionaries(header_text(20), header_text(80), max_size=4))
    headers.update(taint.add(extra))
    multi: dict[str, list[str]] | None = {key: [value] for key, value in headers.items()}
    if draw(st.integers(0, 4)) == 0 and multi is not None:  # a second, different credential
        multi["Authorization"] = [AUTHORIZATION, taint.add(draw(header_text(30)))]
    if draw(st.integers(0, 9)) == 0:
        headers, multi = None, None  # type: ignore[assignment]
    event = proxy_event(
        method=draw(st.sampled_from(METHODS)),
        path=path,
        headers=headers,
        multi_value_headers=multi,
        body=json.dumps(EXAMPLES[trigger_id]),
    )
    return Request(event, taint.values)


@st.composite
def lexical_requests(draw: Any) -> Request:
    """A trigger's example input (with or without `_metadata`) whose JSON text carries a huge
    integer, NaN/Infinity/1e999 or a duplicate key, at the top level or nested."""
    taint = Taint()
    trigger_id = draw(st.sampled_from([*REQUEST_RESPONSE, *TRIGGERS]))
    example = EXAMPLES[trigger_id]
    payload = copy.deepcopy(example) if isinstance(example, dict) and example else {"value": 1}
    if draw(st.booleans()):
        payload["_metadata"] = draw(metadata(trigger_id, taint))
    raw = draw(lexical_values)
    where = draw(st.sampled_from(["top", "nested", "array", "metadata-key"]))
    document = json.dumps(payload)[:-1]
    if where == "top":
        body = f'{document}, "extra": {raw}}}'
    elif where == "nested":
        body = f'{document}, "extra": {{"inner": [1, {raw}]}}}}'
    elif where == "array":
        body = f"[{raw}]"
    else:  # a second `_metadata`: which one is the real envelope?
        body = f'{document}, "_metadata": {{"responseMode": "sync", "x": {raw}}}}}'
    event = proxy_event(path=f"/triggers/{trigger_id}", headers=headers_for(draw, taint), body=body)
    return Request(event, taint.values)
