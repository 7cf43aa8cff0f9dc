"""Endpoints SailPoint marks deprecated (`X-Deprecated: true`): logged once, counted, reported.

SailPoint moved to per-service versions (`/trigger-invocations/v1/...`); `beta`, `v3` and the yearly
versions stop working in Q1 2029. A response with `X-Deprecated: true` is logged once per endpoint
per container, counted in the `DeprecatedEndpointCalls` metric (Lambda functions turn metrics on),
and kept in `DEPRECATIONS.seen()` for `idn-triggers doctor`.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Mapping
from urllib.parse import urlsplit

from aws_lambda_powertools import Logger

logger = Logger()
_ID_SEGMENT = re.compile(r"^(?=.*\d)[0-9A-Za-z-]{16,}$")  # ids, not words: long and with a digit


def endpoint_of(method: str, url: str) -> str:
    """`POST /trigger-invocations/v1/{id}/complete`: the path with ids folded, no host, no query."""
    path = urlsplit(url).path or "/"
    segments = ["{id}" if _ID_SEGMENT.match(s) else s for s in path.split("/")]
    return f"{method.upper()} {'/'.join(segments)}"


class DeprecationWatch:
    """Per container: which deprecated endpoints answered, and how often."""

    def __init__(self) -> None:
        self.metrics = False  # the Lambda functions set this; the CLI must not print EMF lines
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()

    def note(self, method: str, url: str, headers: Mapping[str, str]) -> None:
        if str(headers.get("X-Deprecated", "")).strip().lower() != "true":
            return
        endpoint = endpoint_of(method, url)
        with self._lock:
            first = endpoint not in self._calls
            self._calls[endpoint] += 1
        if first:
            logger.warning(
                "SailPoint marks this endpoint deprecated (X-Deprecated: true); move to its /v1 path",
                extra={"endpoint": endpoint},
            )
        if self.metrics:
            from aws_lambda_powertools.metrics import MetricUnit, single_metric

            with single_metric(name="DeprecatedEndpointCalls", unit=MetricUnit.Count, value=1) as metric:
                metric.add_dimension("Endpoint", endpoint)

    def seen(self) -> dict[str, int]:
        with self._lock:
            return dict(self._calls)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()


DEPRECATIONS = DeprecationWatch()
