"""24 hours of the token refresher and its consumers on a fake clock (issue 26, item 6).

AWS: "We recommend you avoid calling PutSecretValue at a sustained rate of more than once every
10 minutes ... Secrets Manager ... does not remove versions created less than 24 hours ago"
(Secrets Manager quotas page). SailPoint's tokens live 749 s. The refresher must stay inside the
first, and no consumer may ever be handed a token that expires before its call is done.
"""

from __future__ import annotations

import itertools
import random
import time
from typing import Any

import pytest

from idn_triggers import token_store
from idn_triggers.token_store import (
    MIN_WRITE_INTERVAL_SECONDS,
    StoredTokenProvider,
    parse_stored_token,
    refresh_due,
    refresh_stored_token,
)
from idn_triggers.tokens import ClientCredentials, ClientCredentialsTokenProvider

LIFETIME = 749  # SailPoint's documented default expires_in
CALL_SECONDS = 10  # the longest a consumer holds a token for one call (SailPoint's reply budget)
DAY = 24 * 3600


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Tenant:
    """Issues numbered tokens and remembers when each expires."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.expiry: dict[str, float] = {}

    def grant(self) -> dict[str, Any]:
        token = f"token-{len(self.expiry)}"
        self.expiry[token] = self.clock() + LIFETIME
        return {"access_token": token, "expires_in": LIFETIME, "token_type": "bearer"}

    def post(self, url: str, **kwargs: Any) -> Any:  # the fallback grant's requests.Session.post
        body = self.grant()

        class Response:
            status_code = 200

            def json(self) -> dict[str, Any]:
                return body

        return Response()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(time, "time", fake)
    monkeypatch.setattr(token_store.logger, "warning", lambda *a, **k: None)
    return fake


def test_a_day_of_refreshes_stays_within_the_secret_version_rate_and_no_consumer_gets_an_expired_token(
    clock: Clock,
) -> None:
    tenant = Tenant(clock)
    secret: dict[str, Any] = {"value": "{}"}  # what the deploy stores
    writes: list[float] = []

    def write(value: str) -> None:
        writes.append(clock())
        secret["value"] = value

    def refresher_run() -> None:  # functions/token_refresher/app.py's decision, on the fake clock
        if refresh_due(parse_stored_token(secret["value"])):
            refresh_stored_token(tenant.grant, write)

    cached: dict[str, Any] = {"value": None, "at": -1.0}

    def read(force: bool) -> Any:  # Powertools' cached get_secret: up to 30 s stale unless forced
        if force or clock() - cached["at"] > 30:
            cached.update(value=secret["value"], at=clock())
        return cached["value"]

    credentials = ClientCredentials(clientId="c", clientSecret="s")
    fallback = ClientCredentialsTokenProvider("https://t", lambda: credentials, session=tenant)  # type: ignore[arg-type]
    consumer = StoredTokenProvider(read, fallback)

    rng = random.Random(26)  # noqa: S311 - a reproducible schedule, not a secret
    next_run, next_call, end = clock.now, clock.now, clock.now + DAY
    handed_out = 0
    while clock.now < end:
        clock.now = min(next_run, next_call)
        if clock.now == next_run:
            if rng.random() > 0.01:  # EventBridge may skip a run now and then
                refresher_run()
            next_run += 60 + rng.uniform(-5, 20)  # rate(1 minute), with delivery jitter
        if clock.now == next_call:
            token = consumer.token()
            handed_out += 1
            assert tenant.expiry[token] >= clock.now + CALL_SECONDS, f"{token} expires during the call"
            next_call += rng.uniform(1, 90)

    gaps = [later - earlier for earlier, later in itertools.pairwise(writes)]
    assert handed_out > 1000 and len(writes) > 100
    assert min(gaps) >= MIN_WRITE_INTERVAL_SECONDS  # never faster than Secrets Manager's advised rate
    assert len(writes) <= DAY / MIN_WRITE_INTERVAL_SECONDS + 1
    # the stored token serves almost every call: fallback grants only when EventBridge skipped a run
    assert consumer.fallback_grants <= 0.02 * handed_out


def test_a_token_younger_than_10_minutes_is_not_rewritten(clock: Clock) -> None:
    stored = parse_stored_token(
        {
            "access_token": "t",
            "expires_at": clock() + 300,
            "issued_at": clock() - MIN_WRITE_INTERVAL_SECONDS + 1,
        }
    )
    assert refresh_due(stored) is False
    assert refresh_due(None) is True  # nothing stored yet (the deploy's "{}")
    clock.now += 1
    assert refresh_due(stored) is True
