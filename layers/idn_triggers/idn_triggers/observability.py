"""Logging guards shared by every function.

botocore and urllib3 write request and response bodies at DEBUG, and a Secrets Manager response
body is the secret itself. Lambda lets operators turn the root logger to DEBUG, so before any client
that handles secrets is built, the SDK's loggers are held at INFO or above.
"""

from __future__ import annotations

import logging

SDK_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")


def keep_sdk_logs_free_of_secrets() -> None:
    """Raise the SDK loggers to INFO so no request or response body is ever logged."""
    for name in SDK_LOGGERS:
        sdk_logger = logging.getLogger(name)
        if sdk_logger.getEffectiveLevel() < logging.INFO:
            sdk_logger.setLevel(logging.INFO)
