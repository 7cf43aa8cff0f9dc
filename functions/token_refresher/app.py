"""Token refresher: every minute, store a new token once the stored one is 10 minutes old.

A failure keeps the last good token (nothing is written), emits a `TokenRefreshFailed` metric and
raises, so the schedule's retry policy, the function's error alarm and its DLQ all see it. The
token and the client secret never reach a log line or a trace: responses are not captured.
"""

from __future__ import annotations

from typing import Any

import boto3
import requests
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from idn_triggers.errors import ConfigurationError
from idn_triggers.observability import keep_sdk_logs_free_of_secrets
from idn_triggers.settings import TokenRefresherSettings
from idn_triggers.token_store import (
    StoredToken,
    budget_from_settings,
    parse_stored_token,
    refresh_due,
    refresh_stored_token,
    secret_reader,
    stored_token_age,
)
from idn_triggers.tokens import TokenUnavailable, client_credentials_grant, load_client_credentials

settings = TokenRefresherSettings.from_env()
logger = Logger()
metrics = Metrics()
tracer = Tracer()
keep_sdk_logs_free_of_secrets()
secrets_manager = boto3.client("secretsmanager")
session = requests.Session()
budget = budget_from_settings(settings)  # SailPoint's per-client budget, shared with every function


read_secret = secret_reader()


def grant() -> dict[str, Any]:
    credentials = load_client_credentials(
        settings.client_secret_id, lambda name: read_secret(name, 300, transform="json")
    )
    return client_credentials_grant(settings.tenant_api_url, credentials, session, budget=budget)


def store(secret_string: str) -> None:
    secrets_manager.put_secret_value(SecretId=settings.token_secret_id, SecretString=secret_string)


def read_stored_token() -> StoredToken | None:
    """The token consumers read now; None (so a refresh) when it is missing or unreadable."""
    try:
        value = read_secret(settings.token_secret_id, 0, force=True)
    except Exception as error:  # a missing or unreadable secret: the refresh below reports it
        logger.warning("stored token unreadable", extra={"error_type": type(error).__name__})
        return None
    record_stored_token_age(value)
    return parse_stored_token(value)


def record_stored_token_age(value: Any) -> None:
    """The age and remaining life of the token consumers read now (before this refresh): the
    dashboard's view of a refresher that has stopped refreshing. Never the token itself."""
    found = stored_token_age(value)
    if found is None:
        return
    age, remaining = found
    if age is not None:
        metrics.add_metric(name="StoredTokenAgeSeconds", unit=MetricUnit.Seconds, value=age)
    metrics.add_metric(name="StoredTokenRemainingSeconds", unit=MetricUnit.Seconds, value=remaining)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    stored = read_stored_token()
    if stored is not None and not refresh_due(stored):
        return {"expiresAt": stored.expires_at, "written": False}
    try:
        token = refresh_stored_token(grant, store)
    except (TokenUnavailable, ConfigurationError) as error:
        metrics.add_metric(name="TokenRefreshFailed", unit=MetricUnit.Count, value=1)
        logger.error("token refresh failed; the previous token stays in place", extra={"reason": str(error)})
        raise
    metrics.add_metric(name="TokenRefreshed", unit=MetricUnit.Count, value=1)
    logger.info("access token refreshed", extra={"expires_at": token.expires_at, "scope": token.scope})
    return {"expiresAt": token.expires_at, "written": True}
