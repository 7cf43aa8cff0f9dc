"""Reconciler: on a schedule, recover the events SailPoint could not deliver to this stack.

Thin on purpose: the pass is `idn_triggers.recovery.Reconciler`, the same code `idn-triggers-ops
recover` runs. Metrics: RecoveredInvocationsQueued, UnrecoverableInvocations (failed
request-response invocations, ids in the log), RecoveryGap (no successful pass for longer than the
history's 48 h retention), RecoveryHistoryTruncated (the 2000-entry cap was hit inside the window),
RecoveryPasses. A pass that could not queue everything raises after publishing them, so the
schedule's retry and the function's error alarm see it.
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from idn_triggers.deprecations import DEPRECATIONS
from idn_triggers.observability import keep_sdk_logs_free_of_secrets
from idn_triggers.queue import QueueSender
from idn_triggers.recovery import DynamoDBRecoveryState, Reconciler, stack_subscriptions, trigger_types
from idn_triggers.sailpoint_api import SailPointClient
from idn_triggers.settings import ReconcilerSettings
from idn_triggers.token_store import budget_from_settings, provider_from_settings

settings = ReconcilerSettings.from_env()
logger = Logger()
metrics = Metrics()
tracer = Tracer()
keep_sdk_logs_free_of_secrets()
DEPRECATIONS.metrics = True
budget = budget_from_settings(settings)  # SailPoint's per-client budget, shared with every function
api = SailPointClient(settings.tenant_api_url, provider_from_settings(settings, budget), budget=budget)
reconciler = Reconciler(
    api,
    lambda: stack_subscriptions(api, settings.webhook_base_url),
    DynamoDBRecoveryState(boto3.client("dynamodb"), settings.recovery_table),
    QueueSender(settings.queue_url, boto3.client("sqs")),
    types=trigger_types(settings.extra_triggers),
    grace=settings.grace,
    lookback=settings.lookback,
    include_tests=settings.include_tests,
)


class RecoveryIncomplete(Exception):
    """Some recovered invocations could not be queued; the next pass retries them."""


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = reconciler.run()
    for name, value in report.metrics().items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    logger.info("recovery pass", extra=report.summary())
    if not report.complete:
        raise RecoveryIncomplete(f"{report.send_failures} recovered invocation(s) could not be queued")
    return report.summary()
