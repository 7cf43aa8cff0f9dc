"""Receiver: API Gateway `POST /triggers/{triggerId}` -> authenticate, validate, route, answer.

Thin on purpose: all logic lives in the layer's `idn_triggers.receiver`. The proxy event is read
directly (one route does not need Powertools' REST resolver, whose imports cost more than the
route); Logger and Metrics stay. Everything a request needs beyond that (trigger models, handler
modules, the queue contract, boto3) is imported by the first request that needs it, or before the
snapshot when SnapStart is on (`idn_triggers.snapstart`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from idn_triggers.handlers import package_registry
from idn_triggers.observability import traced
from idn_triggers.receiver import (
    NOT_FOUND_BODY,
    Receiver,
    proxy_response,
    request_parts,
    routed_trigger_id,
)
from idn_triggers.settings import ReceiverSettings
from idn_triggers.snapstart import receiver_hooks

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = ReceiverSettings.from_env()
logger = Logger()
metrics = Metrics()
receiver = Receiver.from_settings(settings, package_registry(settings.handlers_package))
receiver_hooks(receiver)  # SnapStart: warm before the snapshot, refresh after a restore (no-op elsewhere)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started = time.perf_counter()
    trigger_id = routed_trigger_id(event)
    if trigger_id is None:  # another method or route: what the REST resolver answered, 404
        return proxy_response(404, NOT_FOUND_BODY)
    headers, body, is_base64 = request_parts(event)
    result = receiver.receive(trigger_id, headers, body, is_base64=is_base64)
    metrics.add_dimension("TriggerId", result.trigger_id)
    metrics.add_dimension("Mode", result.mode)
    metrics.add_dimension("Outcome", result.outcome)
    metrics.add_metric(name="Invocations", unit=MetricUnit.Count, value=1)
    record_acknowledgement(result.trigger_id, result.mode, result.status_code, started)
    logger.info(
        "trigger delivery answered",
        extra={
            "trigger_id": result.trigger_id,
            "status": result.status_code,
            "outcome": result.outcome,
            "mode": result.mode,
        },
    )
    return proxy_response(result.status_code, result.json_body())


def record_acknowledgement(trigger_id: str, mode: str, status: int, started: float) -> None:
    """The dashboard's per trigger and mode figures: answers by status class, and the time from
    this invocation's start to the answer (SailPoint waits at most 10 s for it)."""
    with single_metric(name="Acknowledgements", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension("TriggerId", trigger_id)
        metric.add_dimension("Mode", mode)
        metric.add_dimension("StatusClass", f"{status // 100}xx")
    elapsed = (time.perf_counter() - started) * 1000
    with single_metric(name="AcknowledgementLatency", unit=MetricUnit.Milliseconds, value=elapsed) as metric:
        metric.add_dimension("TriggerId", trigger_id)
        metric.add_dimension("Mode", mode)
    # The same figure across every trigger and mode: what the p99 alarm watches (an alarm needs
    # fixed dimensions).
    with single_metric(name="AcknowledgementLatency", unit=MetricUnit.Milliseconds, value=elapsed) as metric:
        metric.add_dimension("Scope", "AllTriggers")


lambda_handler = traced(handle, xray_sdk=settings.xray_sdk)
