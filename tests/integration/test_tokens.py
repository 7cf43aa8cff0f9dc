"""Tokens: the refresher stores them, consumers read them, and a broken refresher degrades gracefully.

Against the tenant simulator over HTTP and moto's Secrets Manager over HTTP.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
import requests
from pydantic import SecretStr

from idn_simulator import TenantSimulator
from idn_triggers.deprecations import DEPRECATIONS
from idn_triggers.sailpoint_api import (
    Family,
    SailPointClient,
    SailPointNotFound,
    SailPointRejected,
    SailPointUnauthorized,
)
from idn_triggers.token_store import (
    StoredToken,
    StoredTokenProvider,
    parse_stored_token,
    refresh_stored_token,
)
from idn_triggers.tokens import (
    ClientCredentials,
    ClientCredentialsTokenProvider,
    TokenUnavailable,
    client_credentials_grant,
)
from tests.integration.conftest_simulator import CLIENT_ID, CLIENT_SECRET
from tests.support import FakeLambdaContext, load_function

CREDENTIALS = ClientCredentials(clientId=CLIENT_ID, clientSecret=SecretStr(CLIENT_SECRET))


def fallback(sim: TenantSimulator) -> ClientCredentialsTokenProvider:
    return ClientCredentialsTokenProvider(sim.url, lambda: CREDENTIALS)


# -- the grant ------------------------------------------------------------------------------
def test_grant_returns_the_token_response(sim: TenantSimulator) -> None:
    body = client_credentials_grant(sim.url, CREDENTIALS, requests.Session())
    assert body["access_token"] and body["expires_in"] == 749


def test_grant_honours_one_429_retry_after(sim: TenantSimulator) -> None:
    sim.faults.fail_next_token_requests(1, status=429, retry_after=1)
    waited: list[float] = []
    body = client_credentials_grant(sim.url, CREDENTIALS, requests.Session(), sleep=waited.append)
    assert body["access_token"] and waited == [1.0]


@pytest.mark.parametrize("status", [401, 500])
def test_grant_failure_is_token_unavailable_without_the_secret(sim: TenantSimulator, status: int) -> None:
    sim.faults.fail_next_token_requests(1, status=status)
    with pytest.raises(TokenUnavailable) as caught:
        client_credentials_grant(sim.url, CREDENTIALS, requests.Session())
    assert str(status) in str(caught.value) and CLIENT_SECRET not in str(caught.value)


def test_wrong_client_is_token_unavailable(sim: TenantSimulator) -> None:
    wrong = ClientCredentials(clientId=CLIENT_ID, clientSecret=SecretStr("nope"))
    with pytest.raises(TokenUnavailable, match="401"):
        client_credentials_grant(sim.url, wrong, requests.Session())


# -- storing and reading --------------------------------------------------------------------
def test_refresh_writes_a_valid_token_and_never_a_bad_one(sim: TenantSimulator) -> None:
    written: list[str] = []
    token = refresh_stored_token(
        lambda: client_credentials_grant(sim.url, CREDENTIALS, requests.Session()), written.append
    )
    stored = parse_stored_token(written[-1])
    assert (
        stored is not None and stored.access_token.get_secret_value() == token.access_token.get_secret_value()
    )
    assert 700 < stored.expires_at - time.time() <= 749
    for garbage in ({"access_token": "x"}, {"expires_in": 749}, {"access_token": "x", "expires_in": 30}):
        with pytest.raises(TokenUnavailable):
            refresh_stored_token(lambda garbage=garbage: garbage, written.append)
    assert len(written) == 1


def stored(token: str, expires_in: float) -> str:
    return StoredToken(access_token=SecretStr(token), expires_at=time.time() + expires_in).to_secret_string()


def test_consumers_use_the_stored_token_without_any_grant(sim: TenantSimulator) -> None:
    grants = fallback(sim)
    provider = StoredTokenProvider(lambda force: stored("stored-token", 600), grants)
    assert {provider.token() for _ in range(1000)} == {"stored-token"}
    assert grants.requests_made == 0


@pytest.mark.parametrize(
    "make_secret",
    [lambda: "{}", lambda: "not json", lambda: stored("about-to-expire", 60), lambda: stored("expired", -10)],
    ids=["empty", "not-json", "about-to-expire", "expired"],
)
def test_missing_or_expiring_stored_token_falls_back_to_one_grant(
    sim: TenantSimulator, make_secret: Callable[[], str]
) -> None:
    secret = make_secret()  # when the test runs, not when it is collected (minutes earlier in a full run)
    grants = fallback(sim)
    provider = StoredTokenProvider(lambda force: secret, grants)
    tokens = {provider.token() for _ in range(50)}
    assert len(tokens) == 1 and tokens != {"about-to-expire", "expired"}
    assert grants.requests_made == 1  # cached until it nears expiry


def test_an_unreadable_token_secret_degrades_to_a_grant(sim: TenantSimulator) -> None:
    def broken(force: bool) -> Any:
        raise ConnectionError("secrets manager down")

    assert StoredTokenProvider(broken, fallback(sim)).token()


def test_a_refused_stored_token_is_not_handed_out_again(sim: TenantSimulator) -> None:
    grants = fallback(sim)
    provider = StoredTokenProvider(lambda force: stored("revoked", 600), grants)
    provider.invalidate(provider.token())
    assert provider.token() != "revoked" and grants.requests_made == 1


# -- the refresher function -----------------------------------------------------------------
@pytest.fixture
def refresher(aws: str, sim: TenantSimulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    client = boto3.client("secretsmanager")
    client_arn = client.create_secret(
        Name="client", SecretString=json.dumps({"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET})
    )["ARN"]
    token_arn = client.create_secret(Name="token", SecretString="{}")["ARN"]
    for key, value in {
        "TENANT_API_URL": sim.url,
        "SAILPOINT_CLIENT_SECRET_ID": client_arn,
        "TOKEN_SECRET_ID": token_arn,
    }.items():
        monkeypatch.setenv(key, value)
    yield load_function("token_refresher")


def token_secret() -> StoredToken | None:
    return parse_stored_token(
        boto3.client("secretsmanager").get_secret_value(SecretId="token")["SecretString"]
    )


def test_the_refresher_stores_a_fresh_token(refresher: ModuleType, sim: TenantSimulator) -> None:
    result = refresher.lambda_handler({"source": "aws.events"}, FakeLambdaContext())
    token = token_secret()
    assert token is not None and token.usable()
    assert result == {"expiresAt": token.expires_at, "written": True}
    # the stored token is one the tenant accepts
    response = requests.get(
        f"{sim.url}/triggers/v1",
        timeout=5,
        headers={"Authorization": f"Bearer {token.access_token.get_secret_value()}"},
    )
    assert response.status_code == 200


@pytest.mark.parametrize("status", [500, 401])
def test_an_outage_keeps_the_previous_token_and_fails_loudly(
    refresher: ModuleType, sim: TenantSimulator, status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    refresher.lambda_handler({}, FakeLambdaContext())
    good = token_secret()
    assert good is not None
    age(good, seconds=650)  # due again: 10 minutes since it was written
    good = token_secret()
    sim.faults.fail_next_token_requests(1, status=status)
    with pytest.raises(TokenUnavailable):
        refresher.lambda_handler({}, FakeLambdaContext())
    assert token_secret() == good
    assert '"TokenRefreshFailed"' in capsys.readouterr().out  # the EMF metric the alarm can use


def age(token: StoredToken, seconds: float) -> None:
    """Store `token` as if written `seconds` ago."""
    older = token.model_copy(update={"issued_at": time.time() - seconds})
    boto3.client("secretsmanager").put_secret_value(SecretId="token", SecretString=older.to_secret_string())


def test_the_refresher_writes_at_most_once_every_10_minutes_and_reads_its_own_secret(
    refresher: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    # Secrets Manager quotas: avoid PutSecretValue more than once every 10 minutes (versions < 24 h stay)
    first = refresher.lambda_handler({}, FakeLambdaContext())
    second = refresher.lambda_handler({}, FakeLambdaContext())
    assert first["written"] is True and second == {"expiresAt": first["expiresAt"], "written": False}
    versions = boto3.client("secretsmanager").list_secret_version_ids(SecretId="token")["Versions"]
    assert len(versions) == 2  # the deploy's "{}" and one token
    out = capsys.readouterr().out
    assert '"StoredTokenRemainingSeconds"' in out and "stored token unreadable" not in out


def test_the_refresher_logs_neither_token_nor_client_secret(
    refresher: ModuleType, captured_logs: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    refresher.lambda_handler({}, FakeLambdaContext())
    token = token_secret()
    assert token is not None
    text = captured_logs.getvalue() + capsys.readouterr().out
    assert "access token refreshed" in text
    assert token.access_token.get_secret_value() not in text and CLIENT_SECRET not in text


# -- the API client -------------------------------------------------------------------------
def api(sim: TenantSimulator, family: Family = "v1") -> SailPointClient:
    return SailPointClient(sim.url, fallback(sim), family=family, sleep=lambda s: None)


def subscription(url: str = "https://example.com/triggers/idn:identity-created") -> dict[str, Any]:
    return {
        "name": "api test",
        "triggerId": "idn:identity-created",
        "type": "HTTP",
        "enabled": True,
        "httpConfig": {"url": url, "httpDispatchMode": "SYNC", "httpAuthenticationType": "NO_AUTH"},
    }


@pytest.mark.parametrize("family", ["v1", "beta"])
def test_api_client_manages_subscriptions_on_both_path_families(sim: TenantSimulator, family: str) -> None:
    client = api(sim, family)
    assert {t["id"] for t in client.list_triggers()} >= {"idn:identity-created"}
    created = client.create_subscription(subscription())
    assert client.get_subscription(created["id"])["name"] == "api test"
    client.patch_subscription(created["id"], [{"op": "replace", "path": "/name", "value": "renamed"}])
    assert client.get_subscription(created["id"])["name"] == "renamed"
    client.delete_subscription(created["id"])
    with pytest.raises(SailPointNotFound):
        client.delete_subscription(created["id"])


def test_api_client_honours_429_retry_after(sim: TenantSimulator) -> None:
    waited: list[float] = []
    client = SailPointClient(sim.url, fallback(sim), sleep=waited.append)
    sim.faults.throttle_next_requests(2, retry_after=1)
    assert client.list_subscriptions() == []
    assert waited == [1.0, 1.0]


def test_api_client_refreshes_an_expired_token_once(sim: TenantSimulator) -> None:
    grants = fallback(sim)
    client = SailPointClient(sim.url, grants)
    client.list_subscriptions()
    sim.expire_tokens()
    client.list_subscriptions()
    assert grants.requests_made == 2


def test_api_client_errors_are_typed_with_sailpoints_message(sim: TenantSimulator) -> None:
    client = api(sim)
    with pytest.raises(SailPointRejected) as caught:
        client.create_subscription({**subscription(), "triggerId": "idn:not-a-trigger"})
    assert caught.value.status == 400 and caught.value.detail
    wrong = SailPointClient(
        sim.url,
        ClientCredentialsTokenProvider(
            sim.url, lambda: ClientCredentials(clientId=CLIENT_ID, clientSecret=SecretStr("wrong"))
        ),
    )
    with pytest.raises(Exception, match="401"):
        wrong.list_triggers()


def test_steady_state_makes_no_token_requests(sim: TenantSimulator) -> None:
    # Given a token already stored by the refresher
    body = client_credentials_grant(sim.url, CREDENTIALS, requests.Session())
    secret = stored(body["access_token"], body["expires_in"])
    before = sim.stats.token_requests
    client = SailPointClient(sim.url, StoredTokenProvider(lambda force: secret, fallback(sim)))
    # When a consumer makes many calls
    for _ in range(20):
        client.list_subscriptions()
    # Then it never asked for a token
    assert sim.stats.token_requests == before


def test_unauthorized_even_after_refresh_is_typed(sim: TenantSimulator) -> None:
    class Revoked:
        def token(self) -> str:
            return "revoked-token"

        def invalidate(self, token: str) -> None:
            pass

    with pytest.raises(SailPointUnauthorized):
        SailPointClient(sim.url, Revoked()).list_triggers()


def test_a_legacy_path_is_reported_deprecated_once_per_endpoint(
    sim: TenantSimulator, service_logs: io.StringIO
) -> None:
    DEPRECATIONS.clear()
    api = SailPointClient(sim.url, fallback(sim), family="beta")

    api.list_triggers()
    api.list_triggers()
    SailPointClient(sim.url, fallback(sim)).list_triggers()

    assert DEPRECATIONS.seen() == {"GET /beta/triggers": 2}
    assert service_logs.getvalue().count("X-Deprecated: true") == 1
    DEPRECATIONS.clear()
