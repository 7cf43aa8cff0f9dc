"""A pre-approval handler the test steers: answer, raise, or sleep 12 s (unless released)."""

from __future__ import annotations

import threading

from idn_triggers.handlers import trigger_handler
from idn_triggers.models.access_request import AccessRequestPreApproval, PreApprovalDecision

BEHAVIOUR = {"mode": "answer"}  # answer | raise | sleep
RELEASE = threading.Event()
SLEEP_SECONDS = 12.0


@trigger_handler("idn:access-request-pre-approval")
def decide(event: AccessRequestPreApproval) -> PreApprovalDecision:
    if BEHAVIOUR["mode"] == "raise":
        raise RuntimeError("the approval service is down")
    if BEHAVIOUR["mode"] == "sleep":
        RELEASE.wait(SLEEP_SECONDS)
    return PreApprovalDecision(approved=True, comment="handler answered", approver="policy-test")
