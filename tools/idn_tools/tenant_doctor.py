"""`idn-triggers doctor [--drift]`: credentials, scopes, API family, the trigger list, partner event
sources and (with --drift) the tenant's schemas against the shipped catalogue."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

import requests

from idn_tools.tenant_support import (
    CHECK_FAILED,
    OK,
    REQUIRED_SCOPES,
    TENANT,
    credentials,
    emit,
    table,
    tenant_url,
)
from idn_triggers.catalogue import known_triggers, trigger_document
from idn_triggers.deprecations import DEPRECATIONS
from idn_triggers.event_buses import PartnerBuses
from idn_triggers.eventbridge import partner_source_name
from idn_triggers.sailpoint_api import (
    Family,
    SailPointApiError,
    SailPointClient,
    SailPointForbidden,
    SailPointRateLimited,
    SailPointUnauthorized,
)
from idn_triggers.tokens import (
    ClientCredentials,
    ClientCredentialsTokenProvider,
    TokenUnavailable,
    client_credentials_grant,
)


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
    checks.append(deprecated_endpoints())
    if args.drift:
        return report(args, checks, drift)
    return report(args, checks)


# A doctor check: its name, passed (None: could not be checked here, which fails nothing), detail.
Check = tuple[str, bool | None, str]
RESULT_WORDS = {True: "ok", False: "FAIL", None: "unchecked"}


def deprecated_endpoints() -> Check:
    """Endpoints that answered doctor's calls with `X-Deprecated: true` (they stop working by Q1 2029)."""
    seen = DEPRECATIONS.seen()
    if not seen:
        return ("no deprecated endpoints", True, "no answer carried X-Deprecated: true")
    return (
        "no deprecated endpoints",
        False,
        "X-Deprecated: true from " + ", ".join(sorted(seen)) + "; SailPoint retires them in Q1 2029: "
        "use the per-service /v1 paths (--api v1) once the tenant serves them",
    )


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
