"""What every `idn-triggers` command group shares: exit codes, output, credentials, the tenant client,
trigger ids and JSON files."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from idn_tools.cli_support import tenant_url_problem
from idn_triggers.catalogue import known_triggers
from idn_triggers.sailpoint_api import (
    SailPointClient,
)
from idn_triggers.tokens import (
    ClientCredentials,
    ClientCredentialsTokenProvider,
)

OK, CHECK_FAILED, USAGE, TENANT = 0, 1, 2, 3
REQUIRED_SCOPES = {
    "sp:trigger-service-subscriptions:read": "list triggers and subscriptions",
    "sp:trigger-service-subscriptions:manage": "create, change and delete subscriptions; validate filters",
    "sp:trigger-service-invocation-status:read": "read invocation status",
    "sp:trigger-service-invocation-status:manage": "start test invocations",
}


AWS_ACCOUNT = re.compile(r"^\d{12}$")
AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


class UsageError(Exception):
    """Bad input from the user: exit code 2."""


# -- output -------------------------------------------------------------------------------------
def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def emit(
    args: argparse.Namespace, data: Any, rows: Sequence[Sequence[Any]] = (), headers: Sequence[str] = ()
) -> None:
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    elif headers:
        print(table(rows, headers))
    else:  # never a Python repr: what is not a table is JSON
        print(json.dumps(data, indent=2, default=str))


# -- connection ---------------------------------------------------------------------------------
def credentials(args: argparse.Namespace) -> ClientCredentials:
    if args.client_secret_id:
        return credentials_from_secret(args.client_secret_id)
    client_id = args.client_id or os.environ.get("SAILPOINT_CLIENT_ID")
    secret = args.client_secret or os.environ.get("SAILPOINT_CLIENT_SECRET")
    if not client_id or not secret:
        raise UsageError(
            "no API client: set SAILPOINT_CLIENT_ID and SAILPOINT_CLIENT_SECRET, "
            "or pass --client-id/--client-secret or --client-secret-id"
        )
    return ClientCredentials(client_id=client_id, client_secret=SecretStr(secret))


class AwsError(Exception):
    """AWS could not give what was asked (no region, no credentials, denied, unreachable): exit 3."""


def credentials_from_secret(secret_id: str) -> ClientCredentials:
    """The API client from the stack's secret, read with the user's AWS credentials."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        raw = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    except (BotoCoreError, ClientError) as error:
        raise AwsError(f"cannot read secret {secret_id}: {error}") from None
    try:
        return ClientCredentials.model_validate(json.loads(raw))
    except ValueError:  # pydantic's ValidationError is one; never echo the secret's content
        raise UsageError(
            f"secret {secret_id} must hold a JSON object with clientId and clientSecret"
        ) from None


def tenant_url(args: argparse.Namespace) -> str:
    url = args.tenant_url or os.environ.get("SAILPOINT_TENANT_URL")
    if not url:
        raise UsageError(
            "no tenant: set SAILPOINT_TENANT_URL (e.g. https://acme.api.identitynow.com) or --tenant-url"
        )
    problem = tenant_url_problem(url)
    if problem:
        raise UsageError(f"{problem} (SAILPOINT_TENANT_URL or --tenant-url)")
    return str(url).rstrip("/")


def client(args: argparse.Namespace) -> SailPointClient:
    creds = credentials(args)
    tokens = ClientCredentialsTokenProvider(tenant_url(args), lambda: creds)
    return SailPointClient(tenant_url(args), tokens, family=args.api)


def check_trigger(trigger_id: str) -> str:
    """The id if the catalogue knows it, else a usage error listing close matches."""
    catalogue = known_triggers()
    if trigger_id in catalogue:
        return trigger_id
    close = difflib.get_close_matches(trigger_id, list(catalogue), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `idn-triggers triggers list` shows them all"
    raise UsageError(f"unknown trigger id {trigger_id!r}{hint}")


def read_json(path: str | None) -> Any:
    if path is None:
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read JSON from {path}: {error}") from None


MODES = ("SYNC", "ASYNC", "DYNAMIC")
TRIGGER_HELP = "trigger id, e.g. idn:identity-created (`idn-triggers triggers list` shows them)"
