"""`idn-triggers subscriptions list|show|create|update|delete`: a tenant's trigger subscriptions, HTTP or
EventBridge, with the receiver's credentials read from environment variables (never the command line)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from idn_tools.tenant_support import (
    AWS_ACCOUNT,
    AWS_REGION,
    MODES,
    OK,
    TRIGGER_HELP,
    UsageError,
    check_trigger,
    client,
    emit,
)
from idn_triggers.catalogue import known_triggers
from idn_triggers.eventbridge import partner_source_name


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
