"""The tenant simulator over plain HTTP: auth, limits, subscriptions, invocations, completions."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from idn_simulator import InvocationRecord, InvocationState, TenantSimulator
from tests.integration.conftest_simulator import (
    CLIENT_ID,
    CLIENT_SECRET,
    DYNAMIC_APPROVER,
    GOOD_DECISION,
    IDENTITY_CHANGED,
    PRE_APPROVAL,
    Client,
    Receiver,
    error_text,
    fetch_token,
    http_subscription,
    running_receiver,
    running_simulator,
)

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def client(sim: TenantSimulator) -> Iterator[Client]:
    api = Client(sim)
    yield api
    api.close()


def subscribe(client: Client, body: dict[str, object]) -> str:
    response = client.post("/trigger-subscriptions/v1", json=body)
    assert response.status_code == 201, response.text
    subscription_id: str = response.json()["id"]
    return subscription_id


def start_test(client: Client, trigger_id: str, **extra: object) -> requests.Response:
    return client.post(
        "/trigger-invocations/v1/test", json={"triggerId": trigger_id, "contentJson": {}, **extra}
    )


def started_invocation(client: Client, trigger_id: str, **extra: object) -> str:
    response = start_test(client, trigger_id, **extra)
    assert response.status_code == 200, response.text
    invocation_id: str = response.json()[0]["id"]
    return invocation_id


def awaiting_callback(
    sim: TenantSimulator, receiver: Receiver, client: Client, mode: str = "ASYNC"
) -> dict[str, str]:
    """Given an ASYNC pre-approval invocation that the receiver acknowledged: its _metadata."""
    subscribe(client, http_subscription(PRE_APPROVAL, receiver.url, mode))
    receiver.answer_with(202 if mode == "DYNAMIC" else 200, {})
    invocation_id = started_invocation(client, PRE_APPROVAL)
    assert sim.wait_for_invocation(invocation_id).state is InvocationState.AWAITING_CALLBACK
    metadata: dict[str, str] = receiver.wait_for(1)[0].body["_metadata"]
    return metadata


# OAuth and auth ---------------------------------------------------------------------------------


def test_token_request_with_wrong_client_is_401(sim: TenantSimulator) -> None:
    response = requests.post(
        f"{sim.url}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "wrong"},
        timeout=5,
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert sim.stats.token_requests == 1
    assert sim.stats.tokens_issued == 0


def test_token_request_answers_like_sailpoint(sim: TenantSimulator) -> None:
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()

    response = requests.post(
        f"{sim.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
        timeout=5,
    )

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 749
    assert isinstance(body["access_token"], str) and len(body["access_token"]) > 20
    assert response.headers["Cache-Control"] == "no-store"


def test_token_request_accepts_query_parameters(sim: TenantSimulator) -> None:
    response = requests.post(
        f"{sim.url}/oauth/token",
        params={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        timeout=5,
    )

    assert response.status_code == 200


def test_request_without_token_is_401(sim: TenantSimulator) -> None:
    response = requests.get(f"{sim.url}/triggers/v1", timeout=5)

    assert response.status_code == 401
    assert response.json() == {"error": "JWT validation failed: JWT is missing"}


def test_expired_token_is_401(sim: TenantSimulator, client: Client) -> None:
    assert client.get("/triggers/v1").status_code == 200

    sim.expire_tokens()
    response = client.get("/triggers/v1")

    assert response.status_code == 401
    assert response.json() == {"error": "JWT validation failed: JWT is expired"}


def test_token_expires_after_its_lifetime() -> None:
    with running_simulator(token_lifetime=1) as sim:
        token = fetch_token(sim)
        headers = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{sim.url}/triggers/v1", headers=headers, timeout=5).status_code == 200

        deadline = time.monotonic() + 3
        status = 200
        while status == 200 and time.monotonic() < deadline:
            time.sleep(0.1)
            status = requests.get(f"{sim.url}/triggers/v1", headers=headers, timeout=5).status_code

        assert status == 401


def test_rate_limit_answers_429_with_retry_after(sim: TenantSimulator, client: Client) -> None:
    sim.set_rate_limit(3)

    statuses = [client.get("/triggers/v1?limit=1").status_code for _ in range(4)]
    response = client.get("/triggers/v1?limit=1")

    assert statuses == [200, 200, 200, 429]
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 10
    assert response.json() == {"message": " Rate Limit Exceeded "}
    assert sim.stats.rate_limited == 2


def test_rate_limit_counts_per_client_not_per_token(sim: TenantSimulator, client: Client) -> None:
    sim.set_rate_limit(2)
    for _ in range(2):
        assert client.get("/triggers/v1?limit=1").status_code == 200

    fresh = Client(sim)  # a new access token for the same client_id
    try:
        response = fresh.get("/triggers/v1?limit=1")
    finally:
        fresh.close()

    assert response.status_code == 429


def test_rate_limit_counts_each_api_version_apart(sim: TenantSimulator, client: Client) -> None:
    sim.set_rate_limit(2)
    for _ in range(2):
        assert client.get("/triggers/v1?limit=1").status_code == 200

    assert client.get("/beta/triggers?limit=1").status_code == 200
    assert client.get("/triggers/v1?limit=1").status_code == 429


def test_legacy_paths_answer_x_deprecated_and_v1_paths_do_not(client: Client) -> None:
    legacy = client.get("/beta/triggers?limit=1")
    current = client.get("/triggers/v1?limit=1")

    assert legacy.headers.get("X-Deprecated") == "true"
    assert "X-Deprecated" not in current.headers


# Triggers -----------------------------------------------------------------------------------------


def test_triggers_are_listed_with_schemas_as_json_strings(client: Client) -> None:
    response = client.get("/triggers/v1", params={"count": "true", "limit": 250})

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "42"
    triggers = {trigger["id"]: trigger for trigger in response.json()}
    pre = triggers[PRE_APPROVAL]
    assert pre["type"] == "REQUEST_RESPONSE"
    assert json.loads(pre["inputSchema"])["type"] == "object"
    assert set(json.loads(pre["outputSchema"])["required"]) == {"approved", "comment", "approver"}
    assert triggers[IDENTITY_CHANGED]["outputSchema"] is None


def test_triggers_support_filters_sorters_and_paging(client: Client) -> None:
    only = client.get("/triggers/v1", params={"filters": f'id eq "{PRE_APPROVAL}"'}).json()
    page = client.get("/triggers/v1", params={"sorters": "-id", "limit": 2, "offset": 1}).json()
    everything = client.get("/triggers/v1", params={"sorters": "-id"}).json()

    assert [trigger["id"] for trigger in only] == [PRE_APPROVAL]
    assert [trigger["id"] for trigger in page] == [trigger["id"] for trigger in everything[1:3]]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 251},
        {"offset": -1},
        {"filters": 'name eq "x"'},
        {"filters": 'id co "x"'},
        {"sorters": "type"},
    ],
)
def test_unsupported_collection_parameters_are_400(client: Client, params: dict[str, object]) -> None:
    response = client.get("/triggers/v1", params=params)

    assert response.status_code == 400
    assert error_text(response)


# Subscriptions ------------------------------------------------------------------------------------


def test_request_response_trigger_allows_one_subscription(client: Client, receiver: Receiver) -> None:
    first = subscribe(client, http_subscription(PRE_APPROVAL, receiver.url))

    response = client.post("/trigger-subscriptions/v1", json=http_subscription(PRE_APPROVAL, receiver.url))

    assert response.status_code == 400
    assert first in error_text(response)


def test_fire_and_forget_trigger_allows_fifty_subscriptions(client: Client, receiver: Receiver) -> None:
    for _ in range(50):
        subscribe(client, http_subscription(IDENTITY_CHANGED, receiver.url))

    response = client.post(
        "/trigger-subscriptions/v1", json=http_subscription(IDENTITY_CHANGED, receiver.url)
    )

    assert response.status_code == 400
    assert "50" in error_text(response)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"triggerId": "idn:no-such-trigger"}, "triggerId"),
        ({"type": "SMTP"}, "type"),
        ({"httpConfig": {"url": "ftp://x", "httpDispatchMode": "SYNC"}}, "url"),
        ({"httpConfig": {"url": "https://x.example", "httpDispatchMode": "LATER"}}, "httpDispatchMode"),
        ({"responseDeadline": "one hour"}, "responseDeadline"),
        ({"filter": "$[?(@.a == "}, "filter"),
        ({"name": None}, "name"),
    ],
)
def test_invalid_subscription_is_400_naming_the_field(
    client: Client, receiver: Receiver, change: dict[str, object], needle: str
) -> None:
    body = {**http_subscription(IDENTITY_CHANGED, receiver.url), **change}

    response = client.post("/trigger-subscriptions/v1", json=body)

    assert response.status_code == 400
    assert needle in error_text(response)


def test_subscription_secrets_are_never_answered(client: Client, receiver: Receiver) -> None:
    body = http_subscription(IDENTITY_CHANGED, receiver.url)
    body["httpConfig"] |= {
        "httpAuthenticationType": "BASIC_AUTH",
        "basicAuthConfig": {"userName": "u", "password": "p"},
    }

    created = client.post("/trigger-subscriptions/v1", json=body).json()
    listed = client.get("/trigger-subscriptions/v1").json()

    assert created["httpConfig"]["basicAuthConfig"] == {"userName": "u", "password": None}
    assert listed[0]["httpConfig"]["basicAuthConfig"]["password"] is None


def test_subscription_list_filters_by_trigger_id(client: Client, receiver: Receiver) -> None:
    subscribe(client, http_subscription(IDENTITY_CHANGED, receiver.url))
    wanted = subscribe(client, http_subscription(PRE_APPROVAL, receiver.url))

    listed = client.get(
        "/trigger-subscriptions/v1", params={"filters": f'triggerId eq "{PRE_APPROVAL}"'}
    ).json()

    assert [sub["id"] for sub in listed] == [wanted]


def test_json_patch_applies_add_replace_and_remove(client: Client, receiver: Receiver) -> None:
    subscription_id = subscribe(client, http_subscription(IDENTITY_CHANGED, receiver.url, description="old"))
    patch = [
        {"op": "replace", "path": "/name", "value": "renamed"},
        {"op": "add", "path": "/filter", "value": '$[?($.identity.name == "x")]'},
        {"op": "remove", "path": "/description"},
        {"op": "replace", "path": "/enabled", "value": False},
        {"op": "replace", "path": "/httpConfig/httpDispatchMode", "value": "ASYNC"},
    ]

    response = client.request(
        "PATCH",
        f"/trigger-subscriptions/v1/{subscription_id}",
        data=json.dumps(patch),
        headers={"Content-Type": "application/json-patch+json"},
    )

    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["name"] == "renamed"
    assert patched["filter"] == '$[?($.identity.name == "x")]'
    assert patched["description"] is None  # documented fields are serialized, null when unset
    assert patched["enabled"] is False
    assert patched["httpConfig"]["httpDispatchMode"] == "ASYNC"


def test_json_patch_keeps_the_stored_secret(sim: TenantSimulator, client: Client, receiver: Receiver) -> None:
    body = http_subscription(IDENTITY_CHANGED, receiver.url)
    body["httpConfig"] |= {
        "httpAuthenticationType": "BEARER_TOKEN",
        "bearerTokenAuthConfig": {"bearerToken": "t1"},
    }
    subscription_id = subscribe(client, body)

    client.request(
        "PATCH",
        f"/trigger-subscriptions/v1/{subscription_id}",
        json=[{"op": "replace", "path": "/name", "value": "renamed"}],
        headers={"Content-Type": "application/json-patch+json"},
    )
    started_invocation(client, IDENTITY_CHANGED)

    assert receiver.wait_for(1)[0].headers["Authorization"] == "Bearer t1"


@pytest.mark.parametrize("field", ["filter", "description"])
def test_documented_fields_unset_are_null_so_replace_and_remove_apply(
    client: Client, receiver: Receiver, field: str
) -> None:
    subscription_id = subscribe(client, http_subscription(IDENTITY_CHANGED, receiver.url))
    url = f"/trigger-subscriptions/v1/{subscription_id}"
    headers = {"Content-Type": "application/json-patch+json"}
    value = '$[?($.identity.name == "x")]' if field == "filter" else "text"

    [shown] = client.get("/trigger-subscriptions/v1", params={"filters": f'id eq "{subscription_id}"'}).json()
    replaced = client.request(
        "PATCH",
        url,
        data=json.dumps([{"op": "replace", "path": f"/{field}", "value": value}]),
        headers=headers,
    )
    removed = client.request(
        "PATCH", url, data=json.dumps([{"op": "remove", "path": f"/{field}"}]), headers=headers
    )
    removed_again = client.request(
        "PATCH", url, data=json.dumps([{"op": "remove", "path": f"/{field}"}]), headers=headers
    )

    assert shown[field] is None
    assert replaced.status_code == 200 and replaced.json()[field] == value
    assert removed.status_code == 200 and removed.json()[field] is None
    assert removed_again.status_code == 200 and removed_again.json()[field] is None


@pytest.mark.parametrize(
    ("patch", "status"),
    [
        ([{"op": "replace", "path": "/triggerId", "value": PRE_APPROVAL}], 400),
        ([{"op": "replace", "path": "/id", "value": "x"}], 400),
        ([{"op": "remove", "path": "/name"}], 400),
        ([{"op": "test", "path": "/name", "value": "x"}], 400),
        ({"op": "replace"}, 400),
    ],
)
def test_invalid_json_patch_is_400(client: Client, receiver: Receiver, patch: object, status: int) -> None:
    subscription_id = subscribe(client, http_subscription(IDENTITY_CHANGED, receiver.url))

    response = client.request(
        "PATCH",
        f"/trigger-subscriptions/v1/{subscription_id}",
        data=json.dumps(patch),
        headers={"Content-Type": "application/json-patch+json"},
    )

    assert response.status_code == status
    assert error_text(response)


def test_json_patch_needs_its_content_type(client: Client, receiver: Receiver) -> None:
    subscription_id = subscribe(client, http_subscription(IDENTITY_CHANGED, receiver.url))

    response = client.request(
        "PATCH", f"/trigger-subscriptions/v1/{subscription_id}", json=[{"op": "remove", "path": "/filter"}]
    )

    assert response.status_code == 415


def test_put_replaces_and_rejects_a_trigger_change(client: Client, receiver: Receiver) -> None:
    subscription_id = subscribe(client, http_subscription(IDENTITY_CHANGED, receiver.url))
    replacement = http_subscription(IDENTITY_CHANGED, receiver.url, "SYNC", name="replaced")

    replaced = client.request("PUT", f"/trigger-subscriptions/v1/{subscription_id}", json=replacement)
    moved = client.request(
        "PUT", f"/trigger-subscriptions/v1/{subscription_id}", json={**replacement, "triggerId": PRE_APPROVAL}
    )

    assert replaced.status_code == 200
    assert replaced.json()["name"] == "replaced"
    assert moved.status_code == 400
    assert "immutable" in error_text(moved)


def test_delete_answers_204_then_404(client: Client, receiver: Receiver) -> None:
    subscription_id = subscribe(client, http_subscription(IDENTITY_CHANGED, receiver.url))

    first = client.request("DELETE", f"/trigger-subscriptions/v1/{subscription_id}")
    second = client.request("DELETE", f"/trigger-subscriptions/v1/{subscription_id}")

    assert first.status_code == 204
    assert second.status_code == 404
    assert error_text(second)


def test_legacy_beta_paths_reach_the_same_tenant(sim: TenantSimulator, receiver: Receiver) -> None:
    beta = Client(sim, "/beta")
    v2025 = Client(sim, "/v2025")
    created = beta.post("/trigger-subscriptions", json=http_subscription(PRE_APPROVAL, receiver.url, "ASYNC"))

    listed = v2025.get("/trigger-subscriptions").json()
    started = beta.post("/trigger-invocations/test", json={"triggerId": PRE_APPROVAL, "contentJson": {}})
    metadata = receiver.wait_for(1)[0].body["_metadata"]
    invocation_id = started.json()[0]["id"]

    assert created.status_code == 201
    assert [sub["id"] for sub in listed] == [created.json()["id"]]
    assert metadata["callbackURL"] == f"{sim.url}/beta/trigger-invocations/{invocation_id}/complete"
    completed = beta.post(
        f"/trigger-invocations/{invocation_id}/complete",
        json={"secret": metadata["secret"], "output": GOOD_DECISION},
    )
    assert completed.status_code == 204
    beta.close()
    v2025.close()


# Filters ------------------------------------------------------------------------------------------


def test_validate_filter_reports_match_and_existence(client: Client) -> None:
    payload = {"identity": {"attributes": {"department": "Engineering"}}}

    match = client.post(
        "/trigger-subscriptions/v1/validate-filter",
        json={"input": payload, "filter": '$[?($.identity.attributes.department == "Engineering")]'},
    ).json()
    missing = client.post(
        "/trigger-subscriptions/v1/validate-filter", json={"input": payload, "filter": '$[?($.nope == "x")]'}
    ).json()
    broken = client.post(
        "/trigger-subscriptions/v1/validate-filter", json={"input": payload, "filter": "$[?(@.a =="}
    ).json()

    assert match == {"isValid": True, "isValidJSONPath": True, "isPathExist": True}
    assert missing == {"isValid": False, "isValidJSONPath": True, "isPathExist": False}
    assert broken == {"isValid": False, "isValidJSONPath": False, "isPathExist": False}


def test_filter_that_does_not_match_sends_nothing(
    sim: TenantSimulator, client: Client, receiver: Receiver
) -> None:
    subscribe(
        client,
        http_subscription(IDENTITY_CHANGED, receiver.url, filter='$[?($.identity.name == "Nobody")]'),
    )

    response = start_test(client, IDENTITY_CHANGED)

    assert response.status_code == 204
    assert sim.invocations() == []
    assert receiver.received == []


# Invocations --------------------------------------------------------------------------------------


def test_fire_and_forget_delivery_posts_input_without_metadata(
    sim: TenantSimulator, client: Client, receiver: Receiver
) -> None:
    body = http_subscription(IDENTITY_CHANGED, receiver.url)
    body["httpConfig"] |= {
        "httpAuthenticationType": "BASIC_AUTH",
        "basicAuthConfig": {"userName": "u", "password": "p"},
    }
    subscribe(client, body)

    invocation_id = started_invocation(client, IDENTITY_CHANGED, input={"identity": {"id": "1"}})
    record = sim.wait_for_invocation(invocation_id)
    request = receiver.wait_for(1)[0]

    assert request.body == {"identity": {"id": "1"}}
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    assert record.state is InvocationState.COMPLETED
    assert record.kind == "TEST"


def test_test_invocation_defaults_to_the_example_input(
    sim: TenantSimulator, client: Client, receiver: Receiver
) -> None:
    subscribe(client, http_subscription(IDENTITY_CHANGED, receiver.url))

    started_invocation(client, IDENTITY_CHANGED)

    assert receiver.wait_for(1)[0].body["identity"]["name"]


def test_sync_invocation_is_recorded_with_its_validated_answer(
    sim: TenantSimulator, client: Client, receiver: Receiver
) -> None:
    subscribe(client, http_subscription(PRE_APPROVAL, receiver.url, "SYNC"))
    receiver.answer_with(200, GOOD_DECISION)

    invocation_id = started_invocation(client, PRE_APPROVAL)
    record = sim.wait_for_invocation(invocation_id)

    assert "_metadata" not in receiver.wait_for(1)[0].body
    assert record.state is InvocationState.COMPLETED
    assert record.completed_via == "sync-response"
    assert record.output == GOOD_DECISION
    assert record.attempts[0].accepted


def test_sync_invocation_with_invalid_answer_fails(
    sim: TenantSimulator, client: Client, receiver: Receiver
) -> None:
    subscribe(client, http_subscription(PRE_APPROVAL, receiver.url, "SYNC"))
    receiver.answer_with(200, {"approved": "yes"})

    record = sim.wait_for_invocation(started_invocation(client, PRE_APPROVAL))

    assert record.state is InvocationState.FAILED
    assert record.failure is not None and "$.approved" in record.failure and "$.comment" in record.failure


def test_sync_invocation_with_error_status_fails(
    sim: TenantSimulator, client: Client, receiver: Receiver
) -> None:
    subscribe(client, http_subscription(PRE_APPROVAL, receiver.url, "SYNC"))
    receiver.answer_with(500, {"oops": True})

    record = sim.wait_for_invocation(started_invocation(client, PRE_APPROVAL))

    assert record.state is InvocationState.FAILED
    assert record.failure == "subscriber answered 500"


def test_async_invocation_sends_metadata_and_waits_for_the_callback(
    sim: TenantSimulator, client: Client, receiver: Receiver
) -> None:
    metadata = awaiting_callback(sim, receiver, client)

    assert metadata["responseMode"] == "async"
    assert metadata["triggerType"] == "requestResponse"
    assert metadata["triggerId"] == PRE_APPROVAL
    assert metadata["callbackURL"].startswith(f"{sim.url}/trigger-invocations/v1/")
    assert metadata["callbackURL"].endswith("/complete")


def test_dynamic_invocation_completes_with_a_200_answer(
    sim: TenantSimulator, client: Client, receiver: Receiver
) -> None:
    subscribe(client, http_subscription(DYNAMIC_APPROVER, receiver.url, "DYNAMIC"))
    receiver.answer_with(200, {"id": "2c9", "name": "Adam", "type": "IDENTITY"})

    record = sim.wait_for_invocation(started_invocation(client, DYNAMIC_APPROVER))

    assert receiver.wait_for(1)[0].body["_metadata"]["responseMode"] == "dynamic"
    assert record.state is InvocationState.COMPLETED
    assert record.completed_via == "dynamic-response"


def test_dynamic_invocation_with_202_completes_by_callback(
    sim: TenantSimulator, client: Client, receiver: Receiver
) -> None:
    metadata = awaiting_callback(sim, receiver, client, mode="DYNAMIC")

    response = requests.post(
        metadata["callbackURL"],
        json={"secret": metadata["secret"], "output": GOOD_DECISION},
        headers=client.session.headers,
        timeout=5,
    )

    assert response.status_code == 204
    record = sim.invocations()[0]
    assert record.state is InvocationState.COMPLETED
    assert record.completed_via == "callback"


# Completion ---------------------------------------------------------------------------------------


def complete(client: Client, metadata: dict[str, str], **body: object) -> requests.Response:
    return requests.post(
        metadata["callbackURL"],
        json={"secret": metadata["secret"], **body},
        headers=client.session.headers,
        timeout=5,
    )


def test_completion_with_valid_output_is_204_and_recorded(
    sim: TenantSimulator, client: Client, receiver: Receiver
) -> None:
    metadata = awaiting_callback(sim, receiver, client)

    response = complete(client, metadata, output=GOOD_DECISION)
    status = client.get("/trigger-invocations/v1/status").json()[0]

    assert response.status_code == 204
    assert sim.invocations()[0].state is InvocationState.COMPLETED
    assert status["completeInvocationInput"]["output"] == GOOD_DECISION
    assert status["completed"].endswith("Z")
    assert sim.stats.completions_accepted == 1


def test_completion_needs_a_bearer_token(sim: TenantSimulator, client: Client, receiver: Receiver) -> None:
    metadata = awaiting_callback(sim, receiver, client)

    response = requests.post(
        metadata["callbackURL"], json={"secret": metadata["secret"], "output": GOOD_DECISION}, timeout=5
    )

    assert response.status_code == 401


def test_completion_with_wrong_secret_is_403(
    sim: TenantSimulator, client: Client, receiver: Receiver
) -> None:
    metadata = awaiting_callback(sim, receiver, client)

    response = complete(client, {**metadata, "secret": "not-the-secret"}, output=GOOD_DECISION)

    assert response.status_code == 403
    assert sim.invocations()[0].state is InvocationState.AWAITING_CALLBACK


def test_completion_of_unknown_invocation_is_404(client: Client, sim: TenantSimulator) -> None:
    response = client.post("/trigger-invocations/v1/nope/complete", json={"secret": "s", "output": {}})

    assert response.status_code == 404


def test_completion_with_invalid_output_names_the_field_path(
    sim: TenantSimulator, client: Client, receiver: Receiver
) -> None:
    metadata = awaiting_callback(sim, receiver, client)

    response = complete(client, metadata, output={**GOOD_DECISION, "approved": "yes"})

    assert response.status_code == 400
    assert "$.output.approved" in error_text(response)
    record = sim.invocations()[0]
    assert record.state is InvocationState.AWAITING_CALLBACK
    assert record.attempts[-1].accepted is False


def test_completion_twice_is_400(sim: TenantSimulator, client: Client, receiver: Receiver) -> None:
    metadata = awaiting_callback(sim, receiver, client)
    assert complete(client, metadata, output=GOOD_DECISION).status_code == 204

    response = complete(client, metadata, output=GOOD_DECISION)

    assert response.status_code == 400
    assert "already completed" in error_text(response)


def test_completion_with_error_fails_the_invocation(
    sim: TenantSimulator, client: Client, receiver: Receiver
) -> None:
    metadata = awaiting_callback(sim, receiver, client)

    response = complete(client, metadata, error="handler crashed")
    status = client.get("/trigger-invocations/v1/status").json()[0]

    assert response.status_code == 204
    assert sim.invocations()[0].state is InvocationState.FAILED
    assert status["completeInvocationInput"]["localizedError"] == {
        "locale": "en-US",
        "message": "handler crashed",
    }


def test_completion_after_the_deadline_is_400(
    sim: TenantSimulator, client: Client, receiver: Receiver
) -> None:
    subscribe(client, http_subscription(PRE_APPROVAL, receiver.url, "ASYNC", responseDeadline="PT0.3S"))
    invocation_id = started_invocation(client, PRE_APPROVAL)
    metadata = receiver.wait_for(1)[0].body["_metadata"]

    record = sim.wait_for_invocation(lambda r: r.id == invocation_id and r.settled, timeout=5)
    response = complete(client, metadata, output=GOOD_DECISION)

    assert record.failure == "deadline passed"
    assert response.status_code == 400
    assert "deadline passed" in error_text(response)


def test_invocation_status_lists_test_invocations(
    sim: TenantSimulator, client: Client, receiver: Receiver
) -> None:
    subscription_id = subscribe(client, http_subscription(IDENTITY_CHANGED, receiver.url))
    invocation_id = started_invocation(client, IDENTITY_CHANGED, contentJson={"workflowId": 1234})
    sim.wait_for_invocation(invocation_id)

    statuses = client.get(
        "/trigger-invocations/v1/status", params={"filters": f'triggerId eq "{IDENTITY_CHANGED}"'}
    ).json()

    assert [status["id"] for status in statuses] == [invocation_id]
    assert statuses[0]["subscriptionId"] == subscription_id
    assert statuses[0]["type"] == "TEST"
    assert statuses[0]["startInvocationInput"]["contentJson"] == {"workflowId": 1234}


# Faults -------------------------------------------------------------------------------------------


def test_failed_completions_leave_the_invocation_open(
    sim: TenantSimulator, client: Client, receiver: Receiver
) -> None:
    metadata = awaiting_callback(sim, receiver, client)
    sim.faults.fail_next_completions(2, status=500)

    statuses = [complete(client, metadata, output=GOOD_DECISION).status_code for _ in range(3)]

    assert statuses == [500, 500, 204]
    assert sim.stats.completions == 3
    assert sim.invocations()[0].state is InvocationState.COMPLETED


def test_delayed_completion_is_held(sim: TenantSimulator, client: Client, receiver: Receiver) -> None:
    metadata = awaiting_callback(sim, receiver, client)
    sim.faults.delay_next_completions(1, seconds=0.3)

    started = time.monotonic()
    response = complete(client, metadata, output=GOOD_DECISION)

    assert response.status_code == 204
    assert time.monotonic() - started >= 0.3


def test_throttled_requests_answer_429_then_recover(sim: TenantSimulator, client: Client) -> None:
    sim.faults.throttle_next_requests(1, retry_after=2)

    throttled = client.get("/triggers/v1?limit=1")
    recovered = client.get("/triggers/v1?limit=1")

    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "2"
    assert recovered.status_code == 200


def test_failed_token_request_then_success(sim: TenantSimulator) -> None:
    sim.faults.fail_next_token_requests(1, status=503)

    first = requests.post(
        f"{sim.url}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        timeout=5,
    )

    assert first.status_code == 503
    assert fetch_token(sim)
    assert sim.stats.token_requests == 2


def test_admin_endpoints_drive_faults_tokens_and_reset(
    sim: TenantSimulator, client: Client, receiver: Receiver
) -> None:
    admin = f"{sim.url}/_sim"
    added = requests.post(f"{admin}/faults", json={"requests": {"count": 1, "status": 502}}, timeout=5)
    failed = client.get("/triggers/v1?limit=1")
    expired = requests.post(f"{admin}/tokens/expire", timeout=5)
    after_expiry = client.get("/triggers/v1?limit=1")
    fresh = Client(sim)
    subscribe(fresh, http_subscription(IDENTITY_CHANGED, receiver.url))
    fresh.close()
    stats = requests.get(f"{admin}/stats", timeout=5).json()
    reset = requests.post(f"{admin}/reset", timeout=5)

    assert added.status_code == 200 and added.json()["requests"][0]["status"] == 502
    assert failed.status_code == 502
    assert expired.status_code == 204
    assert after_expiry.status_code == 401
    assert stats["token_requests"] == 2
    assert stats["requests"] == 3
    assert reset.status_code == 204
    assert sim.subscriptions() == []
    assert sim.stats.requests == 0


def test_admin_fault_body_is_validated(sim: TenantSimulator) -> None:
    response = requests.post(
        f"{sim.url}/_sim/faults", json={"completions": {"count": 0, "status": 500}}, timeout=5
    )

    assert response.status_code == 400
    assert "count" in error_text(response)


def test_admin_invocations_show_full_records_without_secret(
    sim: TenantSimulator, client: Client, receiver: Receiver
) -> None:
    metadata = awaiting_callback(sim, receiver, client)

    records = requests.get(f"{sim.url}/_sim/invocations", timeout=5).json()

    assert records[0]["state"] == "AWAITING_CALLBACK"
    assert records[0]["callback_url"] == metadata["callbackURL"]
    assert metadata["secret"] not in json.dumps(records)


def test_admin_event_is_delivered_real_time_to_enabled_subscriptions(
    sim: TenantSimulator, client: Client, receiver: Receiver
) -> None:
    subscribe(client, http_subscription(IDENTITY_CHANGED, receiver.url))
    subscribe(client, http_subscription(IDENTITY_CHANGED, receiver.url, enabled=False))

    response = requests.post(
        f"{sim.url}/_sim/events",
        json={"triggerId": IDENTITY_CHANGED, "input": {"identity": {"id": "7"}}},
        timeout=5,
    )
    record: InvocationRecord = sim.wait_for_invocation(response.json()[0]["id"])

    assert len(response.json()) == 1
    assert record.kind == "REAL_TIME"
    assert receiver.wait_for(1)[0].body == {"identity": {"id": "7"}}


# Robustness ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/trigger-subscriptions/v1", b"{not json", 400),
        ("POST", "/trigger-subscriptions/v1", b"[1, 2]", 400),
        ("POST", "/trigger-invocations/v1/test", b'{"triggerId": "idn:nope", "contentJson": {}}', 400),
        ("POST", "/trigger-invocations/v1/test", b'{"triggerId": "idn:identity-created"}', 400),
        ("GET", "/no/such/endpoint", b"", 404),
        ("DELETE", "/triggers/v1", b"", 405),
        (
            "POST",
            "/trigger-subscriptions/v1/validate-filter",
            b'{"input": {}, "filter": "$[?(@.a all [1])]"}',
            400,
        ),
    ],
)
def test_bad_requests_get_sailpoint_error_bodies(
    client: Client, method: str, path: str, body: bytes, status: int
) -> None:
    response = client.request(method, path, data=body, headers={"Content-Type": "application/json"})

    assert response.status_code == status
    assert error_text(response)


def test_stop_closes_the_port() -> None:
    with running_simulator() as sim:
        port = sim.port
        client = Client(sim)
        client.get("/triggers/v1?limit=1")  # leaves a keep-alive connection open
    client.close()

    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
