"""Worker: SQS batch -> for each record, run the handler and complete the invocation at SailPoint.

Records are processed concurrently (Powertools' AsyncBatchProcessor, blocking work in threads), so a
batch of ten costs about one callback round trip. Failed records are reported individually
(ReportBatchItemFailures). All logic lives in the layer's `idn_triggers.worker`.
"""

from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from idn_triggers.archive import ArchiveRecorder
from idn_triggers.callback import CallbackClient
from idn_triggers.deprecations import DEPRECATIONS
from idn_triggers.eventbridge import trigger_id_of
from idn_triggers.handlers import package_registry
from idn_triggers.observability import keep_sdk_logs_free_of_secrets
from idn_triggers.queue import ReceivedAttributes
from idn_triggers.settings import WorkerSettings
from idn_triggers.snapstart import worker_hooks
from idn_triggers.token_store import budget_from_settings, provider_from_settings
from idn_triggers.trigger_control import TriggerControls
from idn_triggers.worker import Worker, WorkerOutcome

settings = WorkerSettings.from_env()
logger = Logger()
tracer = Tracer()
keep_sdk_logs_free_of_secrets()

idempotency = IdempotencyConfig(
    event_key_jmespath="idempotency_key", expires_after_seconds=settings.idempotency_seconds
)
DEPRECATIONS.metrics = True
budget = budget_from_settings(settings)  # SailPoint's per-client budget, shared with every function
tokens = provider_from_settings(settings, budget)  # the refresher's stored token; a grant only as fallback
callbacks = CallbackClient(tokens, timeout=settings.callback_timeout_seconds, budget=budget)
persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table)
worker = Worker(
    settings,
    package_registry(settings.handlers_package),
    callbacks,
    boto3.client("sqs"),
    run_once=idempotent_function(
        data_keyword_argument="message", persistence_store=persistence, config=idempotency
    ),
    archive=ArchiveRecorder.for_bucket(settings.archive_bucket) if settings.archive_bucket else None,
    controls=TriggerControls(
        settings.trigger_control_table,
        rates=settings.rate_limits,
        breaker_after=settings.breaker_after,
        cache_seconds=settings.trigger_state_cache_seconds,
    )
    if settings.trigger_control_table
    else None,
)
# SnapStart: warm before the snapshot, refresh after a restore (no-op outside Lambda's runtime)
worker_hooks(worker, callbacks, lambda: provider_from_settings(settings, budget), [persistence.client])
# Report every failed record, even when all fail: the same retry, without a Lambda error.
processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
RECORD_THREADS = ThreadPoolExecutor(max_workers=settings.max_concurrency, thread_name_prefix="record")


def process(record: SQSRecord) -> str:
    outcome = WorkerOutcome.RETRY
    try:
        outcome = worker.process_record(record.raw_event)
        return outcome
    finally:
        trigger = ReceivedAttributes.from_lambda_record(
            record.raw_event, ids_from_body=False
        ).trigger_id or trigger_id_of(record.raw_event.get("body"))  # EventBridge events carry no attributes
        with single_metric(name="WorkerRecords", unit=MetricUnit.Count, value=1) as metric:
            metric.add_dimension("TriggerId", trigger or "unknown")
            metric.add_dimension("Outcome", outcome)


async def record_handler(record: SQSRecord) -> str:
    # A pool as wide as a batch: the default one (cpu count + 4) would run a batch of 10 in two waves.
    # The record runs in this invocation's context (Powertools' thread-safe log keys, local mode's
    # function name): run_in_executor does not carry context variables over by itself.
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(RECORD_THREADS, context.run, process, record)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency.register_lambda_context(context)
    return async_process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
