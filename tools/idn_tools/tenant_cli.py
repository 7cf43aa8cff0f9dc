"""`idn-triggers`: manage a tenant's event-trigger subscriptions and test filters from the command line.

Credentials come from the environment (SAILPOINT_TENANT_URL, SAILPOINT_CLIENT_ID,
SAILPOINT_CLIENT_SECRET), from flags, or from the stack's own secret (`--client-secret-id`, read
with your AWS credentials); they are never printed.

Exit codes: 0 done; 1 a check failed (doctor found problems, a filter does not match or is
invalid); 2 usage error (bad arguments, unknown trigger id, unreadable file); 3 the tenant refused
or could not be reached (the message names the cause and the fix).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import requests
from pydantic import SecretStr

from idn_tools.cli_support import guarded, quiet_closed_pipes, share_global_options
from idn_triggers.catalogue import known_triggers, trigger_document
from idn_triggers.event_buses import PartnerBuses
from idn_triggers.eventbridge import partner_source_name
from idn_triggers.sailpoint_api import (
    Family,
    SailPointApiError,
    SailPointClient,
    SailPointForbidden,
    SailPointNotFound,
    SailPointRateLimited,
    SailPointUnauthorized,
)
from idn_triggers.tokens import (
    ClientCredentials,
    ClientCredentialsTokenProvider,
    TokenUnavailable,
    client_credentials_grant,
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


# -- commands -----------------------------------------------------------------------------------
def cmd_triggers_list(args: argparse.Namespace) -> int:
    catalogue = known_triggers()
    if args.offline:
        found = [{"id": t.id, "name": t.name, "type": t.type.value} for t in catalogue.values()]
    else:
        found = client(args).list_triggers()
    rows = []
    for trigger in sorted(found, key=lambda t: str(t.get("id"))):
        info = catalogue.get(str(trigger.get("id")))
        availability = info.availability.value if info else "NOT IN CATALOGUE"
        rows.append((trigger.get("id"), trigger.get("name"), trigger.get("type"), availability))
    emit(args, found, rows, ("id", "name", "type", "availability"))
    return OK


def is_request_response(trigger_id: Any) -> bool:
    """Whether the catalogue says the trigger waits for an answer (unknown ids: assume it may)."""
    info = known_triggers().get(str(trigger_id))
    return info is None or info.type.value == "REQUEST_RESPONSE"


def subscription_row(s: dict[str, Any]) -> tuple[Any, ...]:
    http = s.get("httpConfig") or {}
    bridge = s.get("eventBridgeConfig") or {}
    target = http.get("url")
    if s.get("type") == "EVENTBRIDGE":
        target = f"eventbridge {bridge.get('awsAccount')} {bridge.get('awsRegion')}"
    # SailPoint stores an httpDispatchMode on every HTTP subscription, but a fire-and-forget trigger
    # has no answer to give, so none is shown.
    mode = http.get("httpDispatchMode") if is_request_response(s.get("triggerId")) else "-"
    return (
        s.get("id"),
        s.get("name"),
        s.get("triggerId"),
        target,
        mode,
        http.get("httpAuthenticationType"),
        s.get("responseDeadline"),
        s.get("filter") or "",
        s.get("enabled"),
    )


SUBSCRIPTION_HEADERS = ("id", "name", "trigger", "url", "mode", "auth", "deadline", "filter", "enabled")


def cmd_subscriptions_list(args: argparse.Namespace) -> int:
    found = client(args).list_subscriptions(check_trigger(args.trigger) if args.trigger else None)
    emit(args, found, [subscription_row(s) for s in found], SUBSCRIPTION_HEADERS)
    return OK


def cmd_subscriptions_show(args: argparse.Namespace) -> int:
    found = client(args).get_subscription(args.id)
    emit(args, found, [subscription_row(found)], SUBSCRIPTION_HEADERS)
    return OK


AUTH_CHOICES = ("none", "bearer", "basic")


def chosen_auth(args: argparse.Namespace) -> str | None:
    """The inbound authentication the flags ask for: none, bearer, basic, or None if not given.

    `--bearer-token-env` implies bearer and `--basic-user`/`--basic-password-env` imply basic;
    `--auth` must agree with them. NO_AUTH is never chosen by leaving flags out."""
    implied = (
        "bearer"
        if args.bearer_token_env
        else ("basic" if args.basic_user or args.basic_password_env else None)
    )
    if args.bearer_token_env and (args.basic_user or args.basic_password_env):
        raise UsageError("give either --bearer-token-env or --basic-user/--basic-password-env, not both")
    if args.auth and implied and args.auth != implied:
        raise UsageError(f"--auth {args.auth} contradicts the {implied} credential flags")
    return str(args.auth or implied) if (args.auth or implied) else None


def auth_config(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """The httpConfig keys for one authentication type; credentials come from the environment."""
    if kind == "bearer":
        if not args.bearer_token_env:
            raise UsageError("--auth bearer needs --bearer-token-env VAR (the variable holding the token)")
        return {
            "httpAuthenticationType": "BEARER_TOKEN",
            "bearerTokenAuthConfig": {"bearerToken": env_secret(args.bearer_token_env)},
        }
    if kind == "basic":
        if not (args.basic_user and args.basic_password_env):
            raise UsageError("--auth basic needs --basic-user USER and --basic-password-env VAR")
        return {
            "httpAuthenticationType": "BASIC_AUTH",
            "basicAuthConfig": {"userName": args.basic_user, "password": env_secret(args.basic_password_env)},
        }
    return {"httpAuthenticationType": "NO_AUTH"}


def http_config(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    kind = chosen_auth(args)
    if kind is None:
        raise UsageError(
            "choose how SailPoint authenticates to the receiver: --bearer-token-env VAR, "
            "--basic-user USER --basic-password-env VAR, or --auth none (anyone could call it)"
        )
    return {"url": args.url, "httpDispatchMode": mode, **auth_config(kind, args)}


def env_secret(name: str | None) -> str:
    """Credentials for subscriptions are read from the environment, never from the command line."""
    value = os.environ.get(name or "")
    if not value:
        raise UsageError(
            f"environment variable {name} is not set (it holds the credential SailPoint will send)"
        )
    return value


HTTP_ONLY_FLAGS = ("url", "mode", "auth", "bearer_token_env", "basic_user", "basic_password_env")


def event_bridge_config(args: argparse.Namespace, current: dict[str, Any] | None = None) -> dict[str, str]:
    """`{awsAccount, awsRegion}` from --aws-account/--aws-region (over the current ones), validated."""
    config = {
        "awsAccount": args.aws_account or (current or {}).get("awsAccount"),
        "awsRegion": args.aws_region or (current or {}).get("awsRegion"),
    }
    if not config["awsAccount"] or not config["awsRegion"]:
        raise UsageError(
            "EVENTBRIDGE subscriptions need --aws-account and --aws-region: the account and region "
            "of the stack deployed with Transport=EVENTBRIDGE or BOTH"
        )
    if not AWS_ACCOUNT.match(str(config["awsAccount"])):
        raise UsageError("--aws-account must be the 12 digits of an AWS account id")
    if not AWS_REGION.match(str(config["awsRegion"])):
        raise UsageError("--aws-region must be an AWS region name such as us-east-1")
    return {key: str(value) for key, value in config.items()}


def refuse_http_flags(args: argparse.Namespace) -> None:
    given = [f"--{name.replace('_', '-')}" for name in HTTP_ONLY_FLAGS if getattr(args, name, None)]
    if given:
        raise UsageError(
            f"{' '.join(given)}: EVENTBRIDGE subscriptions have no URL, response mode or credential "
            "(request-response triggers are answered through the callback, as in ASYNC mode)"
        )


def partner_source_note(subscription: dict[str, Any]) -> None:
    """The next step after creating an EVENTBRIDGE subscription, on stderr (stdout stays data)."""
    if subscription.get("type") == "EVENTBRIDGE" and subscription.get("id"):
        source = partner_source_name(str(subscription["id"]), str(subscription.get("triggerId")))
        print(
            f"partner event source: {source}\nassociate it: deploy the stack with "
            f"PartnerEventSources={source} (or let the stack subscribe: SubscribeTriggers)",
            file=sys.stderr,
        )


def cmd_subscriptions_create(args: argparse.Namespace) -> int:
    trigger = check_trigger(args.trigger)
    body: dict[str, Any] = {
        "name": args.name,
        "triggerId": trigger,
        "type": args.type,
        "responseDeadline": args.deadline,
        "enabled": not args.disabled,
    }
    if args.type == "EVENTBRIDGE":
        refuse_http_flags(args)
        body["eventBridgeConfig"] = event_bridge_config(args)
    else:
        if args.aws_account or args.aws_region:
            raise UsageError("--aws-account and --aws-region go with --type EVENTBRIDGE")
        if not args.url:
            raise UsageError("HTTP subscriptions need --url (the receiver URL: <WebhookBaseUrl><trigger id>)")
        if args.mode and not is_request_response(trigger):
            raise UsageError(f"{trigger} is fire-and-forget: it has no response mode; leave --mode out")
        body["httpConfig"] = http_config(args, args.mode or "SYNC")
    if args.filter:
        body["filter"] = args.filter
    created = client(args).create_subscription(body)
    emit(args, created, [subscription_row(created)], SUBSCRIPTION_HEADERS)
    partner_source_note(created)
    return OK


def cmd_subscriptions_update(args: argparse.Namespace) -> int:
    operations: list[dict[str, Any]] = []
    for field, value in (("name", args.name), ("responseDeadline", args.deadline), ("filter", args.filter)):
        if value is not None:
            operations.append(
                {"op": "replace" if field != "filter" else "add", "path": f"/{field}", "value": value}
            )
    if args.enable or args.disable:
        operations.append({"op": "replace", "path": "/enabled", "value": bool(args.enable)})
    kind = chosen_auth(args)
    new_auth = (
        auth_config(kind, args) if kind else {}
    )  # before any request: a missing variable is a usage error
    if not operations and not (
        args.url or args.mode or new_auth or args.aws_account or args.aws_region or args.type
    ):
        raise UsageError(
            "nothing to change: give at least one of --name --url --mode --aws-account --aws-region "
            "--deadline --filter --enable --disable --auth/--bearer-token-env/--basic-user"
        )
    api = client(args)
    if args.aws_account or args.aws_region or args.type == "EVENTBRIDGE":
        current = api.get_subscription(args.id)
        if current.get("type") != "EVENTBRIDGE" and args.type != "EVENTBRIDGE":
            raise UsageError(
                "--aws-account/--aws-region change EVENTBRIDGE subscriptions; add --type EVENTBRIDGE "
                "to turn this HTTP subscription into one"
            )
        refuse_http_flags(args)
        config = event_bridge_config(args, current.get("eventBridgeConfig"))
        if current.get("type") != "EVENTBRIDGE":
            operations.append({"op": "replace", "path": "/type", "value": "EVENTBRIDGE"})
            if current.get("httpConfig") is not None:
                operations.append({"op": "remove", "path": "/httpConfig"})
        operations.append({"op": "add", "path": "/eventBridgeConfig", "value": config})
    elif args.url or args.mode or new_auth:
        current = api.get_subscription(args.id)
        if current.get("type") == "EVENTBRIDGE":
            raise UsageError(
                "--url, --mode and credentials change HTTP subscriptions; this one is EVENTBRIDGE"
            )
        http = current.get("httpConfig") or {}
        config = {k: v for k, v in http.items() if v is not None}
        config.update({k: v for k, v in (("url", args.url), ("httpDispatchMode", args.mode)) if v})
        if new_auth:  # the new credential replaces the old one and its type
            for key in ("httpAuthenticationType", "bearerTokenAuthConfig", "basicAuthConfig"):
                config.pop(key, None)
            config.update(new_auth)
        operations.append({"op": "replace", "path": "/httpConfig", "value": config})
    updated = api.patch_subscription(args.id, operations)
    emit(args, updated, [subscription_row(updated)], SUBSCRIPTION_HEADERS)
    return OK


def cmd_subscriptions_delete(args: argparse.Namespace) -> int:
    client(args).delete_subscription(args.id)
    if args.json:
        emit(args, {"deleted": args.id})
    else:
        print(f"deleted subscription {args.id}")
    return OK


def cmd_invoke_test(args: argparse.Namespace) -> int:
    trigger = check_trigger(args.trigger)
    started = client(args).test_invocation(
        trigger, read_json(args.input), [args.subscription] if args.subscription else None
    )
    # each invocation's callback `secret` completes it: never printed (issue 27)
    invocations = [
        {k: "***" if k == "secret" else v for k, v in i.items()} if isinstance(i, dict) else i
        for i in (started if isinstance(started, list) else [])
    ]
    emit(
        args,
        {"started": invocations},
        [(i.get("id"), i.get("triggerId")) for i in invocations],
        ("invocation", "trigger"),
    )
    if not invocations:  # the tenant answers 204: no subscription received the test
        which = f"subscription {args.subscription}" if args.subscription else f"no subscription to {trigger}"
        print(
            f"note: nothing was sent: {which} received it (idn-triggers subscriptions list shows them)",
            file=sys.stderr,
        )
    return OK


def cmd_invocations_status(args: argparse.Namespace) -> int:
    found = client(args).invocation_statuses(check_trigger(args.trigger) if args.trigger else None)
    rows = []
    for status in found:
        complete = status.get("completeInvocationInput") or {}
        error = (complete.get("localizedError") or {}).get("message")
        outcome = (
            "pending" if not status.get("completed") else ("failed: " + str(error) if error else "completed")
        )
        rows.append(
            (
                status.get("id"),
                status.get("triggerId"),
                status.get("type"),
                status.get("created"),
                status.get("completed") or "",
                outcome,
            )
        )
    emit(args, found, rows, ("id", "trigger", "type", "created", "completed", "outcome"))
    return OK


def cmd_filter_check(args: argparse.Namespace) -> int:
    from jayway_filter import validate_filter

    trigger = check_trigger(args.trigger)
    payload = read_json(args.input)
    if payload is None:
        payload = trigger_document(trigger).get("exampleInput") or {}
    verdict = validate_filter(args.filter, payload)
    offline = {
        "isValid": verdict.is_valid,
        "isValidJSONPath": verdict.is_valid_json_path,
        "isPathExist": verdict.is_path_exist,
        "error": verdict.error,
        "position": verdict.position,
        "missingPath": verdict.missing_path,
    }
    result: dict[str, Any] = {"offline": offline}
    if args.remote:
        result["tenant"] = client(args).validate_filter(args.filter, payload)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(describe_filter(args.filter, offline, result.get("tenant")))
    return OK if verdict.is_valid else CHECK_FAILED


def describe_filter(expression: str, offline: dict[str, Any], tenant: dict[str, Any] | None) -> str:
    lines = []
    if not offline["isValidJSONPath"] or offline["error"]:
        lines.append(f"invalid filter: {offline['error']}")
        if offline["position"] is not None:
            lines += [f"  {expression}", "  " + " " * int(offline["position"]) + "^"]
    else:
        lines.append(
            "matches: the event would be delivered"
            if offline["isValid"]
            else "does not match: the event would not be delivered"
        )
        if not offline["isPathExist"]:
            lines.append(f"note: {offline.get('missingPath') or 'a path'} does not exist in this input")
    if tenant is not None:
        keys = ("isValid", "isValidJSONPath", "isPathExist")
        rows = [(key, offline[key], tenant.get(key)) for key in keys]
        lines += ["", table(rows, ("verdict", "offline", "tenant"))]
        if any(offline[k] != tenant.get(k) for k in keys):
            lines.append(
                "the offline evaluator and the tenant disagree: trust the tenant, and please report it"
            )
    return "\n".join(lines)


def cmd_doctor(args: argparse.Namespace) -> int:
    """What SailPoint's getting-started guide asks a new user to check, each with its fix."""
    checks: list[Check] = []
    url = tenant_url(args)
    creds = credentials(args)
    try:
        grant = client_credentials_grant(url, creds, requests.Session())
        checks.append(("client-credentials grant", True, f"token lifetime {grant.get('expires_in')} s"))
    except TokenUnavailable as error:
        checks.append(
            (
                "client-credentials grant",
                False,
                f"{error}: check the tenant URL, the client id and secret, "
                "and that the API client allows the client_credentials grant",
            )
        )
        report(args, checks)
        return TENANT  # the tenant refused or could not be reached (README's exit code 3)
    scopes = set(str(grant.get("scope", "")).split())
    missing = [] if "sp:scopes:all" in scopes else [s for s in REQUIRED_SCOPES if s not in scopes]
    checks.append(
        (
            "token scopes",
            not missing,
            "all needed"
            if not missing
            else "add to the API client: " + "; ".join(f"{s} ({REQUIRED_SCOPES[s]})" for s in missing),
        )
    )
    family = detect_family(url, creds)
    checks.append(
        (
            "API path family",
            family is not None,
            f"/{family} answers"
            if family
            else "neither /triggers/v1 nor /beta/triggers answers: check the URL",
        )
    )
    if family is None:
        report(args, checks)
        return TENANT
    api = SailPointClient(url, ClientCredentialsTokenProvider(url, lambda: creds), family=family)
    checks.append(compare_catalogue(api))
    if args.drift:
        drift = schema_drift(api)
        checks.append(
            (
                "trigger schemas match the catalogue",
                not drift,
                "same input and output schemas"
                if not drift
                else f"{len(drift)} difference(s) below; a changed schema may need a model update",
            )
        )
    for name, call, scope in (
        ("read subscriptions", api.list_subscriptions, "sp:trigger-service-subscriptions:read"),
        ("read invocation status", api.invocation_statuses, "sp:trigger-service-invocation-status:read"),
    ):
        checks.append(probe(name, call, scope))
    checks.extend(partner_sources(api))
    if args.drift:
        return report(args, checks, drift)
    return report(args, checks)


# A doctor check: its name, passed (None: could not be checked here, which fails nothing), detail.
Check = tuple[str, bool | None, str]
RESULT_WORDS = {True: "ok", False: "FAIL", None: "unchecked"}


def partner_sources(api: SailPointClient) -> list[Check]:
    """EVENTBRIDGE subscriptions whose partner event source is pending (no bus associated: SailPoint's
    events for it go nowhere), checked with your AWS credentials; nothing when there are none."""
    try:
        bridged = [s for s in api.list_subscriptions() if s.get("type") == "EVENTBRIDGE"]
    except SailPointApiError:
        return []  # "read subscriptions" above already says why
    if not bridged:
        return []
    pending, missing, unchecked = [], [], []
    for subscription in bridged:
        config = subscription.get("eventBridgeConfig") or {}
        source = partner_source_name(str(subscription.get("id")), str(subscription.get("triggerId")))
        try:
            buses = PartnerBuses(events_client_for(str(config.get("awsRegion") or "us-east-1")))
            state = buses.source_state(source)
            if state is None:
                missing.append(f"{source} (account {config.get('awsAccount')})")
            elif buses.is_pending(source):
                pending.append(source)
        except Exception as error:  # no AWS credentials, another account, no network: say so
            unchecked.append(f"{source}: {type(error).__name__}")
    detail = f"{len(bridged)} EVENTBRIDGE subscription(s)"
    if pending:
        detail += "; PENDING (associate: deploy with PartnerEventSources=" + ",".join(pending) + ")"
    if missing:
        detail += "; not in this AWS account/region (check eventBridgeConfig): " + ", ".join(missing)
    if unchecked:
        detail += "; not checked with your AWS credentials: " + ", ".join(unchecked)
    ok = False if pending or missing else (None if unchecked else True)
    return [("partner event sources associated", ok, detail)]


def events_client_for(region: str) -> Any:
    import boto3

    return boto3.client("events", region_name=region)


def detect_family(url: str, creds: ClientCredentials) -> Family | None:
    families: tuple[Family, ...] = ("v1", "beta")
    for family in families:
        try:
            SailPointClient(
                url,
                ClientCredentialsTokenProvider(url, lambda: creds),
                family=family,
                max_retries=0,
            ).list_triggers()
            return family
        except SailPointApiError:
            continue
    return None


def compare_catalogue(api: SailPointClient) -> Check:
    try:
        tenant_ids = {str(t.get("id")) for t in api.list_triggers()}
    except SailPointApiError as error:
        return ("trigger list", False, fix_for(error, "sp:trigger-service-subscriptions:read"))
    ours = set(known_triggers())
    new, absent = (
        sorted(tenant_ids - ours),
        sorted(i for i in ours - tenant_ids if known_triggers()[i].availability.value == "GA"),
    )
    detail = f"{len(tenant_ids)} triggers"
    if new:
        detail += f"; not in our catalogue (enable with ExtraTriggers): {', '.join(new)}"
    if absent:
        detail += f"; GA triggers this tenant does not list: {', '.join(absent)}"
    return ("trigger list matches the catalogue", not new, detail)


def probe(name: str, call: Callable[[], Any], scope: str) -> Check:
    try:
        call()
        return (name, True, "ok")
    except SailPointApiError as error:
        return (name, False, fix_for(error, scope))


def fix_for(error: SailPointApiError, scope: str) -> str:
    if isinstance(error, SailPointForbidden):
        return f"HTTP 403: add scope {scope} to the API client (and an ORG_ADMIN user level if required)"
    if isinstance(error, SailPointUnauthorized):
        return "HTTP 401: the client credentials were refused; create a new secret for the API client"
    if isinstance(error, SailPointRateLimited):
        return "HTTP 429: rate limited (100 requests per 10 s per client); wait and retry"
    return str(error)


def report(args: argparse.Namespace, checks: list[Check], drift: list[dict[str, str]] | None = None) -> int:
    data: Any = [{"check": c, "ok": ok, "detail": d} for c, ok, d in checks]
    if drift is not None and args.json:
        data = {"checks": data, "drift": drift}
    emit(
        args,
        data,
        [(c, RESULT_WORDS[ok], d) for c, ok, d in checks],
        ("check", "result", "detail / fix"),
    )
    if drift and not args.json:
        print()
        print(table([(d["trigger"], d["schema"], d["change"], d["path"]) for d in drift], DRIFT_HEADERS))
    return CHECK_FAILED if any(ok is False for _, ok, _ in checks) else OK


# -- schema drift -------------------------------------------------------------------------------
DRIFT_HEADERS = ("trigger", "schema", "change", "path")
IGNORED_SCHEMA_KEYS = frozenset({"description", "examples", "example", "title", "$schema", "$id"})


def schema_drift(api: SailPointClient) -> list[dict[str, str]]:
    """How the tenant's triggers (input and output schemas) differ from the catalogue we ship.

    Documentation-only keywords (descriptions, examples, titles) are ignored: a change there needs no
    model update. A trigger only one side knows is one row."""
    tenant = {str(t.get("id")): t for t in api.list_triggers()}
    ours = known_triggers()
    rows: list[dict[str, str]] = []
    for trigger_id in sorted(set(tenant) | set(ours)):
        if trigger_id not in ours:
            rows.append(_drift(trigger_id, "-", "new at the tenant", "(enable with ExtraTriggers)"))
            continue
        if trigger_id not in tenant:
            rows.append(_drift(trigger_id, "-", "not listed by the tenant", ""))
            continue
        document = trigger_document(trigger_id)
        for key, label in (("inputSchema", "input"), ("outputSchema", "output")):
            theirs = _schema(tenant[trigger_id].get(key))
            mine = _schema(document.get(key))
            for change, path in _differences(mine, theirs, ""):
                rows.append(_drift(trigger_id, label, change, path or "/"))
    return rows


def _drift(trigger: str, schema: str, change: str, path: str) -> dict[str, str]:
    return {"trigger": trigger, "schema": schema, "change": change, "path": path}


def _schema(value: Any) -> Any:
    """The API serializes schemas as JSON strings; the catalogue stores objects. Absent means none."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else None
        except ValueError:
            return value
    return value or None


def _differences(ours: Any, theirs: Any, path: str) -> list[tuple[str, str]]:
    """(change, JSON Pointer) for every place the tenant's schema differs from ours."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found: list[tuple[str, str]] = []
        for key in sorted(set(ours) | set(theirs), key=str):
            if key in IGNORED_SCHEMA_KEYS:
                continue
            where = f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"
            if key not in theirs:
                found.append(("removed at the tenant", where))
            elif key not in ours:
                found.append(("added at the tenant", where))
            else:
                found += _differences(ours[key], theirs[key], where)
        return found
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        if all(not isinstance(item, dict | list) for item in ours + theirs):
            return [] if sorted(map(str, ours)) == sorted(map(str, theirs)) else [("changed", path)]
        return [
            item
            for i, (a, b) in enumerate(zip(ours, theirs, strict=True))
            for item in _differences(a, b, f"{path}/{i}")
        ]
    return [] if ours == theirs else [("changed", path)]


# -- parser -------------------------------------------------------------------------------------
MODES = ("SYNC", "ASYNC", "DYNAMIC")
TRIGGER_HELP = "trigger id, e.g. idn:identity-created (`idn-triggers triggers list` shows them)"


def add_credential_flags(command: argparse.ArgumentParser, *, creating: bool) -> None:
    """How SailPoint authenticates to the receiver. Secrets are read from environment variables,
    never from the command line (where `ps` and shell history would show them)."""
    command.add_argument(
        "--auth",
        choices=AUTH_CHOICES,
        help=(
            "how SailPoint authenticates to the receiver; required unless a credential flag below "
            "implies it (none must be chosen explicitly)"
            if creating
            else "change how SailPoint authenticates to the receiver (with the credential flags below)"
        ),
    )
    command.add_argument(
        "--bearer-token-env", metavar="VAR", help="environment variable holding the bearer token to send"
    )
    command.add_argument("--basic-user", metavar="USER", help="Basic authentication user name to send")
    command.add_argument(
        "--basic-password-env", metavar="VAR", help="environment variable holding the Basic password to send"
    )


# argparse's type for what add_subparsers() returns has a private name, as typeshed spells it.
def add_subscription_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    subs = commands.add_parser(
        "subscriptions", help="list, show, create, update, delete subscriptions"
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    sub_list = subs.add_parser("list", help="every subscription (or one trigger's)")
    sub_list.add_argument("--trigger", help="only this trigger's subscriptions")
    sub_list.set_defaults(run=cmd_subscriptions_list)
    show = subs.add_parser("show", help="one subscription")
    show.add_argument("id", help="the subscription id")
    show.set_defaults(run=cmd_subscriptions_show)
    create = subs.add_parser(
        "create",
        help="subscribe a URL to a trigger",
        description="Subscribe a URL to a trigger. Credentials SailPoint will send are read from "
        "environment variables; NO_AUTH needs an explicit --auth none.",
    )
    create.add_argument("--trigger", required=True, help=TRIGGER_HELP)
    create.add_argument(
        "--type",
        type=str.upper,
        choices=("HTTP", "EVENTBRIDGE"),
        default="HTTP",
        help="HTTP (a receiver URL) or EVENTBRIDGE (a partner event source in --aws-account/--aws-region)",
    )
    create.add_argument("--url", help="HTTP: the receiver URL, e.g. <WebhookBaseUrl><trigger id>")
    create.add_argument("--aws-account", help="EVENTBRIDGE: the stack's AWS account id (12 digits)")
    create.add_argument("--aws-region", help="EVENTBRIDGE: the stack's AWS region, e.g. us-east-1")
    create.add_argument("--name", required=True, help="the subscription's name, shown in the admin UI")
    create.add_argument(
        "--mode",
        choices=MODES,
        help="response mode of a request-response trigger (default SYNC); fire-and-forget triggers have none",
    )
    create.add_argument(
        "--deadline", default="PT1H", help="responseDeadline, ISO-8601 duration (default PT1H)"
    )
    create.add_argument("--filter", help="Jayway JsonPath filter: only matching events are sent")
    create.add_argument("--disabled", action="store_true", help="create it disabled")
    add_credential_flags(create, creating=True)
    create.set_defaults(run=cmd_subscriptions_create)
    update = subs.add_parser("update", help="change a subscription (JSON Patch of the fields given)")
    update.add_argument("id", help="the subscription id")
    update.add_argument("--name", help="new name")
    update.add_argument("--url", help="new receiver URL")
    update.add_argument("--mode", choices=MODES, help="new response mode (request-response triggers)")
    update.add_argument(
        "--type", type=str.upper, choices=("EVENTBRIDGE",), help="turn an HTTP subscription into EVENTBRIDGE"
    )
    update.add_argument("--aws-account", help="EVENTBRIDGE: the AWS account id (12 digits)")
    update.add_argument("--aws-region", help="EVENTBRIDGE: the AWS region")
    update.add_argument("--deadline", help="new responseDeadline (ISO-8601 duration)")
    update.add_argument("--filter", help="new Jayway JsonPath filter")
    toggle = update.add_mutually_exclusive_group()
    toggle.add_argument("--enable", action="store_true", help="enable the subscription")
    toggle.add_argument("--disable", action="store_true", help="disable the subscription")
    add_credential_flags(update, creating=False)
    update.set_defaults(run=cmd_subscriptions_update)
    delete = subs.add_parser("delete", help="delete a subscription")
    delete.add_argument("id", help="the subscription id")
    delete.set_defaults(run=cmd_subscriptions_delete)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="idn-triggers", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenant-url", help="tenant API base URL (env SAILPOINT_TENANT_URL)")
    parser.add_argument("--client-id", help="API client id (env SAILPOINT_CLIENT_ID)")
    parser.add_argument(
        "--client-secret", help="API client secret (env SAILPOINT_CLIENT_SECRET; prefer the env)"
    )
    parser.add_argument(
        "--client-secret-id",
        help="read clientId/clientSecret from this Secrets Manager secret "
        "(the stack's SailPointClientCredentials)",
    )
    parser.add_argument("--api", choices=("v1", "beta"), default="v1", help="API path family (default: v1)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    doctor = commands.add_parser("doctor", help="check credentials, scopes, API family and the trigger list")
    doctor.add_argument(
        "--drift",
        action="store_true",
        help="also compare the tenant's trigger input and output schemas with the shipped catalogue",
    )
    doctor.set_defaults(run=cmd_doctor)

    triggers = commands.add_parser("triggers", help="the trigger catalogue").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    listing = triggers.add_parser("list", help="id, name, type, availability")
    listing.add_argument("--offline", action="store_true", help="our catalogue, without asking the tenant")
    listing.set_defaults(run=cmd_triggers_list)

    add_subscription_commands(commands)

    invoke = commands.add_parser("invoke-test", help="start a test invocation of a trigger")
    invoke.add_argument("trigger", help=TRIGGER_HELP)
    invoke.add_argument("--input", metavar="FILE", help="JSON input (default: the trigger's example)")
    invoke.add_argument(
        "--subscription", metavar="ID", help="only this subscription (default: all of the trigger's)"
    )
    invoke.set_defaults(run=cmd_invoke_test)

    invocations = commands.add_parser("invocations", help="invocation status").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    status = invocations.add_parser("status", help="recent invocations: started, completed, outcome")
    status.add_argument("--trigger", help="only this trigger's invocations")
    status.set_defaults(run=cmd_invocations_status)

    filters = commands.add_parser("filter", help="test subscription filters").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    check = filters.add_parser("check", help="evaluate a filter offline (and with --remote, at the tenant)")
    check.add_argument("filter", help="Jayway JsonPath, e.g. '$[?($.identity.type == \"IDENTITY\")]'")
    check.add_argument("--trigger", required=True, help=TRIGGER_HELP)
    check.add_argument("--input", metavar="FILE", help="JSON input (default: the trigger's example)")
    check.add_argument("--remote", action="store_true", help="also ask the tenant's validate-filter")
    check.set_defaults(run=cmd_filter_check)
    return share_global_options(parser)


def main(argv: list[str] | None = None) -> int:
    with quiet_closed_pipes():
        args = build_parser().parse_args(argv)
        return guarded(lambda: run(args))


def run(args: argparse.Namespace) -> int:
    """One command, its expected failures turned into a message and the README's exit code."""
    try:
        return int(args.run(args))
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE
    except SailPointNotFound as error:
        print(f"error: {error}", file=sys.stderr)
        return TENANT
    except (SailPointApiError, TokenUnavailable) as error:
        fix = (
            fix_for(error, "the scope the call needs")
            if isinstance(error, SailPointApiError)
            else ("check SAILPOINT_TENANT_URL, the client id and secret")
        )
        print(f"error: {error}" + (f" ({fix})" if fix != str(error) else ""), file=sys.stderr)
        return TENANT
    except AwsError as error:
        print(f"error: {error}", file=sys.stderr)
        return TENANT


if __name__ == "__main__":
    sys.exit(main())
