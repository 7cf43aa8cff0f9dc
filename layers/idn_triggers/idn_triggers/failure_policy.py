"""What SailPoint receives when a request-response handler raises or cannot answer in time.

Per trigger (`FAILURE_POLICIES`, the `FailurePolicies` parameter), one of:
- `error` (the default): the receiver answers its documented 500 and the worker completes the
  invocation with `error`; SailPoint fails the access request.
- a fallback answer (a JSON object valid for the trigger's output model, e.g. a pre-approval
  `{"approved": false, ...}`): SailPoint receives it as if the handler had answered.

The receiver runs a SYNC (or DYNAMIC answered now) handler under a watchdog: if it is still running
`answer_seconds` after the delivery arrived, the receiver answers then (fallback or error), well
before SailPoint's 10 s and the receiver's own Lambda timeout. The worker applies the same policy
when a handler's retries are exhausted, or when the next retry would land after `responseDeadline`.
"""

from __future__ import annotations

import contextvars
import json
import threading
from collections.abc import Callable
from typing import Any

SAILPOINT_ANSWER_SECONDS = 10.0  # SailPoint waits this long for any answer, cold start included
# Left for the cold start (init before the handler runs), API Gateway and the network: the default
# watchdog is 10 - 4 = 6 s, and the receiver's Lambda timeout (8 s) is above it.
COLD_START_AND_NETWORK_MARGIN = 4.0
DEFAULT_ANSWER_SECONDS = SAILPOINT_ANSWER_SECONDS - COLD_START_AND_NETWORK_MARGIN
ERROR = "error"


class HandlerTimedOut(Exception):
    """The handler was still running when the answer was due; it keeps running in its thread."""


def parse_failure_policies(value: Any) -> dict[str, dict[str, Any]]:
    """`{"trigger id": "error" | {fallback answer}, ...}` (JSON text or a mapping) -> fallbacks only.

    Raises ValueError naming the trigger whose policy is neither `error` nor a JSON object.
    """
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(
                'must be a JSON object: {"<trigger id>": "error" or {fallback answer}}'
            ) from None
    if not isinstance(value, dict):
        raise ValueError('must be a JSON object: {"<trigger id>": "error" or {fallback answer}}')
    fallbacks: dict[str, dict[str, Any]] = {}
    for trigger_id, policy in value.items():
        if policy == ERROR:
            continue
        if not isinstance(policy, dict):
            raise ValueError(f'{trigger_id}: the policy must be "error" or a fallback answer (a JSON object)')
        fallbacks[str(trigger_id)] = policy
    return fallbacks


def run_with_deadline[R](work: Callable[[], R], seconds: float) -> R:
    """`work()`'s result or exception if it finishes within `seconds`; else HandlerTimedOut.

    The work runs in a daemon thread with the caller's context variables (log keys); a Python thread
    cannot be stopped, so a handler past its deadline keeps running until it returns.
    """
    done = threading.Event()
    box: dict[str, Any] = {}
    context = contextvars.copy_context()

    def run() -> None:
        try:
            box["result"] = context.run(work)
        except BaseException as error:  # handed to the caller's thread below
            box["error"] = error
        finally:
            done.set()

    threading.Thread(target=run, name="handler-watchdog", daemon=True).start()
    if not done.wait(seconds):
        raise HandlerTimedOut(f"no answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]
    result: R = box["result"]
    return result
