"""Dynamic approver: add a governance group (or identity) as approver, chosen by requested item type.

Configuration: settings/<HANDLER_SETTINGS>.json in this package (see idn_triggers.settings.HandlerSettings),
or the template parameters (environment variables), which win when set:
- DYNAMIC_APPROVER_RULES: JSON object mapping an item type (ACCESS_PROFILE, ROLE, ENTITLEMENT) or "*"
  to the approver to add, e.g. {"ROLE": {"id": "2c91...", "name": "Role Owners", "type": "GOVERNANCE_GROUP"}}.
  The first requested item with a rule decides; with no rule, nobody is added: the answer is
  SailPoint's documented "no extra approver", {"id": "", "name": "", "type": ""}.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from pydantic import Field, field_validator

from idn_triggers.handlers import trigger_handler
from idn_triggers.models.access_request import AccessRequestDynamicApprover, DynamicApprover
from idn_triggers.settings import HandlerSettings


class DynamicApproverSettings(HandlerSettings):
    rules: dict[str, DynamicApprover] = Field(default_factory=dict, alias="DYNAMIC_APPROVER_RULES")

    @field_validator("rules", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


@cache
def settings() -> DynamicApproverSettings:
    return DynamicApproverSettings.from_env()


@trigger_handler("idn:access-request-dynamic-approver")
def choose_approver(event: AccessRequestDynamicApprover) -> DynamicApprover:
    rules = settings().rules
    for item in event.requested_items:
        rule = rules.get(item.type.upper()) or rules.get("*")
        if rule is not None:
            return rule
    return DynamicApprover.nobody()  # returning None is sent the same way
