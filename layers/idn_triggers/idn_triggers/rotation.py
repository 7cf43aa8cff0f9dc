"""Rotating the inbound credential with Secrets Manager's four rotation steps.

1. createSecret: a new bearer token (or Basic password) becomes the AWSPENDING version; it carries
   the current credential as `previous`, so once promoted, deliveries still using the old one pass.
2. setSecret: after the receivers' secret cache has had time to see the pending version (they
   accept AWSCURRENT, AWSPENDING and `previous`), every SailPoint subscription pointing at this
   stack is PATCHed to send the new credential.
3. testSecret: the pending credential is well formed and every such subscription now uses the
   expected authentication type.
4. finishSecret: AWSPENDING becomes AWSCURRENT.
A failure at any step leaves AWSCURRENT untouched, so the current credential keeps working.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from idn_triggers.auth import AuthType, InboundSecret, parse_inbound_secret
from idn_triggers.sailpoint_api import SailPointClient, http_config, webhook_url
from idn_triggers.subscriptions import auth_config

logger = Logger()
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


class RotationError(Exception):
    """A rotation step cannot proceed; AWSCURRENT is unchanged."""


def new_credential(auth_type: AuthType, current: InboundSecret) -> dict[str, Any]:
    """The next secret value: a fresh credential of the same kind, with the current one as `previous`."""
    fresh = secrets.token_urlsafe(36)
    previous = without_previous(current)
    if auth_type is AuthType.BEARER_TOKEN:
        return {"bearerToken": fresh, "previous": previous}
    return {"userName": current.user_name, "password": fresh, "previous": previous}


def http_config_with(
    subscription: dict[str, Any], auth_type: AuthType, credential: InboundSecret
) -> dict[str, Any]:
    """The subscription's httpConfig with the new credential (SailPoint never echoes the old one)."""
    config = {
        k: v
        for k, v in http_config(subscription).items()
        if k not in ("basicAuthConfig", "bearerTokenAuthConfig")
    }
    return {**config, **auth_config(auth_type, credential)}


def without_previous(current: InboundSecret) -> dict[str, Any]:
    """The secret's value with only the current credential: what revoking the previous one writes."""
    value = current.model_dump(by_alias=True, exclude={"previous"}, exclude_none=True, mode="python")
    return {k: (v.get_secret_value() if hasattr(v, "get_secret_value") else v) for k, v in value.items()}


class InboundRotation:
    """One rotation Lambda's work; `secretsmanager` is a boto3 client, `api` a SailPointClient."""

    def __init__(
        self,
        secretsmanager: Any,
        api: SailPointClient,
        auth_type: AuthType,
        webhook_base_url: str,
        *,
        propagation_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if auth_type is AuthType.NO_AUTH:
            raise RotationError("NO_AUTH has no credential to rotate")
        self.sm = secretsmanager
        self.api = api
        self.auth_type = auth_type
        self.webhook_base_url = webhook_base_url.rstrip("/") + "/"
        self.propagation_seconds = propagation_seconds
        self._sleep = sleep

    def run(self, step: str, secret_id: str, token: str) -> None:
        versions = self.sm.describe_secret(SecretId=secret_id).get("VersionIdsToStages", {})
        if token not in versions and step != "createSecret":
            raise RotationError(f"version {token} is not a version of the secret")
        if "AWSCURRENT" in versions.get(token, []):
            logger.info("rotation step skipped: version already current", extra={"step": step})
            return
        if step not in STEPS:
            raise RotationError(f"unknown rotation step {step!r}")
        if step != "createSecret" and "AWSPENDING" not in versions.get(token, []):
            raise RotationError(f"version {token} is not pending")
        getattr(self, "_" + step.removesuffix("Secret") + "_secret")(secret_id, token, versions)
        logger.info("rotation step done", extra={"step": step})

    def revoke_previous(self, secret_id: str) -> bool:
        """End the validity of the credential the last rotation replaced, now (a leaked one): write the
        current credential again without `previous`, as a new AWSCURRENT version. Receivers stop
        accepting it once their secret cache expires (InboundSecretCacheSeconds). False when there was
        nothing to revoke. Refused while another version is AWSPENDING: the receivers accept that one
        too, so a rotation under way (or abandoned) must finish (or lose the label) first."""
        versions = self.sm.describe_secret(SecretId=secret_id).get("VersionIdsToStages", {})
        pending = [
            v for v, stages in versions.items() if "AWSPENDING" in stages and "AWSCURRENT" not in stages
        ]
        if pending:
            raise RotationError(
                f"version {pending[0]} is AWSPENDING (a rotation is under way or failed), and receivers "
                "accept it: let the rotation finish, or remove the label (aws secretsmanager "
                "update-secret-version-stage --version-stage AWSPENDING --remove-from-version-id ...)"
            )
        current = self._value(secret_id, VersionStage="AWSCURRENT")
        if current.previous is None:
            logger.info("no previous credential to revoke")
            return False
        # Labels moved explicitly (as finishSecret does): put_secret_value's implicit AWSCURRENT move
        # is not honoured by every emulator when the current version also carries AWSPENDING.
        token = str(uuid.uuid4())
        self.sm.put_secret_value(
            SecretId=secret_id,
            ClientRequestToken=token,
            VersionStages=["AWSPENDING"],
            SecretString=json.dumps(without_previous(current)),
        )
        current_id = next(v for v, stages in versions.items() if "AWSCURRENT" in stages)
        self.sm.update_secret_version_stage(
            SecretId=secret_id,
            VersionStage="AWSCURRENT",
            MoveToVersionId=token,
            RemoveFromVersionId=current_id,
        )
        self.sm.update_secret_version_stage(
            SecretId=secret_id, VersionStage="AWSPENDING", RemoveFromVersionId=token
        )
        logger.info("previous inbound credential revoked")
        return True

    def _value(self, secret_id: str, **version: str) -> InboundSecret:
        raw = self.sm.get_secret_value(SecretId=secret_id, **version)["SecretString"]
        return parse_inbound_secret(secret_id, self.auth_type, json.loads(raw))

    def _create_secret(self, secret_id: str, token: str, versions: dict[str, list[str]]) -> None:
        # Secrets Manager labels the new version AWSPENDING before this step gives it a value.
        try:
            self.sm.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage="AWSPENDING")
            return  # already has a value: the step is being retried
        except self.sm.exceptions.ResourceNotFoundException:
            pass
        current = self._value(secret_id, VersionStage="AWSCURRENT")
        self.sm.put_secret_value(
            SecretId=secret_id,
            ClientRequestToken=token,
            VersionStages=["AWSPENDING"],
            SecretString=json.dumps(new_credential(self.auth_type, current)),
        )

    def targets(self) -> list[dict[str, Any]]:
        """Subscriptions that deliver to this stack."""
        return [s for s in self.api.list_subscriptions() if webhook_url(s).startswith(self.webhook_base_url)]

    def _set_secret(self, secret_id: str, token: str, versions: dict[str, list[str]]) -> None:
        pending = self._value(secret_id, VersionId=token, VersionStage="AWSPENDING")
        # Receivers cache the secret; give them time to see the pending version before SailPoint uses it.
        self._sleep(self.propagation_seconds)
        for subscription in self.targets():
            config = http_config_with(subscription, self.auth_type, pending)
            self.api.patch_subscription(
                subscription["id"], [{"op": "replace", "path": "/httpConfig", "value": config}]
            )
            logger.info(
                "subscription now sends the new credential", extra={"subscription_id": subscription["id"]}
            )

    def _test_secret(self, secret_id: str, token: str, versions: dict[str, list[str]]) -> None:
        try:
            self._value(
                secret_id, VersionId=token, VersionStage="AWSPENDING"
            )  # well formed for the auth type
        except self.sm.exceptions.ResourceNotFoundException:
            # RotateSecret with RotateImmediately false (the stack's create): Secrets Manager tests the
            # configuration with an AWSPENDING version of its own and no value. Reading the secret
            # proved the permissions; SailPoint is not involved, so a create never waits on it.
            logger.info("rotation configuration test: the pending version has no value yet")
            return
        wrong = [
            s["id"]
            for s in self.targets()
            if http_config(s).get("httpAuthenticationType") != self.auth_type.value
        ]
        if wrong:
            raise RotationError(f"subscriptions not switched to {self.auth_type.value}: {', '.join(wrong)}")

    def _finish_secret(self, secret_id: str, token: str, versions: dict[str, list[str]]) -> None:
        current = next((version for version, stages in versions.items() if "AWSCURRENT" in stages), None)
        self.sm.update_secret_version_stage(
            SecretId=secret_id, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=current
        )
