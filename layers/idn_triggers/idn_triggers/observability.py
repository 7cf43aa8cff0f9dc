"""Logging and tracing choices shared by every function.

botocore and urllib3 write request and response bodies at DEBUG, and a Secrets Manager response
body is the secret itself. Lambda lets operators turn the root logger to DEBUG, so before any client
that handles secrets is built, the SDK's loggers are held at INFO or above.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

SDK_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")


def keep_sdk_logs_free_of_secrets() -> None:
    """Raise the SDK loggers to INFO so no request or response body is ever logged."""
    for name in SDK_LOGGERS:
        sdk_logger = logging.getLogger(name)
        if sdk_logger.getEffectiveLevel() < logging.INFO:
            sdk_logger.setLevel(logging.INFO)


def traced[**P, R](handler: Callable[P, R], *, xray_sdk: bool) -> Callable[P, R]:
    """Wrap a Lambda handler with Powertools Tracer only when asked to.

    `Tracing: Active` already records each invocation in X-Ray without any SDK. The X-Ray SDK that
    Tracer imports costs ~280 ms of cold start (measured in bench/cold_import.py), which the
    receiver pays inside SailPoint's 10 s budget, so subsegments are opt-in there.
    Responses are never captured: they may hold credentials or identity data.
    """
    if not xray_sdk:
        return handler
    from aws_lambda_powertools import Tracer

    return Tracer().capture_lambda_handler(handler, capture_response=False)
