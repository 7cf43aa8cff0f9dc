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
import json
import sys
from typing import Any

from idn_tools import send
from idn_tools.cli_support import guarded, parse_arguments, quiet_closed_pipes, share_global_options
from idn_tools.tenant_doctor import cmd_doctor, fix_for
from idn_tools.tenant_subscriptions import add_subscription_commands
from idn_tools.tenant_support import (
    CHECK_FAILED,
    OK,
    TENANT,
    TRIGGER_HELP,
    USAGE,
    AwsError,
    UsageError,
    check_trigger,
    client,
    emit,
    read_json,
    table,
)
from idn_triggers.catalogue import known_triggers, trigger_document
from idn_triggers.sailpoint_api import (
    SailPointApiError,
    SailPointNotFound,
)
from idn_triggers.tokens import (
    TokenUnavailable,
)


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
    if invocations and args.wait is not None:  # the outcome, not only the invocation id
        return send.report(args, client(args), trigger, [str(i.get("id")) for i in invocations])
    emit(
        args,
        {"started": invocations},
        [(i.get("id"), i.get("triggerId")) for i in invocations],
        ("invocation", "trigger"),
    )
    if not invocations:  # the tenant answers 204: no subscription received the test
        print(f"note: nothing was sent: {why_nothing_was_sent(args, trigger)}", file=sys.stderr)
    return OK


def why_nothing_was_sent(args: argparse.Namespace, trigger: str) -> str:
    """Why a test invocation reached no subscription: none exists, or those that do are disabled or
    filter the input out (the tenant's 204 does not say which)."""
    try:
        subscriptions = [
            s
            for s in client(args).list_subscriptions()
            if s.get("triggerId") == trigger and args.subscription in (None, s.get("id"))
        ]
    except SailPointApiError:
        subscriptions = []
    if not subscriptions:
        which = f"subscription {args.subscription}" if args.subscription else "subscription"
        return f"no {which} to {trigger} (idn-triggers subscriptions list shows them)"
    disabled = sum(1 for s in subscriptions if s.get("enabled") is False)
    filtered = [s for s in subscriptions if s.get("enabled") is not False and s.get("filter")]
    reasons = [f"{disabled} disabled"] if disabled else []
    if filtered:
        reasons.append(
            f"{len(filtered)} with a filter the input does not match "
            f"(idn-triggers filter check FILTER --trigger {trigger} --input FILE shows why)"
        )
    because = "; ".join(reasons) or "the tenant did not say why"
    return f"{len(subscriptions)} subscription(s) to {trigger} exist, none received the test: {because}"


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
    send.add_wait_argument(invoke)
    invoke.set_defaults(run=cmd_invoke_test)
    send.add_send_command(commands)

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
        args = parse_arguments(build_parser(), argv)
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
