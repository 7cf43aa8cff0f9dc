"""Completing a SailPoint invocation: `POST {callbackURL}` with the secret and the output (or error).

Every answer is classified so the worker knows what to do: done, retry later (429, 5xx, timeout),
or give up (other 4xx, a refused URL). A 401 is answered by one token refresh and one retry.
Each POST first takes its turn from the shared SailPoint budget when one is given; a budget used up
for longer than it may wait is a RETRY with the wait as Retry-After (no request, so no 429).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from idn_triggers.deprecations import DEPRECATIONS
from idn_triggers.http_answers import error_text, retry_after_seconds
from idn_triggers.rate_budget import Budget, BudgetExhausted
from idn_triggers.tokens import TokenSource, TokenUnavailable

# SailPoint's answer to a second completion of one invocation (the simulator uses the same words).
ALREADY_COMPLETED = "already completed"


class CallbackOutcome(StrEnum):
    COMPLETED = "completed"
    RETRY = "retry"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class CallbackResult:
    outcome: CallbackOutcome
    reason: str
    retry_after: float | None = None
    status: int | None = None


class CallbackClient:
    """Reuses one HTTP connection pool per container; explicit connect and read timeouts."""

    def __init__(
        self, tokens: TokenSource, timeout: float = 5.0, pool_size: int = 16, budget: Budget | None = None
    ) -> None:
        self.tokens = tokens
        self.budget = budget
        self.timeout = (min(3.0, timeout), timeout)
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.calls = 0

    def complete(
        self, callback_url: str, secret: str, *, output: Any = None, error: str | None = None
    ) -> CallbackResult:
        body: dict[str, Any] = {"secret": secret}
        if error is not None:
            body["error"] = error
        else:
            body["output"] = output
        for attempt in range(2):
            try:
                token = self.tokens.token()
            except TokenUnavailable as failure:
                return CallbackResult(CallbackOutcome.RETRY, f"no access token: {failure}")
            try:
                if self.budget is not None:
                    self.budget.take(urlsplit(callback_url).path)
            except BudgetExhausted as exhausted:
                return CallbackResult(CallbackOutcome.RETRY, str(exhausted), exhausted.retry_after)
            result = self._post(callback_url, body, token)
            if result.status == 401 and attempt == 0:
                self.tokens.invalidate(token)
                continue
            return result
        return CallbackResult(CallbackOutcome.RETRY, "tenant refused two fresh tokens (401)", status=401)

    def _post(self, url: str, body: dict[str, Any], token: str) -> CallbackResult:
        self.calls += 1
        try:
            # No redirects: the secret and the token go to the vetted completion URL and nowhere else.
            response = self.session.post(
                url,
                json=body,
                timeout=self.timeout,
                allow_redirects=False,
                headers={"Authorization": f"Bearer {token}"},
            )
        except requests.Timeout:
            return CallbackResult(CallbackOutcome.RETRY, "callback timed out")
        except requests.RequestException as failure:
            return CallbackResult(CallbackOutcome.RETRY, f"callback failed ({type(failure).__name__})")
        DEPRECATIONS.note("POST", url, response.headers)
        status = response.status_code
        if status in (200, 202, 204):
            return CallbackResult(CallbackOutcome.COMPLETED, f"HTTP {status}", status=status)
        if status == 429 or status >= 500 or status == 401:
            return CallbackResult(
                CallbackOutcome.RETRY,
                f"HTTP {status}",
                retry_after_seconds(response.headers.get("Retry-After")),
                status,
            )
        detail = error_text(response)
        if status == 400 and ALREADY_COMPLETED in detail.lower():
            # An earlier attempt timed out on our side but reached SailPoint: the answer is in.
            return CallbackResult(
                CallbackOutcome.COMPLETED, f"HTTP 400: {detail} (an earlier attempt landed)", status=status
            )
        return CallbackResult(CallbackOutcome.PERMANENT, f"HTTP {status}: {detail}", status=status)
