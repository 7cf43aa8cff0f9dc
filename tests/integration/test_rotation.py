"""Inbound credential rotation: Secrets Manager's four steps against moto, SailPoint's subscriptions
against the simulator; the receiver's credential source accepts the right credentials at each step."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import boto3
import pytest
from pydantic import SecretStr

from idn_simulator import TenantSimulator
from idn_triggers.auth import AuthType, InboundAuthenticator, SecretsManagerCredentials
from idn_triggers.errors import AuthenticationFailed
from idn_triggers.rotation import STEPS, InboundRotation, RotationError
from idn_triggers.sailpoint_api import SailPointApiError, SailPointClient
from idn_triggers.tokens import ClientCredentials, ClientCredentialsTokenProvider
from tests.integration.conftest_simulator import CLIENT_ID, CLIENT_SECRET

BASE = "https://abc.execute-api.us-east-1.amazonaws.com/v1/triggers/"


def client(sim: TenantSimulator) -> SailPointClient:
    credentials = ClientCredentials(clientId=CLIENT_ID, clientSecret=SecretStr(CLIENT_SECRET))
    return SailPointClient(
        sim.url, ClientCredentialsTokenProvider(sim.url, lambda: credentials), sleep=lambda s: None
    )


def subscribe(api: SailPointClient, trigger: str, url: str, auth: dict[str, Any]) -> str:
    body = {
        "name": f"rotation {trigger}",
        "triggerId": trigger,
        "type": "HTTP",
        "enabled": True,
        "httpConfig": {"url": url, "httpDispatchMode": "SYNC", **auth},
    }
    return str(api.create_subscription(body)["id"])


def http_config(sim: TenantSimulator, subscription_id: str) -> dict[str, Any]:
    [found] = [s for s in sim.subscriptions() if s.id == subscription_id]
    assert found.http_config is not None
    return found.http_config


def accepts(auth_type: AuthType, secret_id: str, header: str) -> bool:
    credentials = SecretsManagerCredentials(secret_id, auth_type, max_age_seconds=0)
    try:
        InboundAuthenticator(auth_type, credentials).authenticate({"Authorization": header})
    except AuthenticationFailed:
        return False
    return True


def bearer(token: str) -> str:
    return f"Bearer {token}"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def current(secret_id: str) -> dict[str, Any]:
    return dict(
        json.loads(
            boto3.client("secretsmanager").get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")[
                "SecretString"
            ]
        )
    )


def test_bearer_rotation_switches_sailpoint_and_never_rejects_a_delivery(
    aws: str, sim: TenantSimulator
) -> None:
    # Given the current token, two subscriptions to this stack and one to somewhere else
    sm = boto3.client("secretsmanager")
    secret_id = sm.create_secret(Name="inbound", SecretString=json.dumps({"bearerToken": "old-token"}))["ARN"]
    api = client(sim)
    auth = {"httpAuthenticationType": "BEARER_TOKEN", "bearerTokenAuthConfig": {"bearerToken": "old-token"}}
    ours = [
        subscribe(api, "idn:identity-created", BASE + "idn:identity-created", auth),
        subscribe(api, "idn:access-request-pre-approval", BASE + "idn:access-request-pre-approval", auth),
    ]
    theirs = subscribe(api, "idn:source-created", "https://elsewhere.example.com/hook", auth)
    rotation = InboundRotation(sm, api, AuthType.BEARER_TOKEN, BASE, propagation_seconds=0)
    version = str(uuid.uuid4())
    # When the four steps run, what SailPoint sends is accepted before and after each one
    for step in STEPS:
        sent = {http_config(sim, s)["bearerTokenAuthConfig"]["bearerToken"] for s in ours}
        assert len(sent) == 1 and accepts(AuthType.BEARER_TOKEN, secret_id, bearer(sent.pop())), step
        rotation.run(step, secret_id, version)
        sent = {http_config(sim, s)["bearerTokenAuthConfig"]["bearerToken"] for s in ours}
        assert len(sent) == 1 and accepts(AuthType.BEARER_TOKEN, secret_id, bearer(sent.pop())), step
    # Then the new token is current, the old one is its `previous`, and only our subscriptions changed
    new = current(secret_id)
    assert new["bearerToken"] != "old-token" and new["previous"] == {"bearerToken": "old-token"}
    assert {http_config(sim, s)["bearerTokenAuthConfig"]["bearerToken"] for s in ours} == {new["bearerToken"]}
    assert http_config(sim, theirs)["bearerTokenAuthConfig"]["bearerToken"] == "old-token"
    assert accepts(AuthType.BEARER_TOKEN, secret_id, bearer("old-token"))  # late deliveries still pass
    assert not accepts(AuthType.BEARER_TOKEN, secret_id, bearer("anything-else"))


def test_a_second_rotation_retires_the_oldest_credential(aws: str, sim: TenantSimulator) -> None:
    sm = boto3.client("secretsmanager")
    secret_id = sm.create_secret(Name="inbound2", SecretString=json.dumps({"bearerToken": "first"}))["ARN"]
    rotation = InboundRotation(sm, client(sim), AuthType.BEARER_TOKEN, BASE, propagation_seconds=0)
    for _ in range(2):
        version = str(uuid.uuid4())
        for step in STEPS:
            rotation.run(step, secret_id, version)
    assert not accepts(AuthType.BEARER_TOKEN, secret_id, bearer("first"))


def test_basic_rotation_keeps_the_user_and_changes_the_password(aws: str, sim: TenantSimulator) -> None:
    sm = boto3.client("secretsmanager")
    secret_id = sm.create_secret(
        Name="inbound-basic", SecretString=json.dumps({"userName": "sailpoint", "password": "old-password"})
    )["ARN"]
    api = client(sim)
    subscription = subscribe(
        api,
        "idn:identity-created",
        BASE + "idn:identity-created",
        {
            "httpAuthenticationType": "BASIC_AUTH",
            "basicAuthConfig": {"userName": "sailpoint", "password": "old-password"},
        },
    )
    rotation = InboundRotation(sm, api, AuthType.BASIC_AUTH, BASE, propagation_seconds=0)
    version = str(uuid.uuid4())
    for step in STEPS:
        rotation.run(step, secret_id, version)
    new = current(secret_id)
    assert new["userName"] == "sailpoint" and new["password"] != "old-password"
    assert http_config(sim, subscription)["basicAuthConfig"] == {
        "userName": "sailpoint",
        "password": new["password"],
    }
    assert accepts(AuthType.BASIC_AUTH, secret_id, basic("sailpoint", new["password"]))
    assert accepts(AuthType.BASIC_AUTH, secret_id, basic("sailpoint", "old-password"))


def test_a_failing_step_leaves_the_current_credential_working(aws: str, sim: TenantSimulator) -> None:
    sm = boto3.client("secretsmanager")
    secret_id = sm.create_secret(Name="inbound3", SecretString=json.dumps({"bearerToken": "old-token"}))[
        "ARN"
    ]
    api = client(sim)
    auth = {"httpAuthenticationType": "BEARER_TOKEN", "bearerTokenAuthConfig": {"bearerToken": "old-token"}}
    subscribe(api, "idn:identity-created", BASE + "idn:identity-created", auth)
    rotation = InboundRotation(sm, api, AuthType.BEARER_TOKEN, BASE, propagation_seconds=0)
    version = str(uuid.uuid4())
    rotation.run("createSecret", secret_id, version)
    sim.faults.fail_next_requests(10, status=500)  # SailPoint is down during setSecret
    with pytest.raises(SailPointApiError):
        rotation.run("setSecret", secret_id, version)
    assert current(secret_id) == {"bearerToken": "old-token"}
    assert accepts(AuthType.BEARER_TOKEN, secret_id, bearer("old-token"))
    with pytest.raises(RotationError):
        rotation.run("finishSecret", "inbound3", "not-a-version")


def test_set_secret_waits_for_the_receivers_cache(aws: str, sim: TenantSimulator) -> None:
    sm = boto3.client("secretsmanager")
    secret_id = sm.create_secret(Name="inbound4", SecretString=json.dumps({"bearerToken": "t"}))["ARN"]
    waits: list[float] = []
    rotation = InboundRotation(
        sm, client(sim), AuthType.BEARER_TOKEN, BASE, propagation_seconds=65, sleep=waits.append
    )
    version = str(uuid.uuid4())
    for step in STEPS:
        rotation.run(step, secret_id, version)
    assert waits == [65]


def test_no_auth_has_nothing_to_rotate(sim: TenantSimulator) -> None:
    with pytest.raises(RotationError):
        InboundRotation(object(), client(sim), AuthType.NO_AUTH, BASE, propagation_seconds=0)


class ConfigurationTest:
    """Secrets Manager's client during RotateSecret(RotateImmediately=false): an AWSPENDING version of
    its own, without a value (RotateSecret API reference: "tests the rotation configuration by
    running the testSecret step ... The test creates an AWSPENDING version of the secret")."""

    def __init__(self, sm: Any, token: str) -> None:
        self._sm, self._token = sm, token
        self.exceptions = sm.exceptions

    def describe_secret(self, **kwargs: Any) -> dict[str, Any]:
        answer = dict(self._sm.describe_secret(**kwargs))
        answer["VersionIdsToStages"] = {**answer["VersionIdsToStages"], self._token: ["AWSPENDING"]}
        return answer

    def get_secret_value(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("VersionId") == self._token:
            raise self._sm.exceptions.ResourceNotFoundException(
                {"Error": {"Code": "ResourceNotFoundException", "Message": "no value"}}, "GetSecretValue"
            )
        return dict(self._sm.get_secret_value(**kwargs))


def test_the_configuration_test_at_create_passes_without_reaching_sailpoint(aws: str) -> None:
    # Given a stack being created while SailPoint is unreachable
    sm = boto3.client("secretsmanager")
    secret_id = sm.create_secret(Name="inbound-create", SecretString=json.dumps({"bearerToken": "t"}))["ARN"]
    token = str(uuid.uuid4())
    unreachable = SailPointClient(
        "http://127.0.0.1:9",
        ClientCredentialsTokenProvider(
            "http://127.0.0.1:9", lambda: ClientCredentials(clientId=CLIENT_ID, clientSecret=CLIENT_SECRET)
        ),
    )
    rotation = InboundRotation(
        ConfigurationTest(sm, token), unreachable, AuthType.BEARER_TOKEN, BASE, propagation_seconds=0
    )
    # When Secrets Manager runs testSecret on its own pending version, it succeeds
    rotation.run("testSecret", secret_id, token)
    # and the current credential is untouched
    assert current(secret_id) == {"bearerToken": "t"}


def test_rotation_passes_over_subscriptions_without_an_http_config(aws: str, sim: TenantSimulator) -> None:
    """Issue 27 item 2: an EVENTBRIDGE subscription (anyone's) has `httpConfig: null`; rotation crashed
    on it and never finished, leaving the AWSPENDING credential accepted."""
    # Given one of our HTTP subscriptions and an EVENTBRIDGE one of another team in the same tenant
    sm = boto3.client("secretsmanager")
    secret_id = sm.create_secret(Name="inbound", SecretString=json.dumps({"bearerToken": "old-token"}))["ARN"]
    api = client(sim)
    auth = {"httpAuthenticationType": "BEARER_TOKEN", "bearerTokenAuthConfig": {"bearerToken": "old-token"}}
    ours = subscribe(api, "idn:identity-created", BASE + "idn:identity-created", auth)
    bridge = {"awsAccount": "123456789012", "awsRegion": "us-east-1"}
    api.create_subscription(
        {"name": "another team", "triggerId": "idn:source-created", "type": "EVENTBRIDGE", "enabled": True}
        | {"eventBridgeConfig": bridge}
    )
    assert any(s.get("httpConfig") is None for s in api.list_subscriptions())
    rotation = InboundRotation(sm, api, AuthType.BEARER_TOKEN, BASE, propagation_seconds=0)
    # When every step runs
    version = str(uuid.uuid4())
    for step in STEPS:
        rotation.run(step, secret_id, version)
    # Then the rotation finished: the new credential is current and our subscription sends it
    new = current(secret_id)
    assert new["bearerToken"] != "old-token"
    assert http_config(sim, ours)["bearerTokenAuthConfig"]["bearerToken"] == new["bearerToken"]


def test_revoking_the_previous_credential_ends_it_at_once(aws: str, sim: TenantSimulator) -> None:
    """Issue 27 item 3: after "rotate now", a leaked credential stayed valid as `previous` until the
    next rotation (30 days by default)."""
    # Given a rotation that replaced the leaked token
    sm = boto3.client("secretsmanager")
    secret_id = sm.create_secret(Name="leaked", SecretString=json.dumps({"bearerToken": "leaked"}))["ARN"]
    rotation = InboundRotation(sm, client(sim), AuthType.BEARER_TOKEN, BASE, propagation_seconds=0)
    version = str(uuid.uuid4())
    for step in STEPS:
        rotation.run(step, secret_id, version)
    assert accepts(AuthType.BEARER_TOKEN, secret_id, bearer("leaked"))
    # When the previous credential is revoked
    assert rotation.revoke_previous(secret_id) is True
    # Then the leaked token is refused, the current one still passes, and a second revoke has nothing to do
    new = current(secret_id)
    assert "previous" not in new
    assert not accepts(AuthType.BEARER_TOKEN, secret_id, bearer("leaked"))
    assert accepts(AuthType.BEARER_TOKEN, secret_id, bearer(new["bearerToken"]))
    assert rotation.revoke_previous(secret_id) is False


def test_revoking_is_refused_while_another_version_is_pending(aws: str, sim: TenantSimulator) -> None:
    sm = boto3.client("secretsmanager")
    secret_id = sm.create_secret(Name="pending", SecretString=json.dumps({"bearerToken": "first"}))["ARN"]
    rotation = InboundRotation(sm, client(sim), AuthType.BEARER_TOKEN, BASE, propagation_seconds=0)
    rotation.run("createSecret", secret_id, str(uuid.uuid4()))  # an abandoned rotation
    with pytest.raises(RotationError, match="AWSPENDING"):
        rotation.revoke_previous(secret_id)
