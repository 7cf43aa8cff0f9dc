"""Receiver: API Gateway `POST /triggers/{triggerId}` -> authenticate, validate, route, answer.

Thin on purpose: all logic lives in the layer's `idn_triggers.receiver`.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from idn_triggers.handlers import HandlerRegistry
from idn_triggers.observability import traced
from idn_triggers.receiver import Receiver
from idn_triggers.settings import ReceiverSettings
from trigger_handlers import HANDLER_EXCEPTIONS

settings = ReceiverSettings.from_env()
logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver()
receiver = Receiver.from_settings(settings, HandlerRegistry("trigger_handlers", HANDLER_EXCEPTIONS))


@app.post("/triggers/<trigger_id>")
def receive(trigger_id: str) -> Response[str]:
    event = app.current_event
    result = receiver.receive(
        unquote(trigger_id), event.headers, event.body, is_base64=bool(event.is_base64_encoded)
    )
    metrics.add_dimension("TriggerId", result.trigger_id)
    metrics.add_dimension("Mode", result.mode)
    metrics.add_dimension("Outcome", result.outcome)
    metrics.add_metric(name="Invocations", unit=MetricUnit.Count, value=1)
    record_acknowledgement(result.trigger_id, result.mode, result.status_code)
    logger.info(
        "trigger delivery answered",
        extra={
            "trigger_id": result.trigger_id,
            "status": result.status_code,
            "outcome": result.outcome,
            "mode": result.mode,
        },
    )
    return Response(result.status_code, content_types.APPLICATION_JSON, result.json_body())


def record_acknowledgement(trigger_id: str, mode: str, status: int) -> None:
    """The dashboard's per trigger and mode figures: answers by status class, and the time from
    this invocation's start to the answer (SailPoint waits at most 10 s for it)."""
    with single_metric(name="Acknowledgements", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension("TriggerId", trigger_id)
        metric.add_dimension("Mode", mode)
        metric.add_dimension("StatusClass", f"{status // 100}xx")
    elapsed = (time.perf_counter() - STARTED.get()) * 1000
    with single_metric(name="AcknowledgementLatency", unit=MetricUnit.Milliseconds, value=elapsed) as metric:
        metric.add_dimension("TriggerId", trigger_id)
        metric.add_dimension("Mode", mode)
    # The same figure across every trigger and mode: what the p99 alarm watches (an alarm needs
    # fixed dimensions).
    with single_metric(name="AcknowledgementLatency", unit=MetricUnit.Milliseconds, value=elapsed) as metric:
        metric.add_dimension("Scope", "AllTriggers")


STARTED: ContextVar[float] = ContextVar("receiver_invocation_started", default=0.0)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    STARTED.set(time.perf_counter())
    return app.resolve(event, context)


lambda_handler = traced(handle, xray_sdk=settings.xray_sdk)
