"""`python -m idn_local` / `idn-triggers-local` / `make run`: the whole system on this machine."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import signal
import sys
import threading
from pathlib import Path

from idn_local.runner import ROOT, InboundAuth, LocalModeError, LocalOptions, LocalRunner
from idn_local.stack import TemplateError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="idn-triggers-local",
        description="Run the SailPoint event-trigger receiver locally: the SAM functions from template.yaml, "
        "AWS services emulated by moto, and a SailPoint tenant simulator (or a real tenant).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="receiver API host (default: %(default)s)")
    parser.add_argument("--port", type=int, default=3000, help="receiver API port (default: %(default)s)")
    parser.add_argument(
        "--tenant-url",
        help="a real tenant's API base URL, e.g. https://acme.api.identitynow.com "
        "(default: start the built-in simulator)",
    )
    parser.add_argument(
        "--client-id", help="SailPoint API client id (simulator: accepted id; default generated)"
    )
    parser.add_argument("--client-secret", help="SailPoint API client secret (never printed)")
    parser.add_argument(
        "--auth",
        metavar="none|basic:USER:PASS|bearer:TOKEN",
        help="credential SailPoint presents to the receiver (default: bearer, generated)",
    )
    parser.add_argument("--simulator-port", type=int, default=0, help="simulator port (default: a free one)")
    parser.add_argument(
        "--parameter-overrides",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="template parameters, as for sam deploy",
    )
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml", help=argparse.SUPPRESS)
    parser.add_argument(
        "--no-demo", action="store_true", help="do not subscribe and fire the demo invocations"
    )
    parser.add_argument(
        "--exit-after-demo", action="store_true", help="stop after the demo report (for scripts)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser


def options_from(args: argparse.Namespace) -> LocalOptions:
    overrides: dict[str, str] = {}
    if not args.no_demo:
        from idn_local.demo import DEMO_REVIEW_ITEMS

        overrides["PreApprovalReviewItems"] = DEMO_REVIEW_ITEMS
    for item in args.parameter_overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise LocalModeError(f"--parameter-overrides takes KEY=VALUE, got {item!r}")
        overrides[key] = value
    return LocalOptions(
        host=args.host,
        port=args.port,
        tenant_url=args.tenant_url,
        client_id=args.client_id,
        client_secret=args.client_secret,
        auth=InboundAuth.parse(args.auth),
        simulator_port=args.simulator_port,
        template=args.template,
        parameter_overrides=overrides,
    )


# What the "local" extra installs beyond the operator tools' dependencies.
EXTRA_MODULES = ("moto", "flask", "jsonschema", "aws_xray_sdk")


def missing_extra() -> str | None:
    """Say how to install what is missing, instead of failing with an ImportError traceback."""
    missing = [name for name in EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return (
        f"local mode needs {', '.join(missing)}: pip install 'idn-event-triggers[local]' "
        "(or run `make run` in a checkout)"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    problem = missing_extra()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from idn_local import line_output

    line_output.install()  # every function prints in this one process: keep their lines whole
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    if not args.verbose:
        logging.getLogger("idn_local.gateway_server").setLevel(logging.WARNING)
    if not args.verbose:
        logging.getLogger("idn_simulator").setLevel(logging.WARNING)
    for noisy in ("werkzeug", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        runner = LocalRunner(options_from(args)).start()
    except (LocalModeError, TemplateError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        print_banner(runner)
        if not args.no_demo:
            from idn_local.demo import print_report, run_demo

            print_report(run_demo(runner))
        if not args.exit_after_demo:
            print("Serving; press Ctrl-C to stop.", flush=True)
            while not stop.wait(0.5):  # a timed wait lets Ctrl-C (KeyboardInterrupt) through at once
                pass
    except KeyboardInterrupt:
        pass
    except LocalModeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        runner.stop()
        print("Stopped.", flush=True)
    return 0


def print_banner(runner: LocalRunner) -> None:
    auth = runner.options.auth
    credential = {
        "NO_AUTH": "none",
        "BEARER_TOKEN": f"Authorization: Bearer {auth.secret}",
        "BASIC_AUTH": f"Basic user {auth.user!r}, password {auth.secret!r}",
    }[auth.type]
    http_on = runner.stack is not None and "ReceiverFunction" in runner.stack.resources
    lines = [
        f"Receiver:    {runner.api_url}/triggers/{{triggerId}}"
        if http_on
        else "Receiver:    none (Transport=EVENTBRIDGE: SailPoint delivers through partner event buses)",
        f"Inbound auth ({auth.type}): {credential}" if http_on else "Inbound auth: none needed",
        f"Tenant:      {runner.tenant_url}" + ("  (simulator)" if runner.simulator else ""),
        f"API client:  {runner.client_id}"
        + ("  (secret generated for this run)" if not runner.options.client_secret else ""),
        f"AWS (moto):  {runner.aws_endpoint}",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
