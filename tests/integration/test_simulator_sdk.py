"""SailPoint's own Python SDK as the judge of the simulator: every answer must parse into its models."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

# Imported, never skipped: the SDK is a dev dependency, and a missing SDK must fail the suite.
import sailpoint.configuration as sailpoint_configuration
import sailpoint.triggers as triggers_sdk
from sailpoint.triggers import exceptions, models

from idn_simulator import InvocationState, TenantSimulator
from tests.integration.conftest_simulator import (
    CLIENT_ID,
    CLIENT_SECRET,
    GOOD_DECISION,
    IDENTITY_CHANGED,
    PRE_APPROVAL,
    Receiver,
    running_receiver,
)

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.filterwarnings("ignore::UserWarning:sailpoint"),  # the SDK warns on enum values it lacks
]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def api(sim: TenantSimulator) -> Iterator[Any]:
    """The SDK's TriggersApi against the simulator: base_url is the tenant API root, and the SDK
    fetches its token from ``{base_url}/oauth/token`` when the Configuration is built."""
    params = sailpoint_configuration.ConfigurationParams()
    params.base_url = sim.url
    params.client_id = CLIENT_ID
    params.client_secret = CLIENT_SECRET
    configuration = sailpoint_configuration.Configuration(params)
    assert configuration.access_token, "the SDK could not get a token from the simulator"
    with triggers_sdk.ApiClient(configuration) as client:
        yield triggers_sdk.TriggersApi(client)


def test_sdk_gets_its_token_with_client_credentials(sim: TenantSimulator, api: Any) -> None:
    assert sim.stats.token_requests == 1
    assert sim.stats.tokens_issued == 1


def test_sdk_reads_the_trigger_catalogue(api: Any) -> None:
    response = api.list_triggers_v1_without_preload_content(limit=250)
    triggers = json.loads(response.data)
    # The SDK's exampleInput one-of model rejects most real examples, so each trigger is parsed
    # with an example input the SDK accepts; every other field goes through its Trigger model.
    accepted_example = next(t["exampleInput"] for t in triggers if t["id"] == IDENTITY_CHANGED)

    parsed = [models.Trigger.from_dict({**trigger, "exampleInput": accepted_example}) for trigger in triggers]

    assert response.status == 200
    assert len(parsed) == 42
    by_id = {trigger.id: trigger for trigger in parsed}
    assert json.loads(by_id[PRE_APPROVAL].output_schema)["required"] == ["approved", "comment", "approver"]
    assert by_id[PRE_APPROVAL].example_output.actual_instance.approved is True


def test_sdk_manages_a_subscription(api: Any, receiver: Receiver) -> None:
    created = api.create_subscription_v1(
        models.SubscriptionPostRequest(
            name="pre-approval",
            triggerId=PRE_APPROVAL,
            type="HTTP",
            responseDeadline="PT5M",
            httpConfig=models.HttpConfig(
                url=receiver.url,
                httpDispatchMode="ASYNC",
                httpAuthenticationType="BEARER_TOKEN",
                bearerTokenAuthConfig=models.BearerTokenAuthConfig(bearerToken="inbound-secret"),
            ),
        )
    )
    patched = api.patch_subscription_v1(
        created.id,
        [
            models.SubscriptionPatchRequestInner(
                op="replace", path="/name", value=models.SubscriptionPatchRequestInnerValue("renamed")
            )
        ],
    )
    listed = api.list_subscriptions_v1(filters=f'id eq "{created.id}"')
    api.delete_subscription_v1(created.id)

    assert isinstance(created, models.Subscription)
    assert created.http_config.bearer_token_auth_config.bearer_token is None
    assert created.response_deadline == "PT5M"
    assert patched.name == "renamed"
    assert [sub.id for sub in listed] == [created.id]
    assert api.list_subscriptions_v1() == []


def test_sdk_validates_a_filter(api: Any) -> None:
    verdict = api.test_subscription_filter_v1(
        models.ValidateFilterInputDto(
            input={"identityId": "201327fda1c44704ac01181e963d463c"},
            filter='$[?($.identityId == "201327fda1c44704ac01181e963d463c")]',
        )
    )

    assert isinstance(verdict, models.ValidateFilterOutputDto)
    assert (verdict.is_valid, verdict.is_valid_json_path, verdict.is_path_exist) == (True, True, True)


def test_sdk_runs_a_test_invocation_to_completion(sim: TenantSimulator, api: Any, receiver: Receiver) -> None:
    api.create_subscription_v1(
        models.SubscriptionPostRequest(
            name="pre-approval",
            triggerId=PRE_APPROVAL,
            type="HTTP",
            httpConfig=models.HttpConfig(url=receiver.url, httpDispatchMode="ASYNC"),
        )
    )

    started = api.start_test_trigger_invocation_v1(
        models.TestInvocation(triggerId=PRE_APPROVAL, contentJson={"workflowId": 1234})
    )
    delivered = receiver.wait_for(1)[0].body
    sim.wait_for_invocation(started[0].id)
    api.complete_trigger_invocation_v1(
        started[0].id,
        models.CompleteInvocation(secret=delivered["_metadata"]["secret"], output=GOOD_DECISION),
    )
    statuses = api.list_trigger_invocation_status_v1(filters=f'triggerId eq "{PRE_APPROVAL}"')

    assert isinstance(started[0], models.Invocation)
    assert delivered["_metadata"]["secret"] == started[0].secret
    assert sim.invocation(started[0].id).state is InvocationState.COMPLETED
    assert isinstance(statuses[0], models.InvocationStatus)
    assert statuses[0].id == started[0].id
    assert statuses[0].completed is not None
    assert statuses[0].complete_invocation_input.output == GOOD_DECISION
    assert statuses[0].start_invocation_input.content_json == {"workflowId": 1234}


def test_sdk_parses_the_simulators_errors(api: Any) -> None:
    with pytest.raises(exceptions.NotFoundException) as raised:
        api.delete_subscription_v1("no-such-subscription")

    assert isinstance(raised.value.data, models.ErrorResponseDto)
    assert raised.value.data.messages[0].text == "subscription 'no-such-subscription' not found"


# -- the whole life cycle, as an integrator drives `make simulator` with SailPoint's SDK ------------
@pytest.fixture(scope="module")
def simulator_process() -> Iterator[str]:
    """`make simulator` (`python -m idn_simulator`) in its own process, on a free port: its URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "idn_simulator",
            "--port",
            "0",
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
            "--rate-limit",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening on " in line, line
    try:
        yield line.split("listening on ")[1].split()[0]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def sdk_api(url: str) -> Any:
    params = sailpoint_configuration.ConfigurationParams()
    params.base_url = url
    params.client_id = CLIENT_ID
    params.client_secret = CLIENT_SECRET
    configuration = sailpoint_configuration.Configuration(params)
    return triggers_sdk.TriggersApi(triggers_sdk.ApiClient(configuration))


def patch(op: str, path: str, value: Any = None) -> Any:
    if op == "remove":
        return models.SubscriptionPatchRequestInner(op=op, path=path)
    return models.SubscriptionPatchRequestInner(
        op=op, path=path, value=models.SubscriptionPatchRequestInnerValue(value)
    )


def test_sdk_drives_the_simulator_through_the_whole_life_cycle(simulator_process: str) -> None:
    api = sdk_api(simulator_process)
    with running_receiver() as receiver:
        # 1. an ASYNC subscription, created without a filter or description
        created = api.create_subscription_v1(
            models.SubscriptionPostRequest(
                name="sdk life cycle",
                triggerId=PRE_APPROVAL,
                type="HTTP",
                responseDeadline="PT5M",
                httpConfig=models.HttpConfig(
                    url=receiver.url,
                    httpDispatchMode="ASYNC",
                    httpAuthenticationType="BEARER_TOKEN",
                    bearerTokenAuthConfig=models.BearerTokenAuthConfig(bearerToken="sdk-inbound-token"),
                ),
            )
        )
        assert created.http_config.http_dispatch_mode == "ASYNC"

        # 2. a second subscription to a request-response trigger is refused
        with pytest.raises(exceptions.BadRequestException) as second:
            api.create_subscription_v1(
                models.SubscriptionPostRequest(
                    name="second",
                    triggerId=PRE_APPROVAL,
                    type="HTTP",
                    httpConfig=models.HttpConfig(url=receiver.url, httpDispatchMode="SYNC"),
                )
            )
        assert created.id in second.value.data.messages[0].text

        # 3. list
        assert [sub.id for sub in api.list_subscriptions_v1()] == [created.id]

        # 4. patch the filter in (replace, as the SDK's docs do), then remove it
        with_filter = api.patch_subscription_v1(
            created.id, [patch("replace", "/filter", '$[?($.requestedFor.id != "nobody")]')]
        )
        assert with_filter.filter == '$[?($.requestedFor.id != "nobody")]'
        without_filter = api.patch_subscription_v1(created.id, [patch("remove", "/filter")])
        assert without_filter.filter is None
        described = api.patch_subscription_v1(created.id, [patch("replace", "/description", "from the SDK")])
        assert described.description == "from the SDK"

        # 5. validate a filter
        verdict = api.test_subscription_filter_v1(
            models.ValidateFilterInputDto(input={"identityId": "x"}, filter='$[?($.identityId == "x")]')
        )
        assert (verdict.is_valid, verdict.is_valid_json_path, verdict.is_path_exist) == (True, True, True)

        # 6. a test invocation reaches the subscribed URL, with its credential and _metadata
        [started] = api.start_test_trigger_invocation_v1(
            models.TestInvocation(triggerId=PRE_APPROVAL, contentJson={"workflowId": 1})
        )
        [delivered] = receiver.wait_for(1)
        assert delivered.headers["Authorization"] == "Bearer sdk-inbound-token"
        metadata = delivered.body["_metadata"]
        assert metadata["callbackURL"].endswith(f"/trigger-invocations/v1/{started.id}/complete")
        assert metadata["secret"] == started.secret
        assert metadata["responseMode"].upper() == "ASYNC"

        # 7. complete it through the SDK
        api.complete_trigger_invocation_v1(
            started.id, models.CompleteInvocation(secret=metadata["secret"], output=GOOD_DECISION)
        )

        # 8. a wrong secret is refused (on a second, still open, invocation)
        [other] = api.start_test_trigger_invocation_v1(
            models.TestInvocation(triggerId=PRE_APPROVAL, contentJson={"workflowId": 2})
        )
        receiver.wait_for(2)
        with pytest.raises(exceptions.ApiException) as refused:
            api.complete_trigger_invocation_v1(
                other.id, models.CompleteInvocation(secret="not-the-secret", output=GOOD_DECISION)
            )
        assert refused.value.status == 403

        # 9. the status shows the completion, and the refused one still open
        statuses = {
            status.id: status
            for status in api.list_trigger_invocation_status_v1(filters=f'triggerId eq "{PRE_APPROVAL}"')
        }
        assert statuses[started.id].completed is not None
        assert statuses[started.id].complete_invocation_input.output == GOOD_DECISION
        assert statuses[other.id].completed is None

        # 10. delete
        api.delete_subscription_v1(created.id)
        assert api.list_subscriptions_v1() == []
