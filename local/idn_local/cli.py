"""`python -m idn_local` / `idn-triggers-local` / `make run`: the whole system on this machine."""

from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import shlex
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from idn_local.logs import FunctionOutput
from idn_local.logs import configure as configure_logging
from idn_local.runner import ROOT, InboundAuth, LocalModeError, LocalOptions, LocalRunner
from idn_local.stack import REGION, TemplateError
from idn_simulator.stopping import StopOnSignals, exit_now, stop_within

# Secrets come from the environment or a file, never from argv: `ps` shows every process's command
# line to every user, and `make run ARGS=...` would echo it.
CLIENT_SECRET_ENV = "SAILPOINT_CLIENT_SECRET"  # noqa: S105 - a variable name
AUTH_ENV = "IDN_LOCAL_AUTH"


class NoSecretOnCommandLine(argparse.Action):
    """Refuse a secret given as an option, without repeating it in the error."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object, **__: object) -> None:
        parser.exit(
            2,
            f"error: {self.option_strings[0]} takes no secret on the command line (ps and make's echo "
            f"show it): export {CLIENT_SECRET_ENV}=... or use --client-secret-file PATH\n",
        )


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
    parser.add_argument(
        "--client-secret",
        action=NoSecretOnCommandLine,
        help=argparse.SUPPRESS,  # refused with a message: a command line is visible (ps, make's echo)
    )
    parser.add_argument(
        "--client-secret-file",
        type=Path,
        metavar="PATH",
        help=f"read the API client secret from this file (else {CLIENT_SECRET_ENV}; needed with --tenant-url)",
    )
    parser.add_argument(
        "--auth",
        metavar="none|basic[:USER]|bearer",
        help=f"how SailPoint authenticates to the receiver (default: bearer); the credential comes from "
        f"{AUTH_ENV} (e.g. bearer:TOKEN or basic:USER:PASS), else it is generated",
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
    parser.add_argument(
        "--no-iam",
        action="store_true",
        help="do not enforce the functions' IAM roles (on by default: each function runs with exactly "
        "its template role)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log every request too (logs go to stderr, never stdout)"
    )
    parser.add_argument(
        "--log-file", type=Path, metavar="PATH", help="write the logs to this file instead of stderr"
    )
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
        client_secret=client_secret(args, os.environ),
        auth=inbound_auth(args.auth, os.environ),
        simulator_port=args.simulator_port,
        template=args.template,
        parameter_overrides=overrides,
        enforce_iam=not args.no_iam,
    )


def client_secret(args: argparse.Namespace, environ: Mapping[str, str]) -> str | None:
    """The real tenant's API client secret, from --client-secret-file or SAILPOINT_CLIENT_SECRET.
    Without --tenant-url the simulator generates its own (a shell's real secret is not reused)."""
    if args.client_secret_file is not None:
        try:
            secret = str(args.client_secret_file.read_text(encoding="utf-8")).strip()
        except (OSError, UnicodeError) as error:
            raise LocalModeError(
                f"cannot read --client-secret-file: {getattr(error, 'strerror', None) or error}"
            ) from None
        if not secret:
            raise LocalModeError("--client-secret-file is empty")
        return secret
    return (environ.get(CLIENT_SECRET_ENV) or None) if args.tenant_url else None


def inbound_auth(flag: str | None, environ: Mapping[str, str]) -> InboundAuth:
    """`--auth` names the kind (and a Basic user) only; a chosen credential comes from IDN_LOCAL_AUTH
    (`bearer:TOKEN`, `basic:USER:PASS`), never from argv. None chosen: one is generated."""
    chosen = environ.get(AUTH_ENV) or None
    if flag is None:
        return InboundAuth.parse(chosen)
    kind, _, rest = flag.partition(":")
    if (kind == "bearer" and rest) or (kind == "basic" and ":" in rest):
        raise LocalModeError(
            f"--auth takes no secret on the command line (ps and make's echo show it): "
            f"export {AUTH_ENV}={kind}:... and give --auth {kind}" + (":USER" if kind == "basic" else "")
        )
    if flag == "none":
        return InboundAuth.parse("none")
    if flag == "bearer":
        return InboundAuth.parse(chosen if chosen and chosen.startswith("bearer:") else None)
    if kind == "basic" and rest:
        if chosen and chosen.startswith(f"basic:{rest}:"):
            return InboundAuth.parse(chosen)
        return InboundAuth.parse(f"basic:{rest}:{secrets.token_urlsafe(24)}")
    raise LocalModeError(f"--auth must be none, basic:USER or bearer (the credential: {AUTH_ENV})")


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
    """`argv` None: this process is the command (console script, `python -m idn_local`), so it ends
    at once when done (`exit_now`); a caller passing `argv` gets the exit code back."""
    code = run(build_parser().parse_args(argv))
    if argv is None:
        exit_now(code)
    return code


def run(args: argparse.Namespace) -> int:
    problem = missing_extra()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        log_file = open(args.log_file, "a", encoding="utf-8") if args.log_file else None  # noqa: SIM115
    except OSError as error:
        print(f"error: cannot write the log file {args.log_file}: {error.strerror or error}", file=sys.stderr)
        return 2
    configure_logging(verbose=args.verbose, log_file=log_file)
    sys.stdout = FunctionOutput(sys.stdout)  # what functions print goes to the logs
    # SIGTERM and SIGINT raise StopRequested in this thread (no lock in the handler), so `kill`,
    # `timeout` and Ctrl-C stop local mode within seconds whatever it is doing.
    stopper = StopOnSignals().install()
    runner: LocalRunner | None = None
    env_file: Path | None = None
    try:
        try:
            runner = LocalRunner(options_from(args)).start()
        except (LocalModeError, TemplateError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        env_file = write_cli_env_file(runner)
        print_banner(runner, env_file)
        if not args.no_demo:
            from idn_local.demo import print_report, run_demo

            print_report(run_demo(runner))
        if not args.exit_after_demo:
            print("Serving; press Ctrl-C to stop.", flush=True)
            stopper.wait_forever()
    except KeyboardInterrupt:  # Ctrl-C, or StopRequested (SIGTERM, SIGINT)
        pass
    except LocalModeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # stdout closed (`make run | head`): nobody is reading any more
        quiet_stdout()
    finally:
        if runner is not None:
            stop_within(runner.stop, STOP_SECONDS, "local mode")
            if env_file is not None:
                shutil.rmtree(env_file.parent, ignore_errors=True)
            try:
                print("Stopped.", flush=True)
            except BrokenPipeError:
                quiet_stdout()
    return 0


# In-flight invocations still running after that are abandoned: everything local mode holds (the
# queues in moto included) ends with the process anyway.
STOP_SECONDS = 3.0


def quiet_stdout() -> None:
    """After a closed pipe: send further output nowhere, so the interpreter's exit flush is quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def write_cli_env_file(runner: LocalRunner) -> Path | None:
    """This run's local admin token, moto as its AWS (endpoint, region, the emulator's placeholder
    keys: what `doctor` checks partner event sources with) and, with the simulator, its API client for
    `idn-triggers`, in a file only this user can read (removed on stop): no secret is printed, and
    `set -a; . FILE` points the CLI and `python -m idn_local.rotate` at this run."""
    folder = Path(tempfile.mkdtemp(prefix="idn-local-"))
    path = folder / "idn-triggers.env"
    values = {
        "IDN_LOCAL_ADMIN_TOKEN": runner.admin_token,
        "AWS_ENDPOINT_URL": runner.aws_endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local",  # moto's placeholders, as the local functions use
        "AWS_SECRET_ACCESS_KEY": "local",
    }
    auth = runner.options.auth
    if auth.type == "BEARER_TOKEN":
        values[AUTH_ENV] = f"bearer:{auth.secret}"
    elif auth.type == "BASIC_AUTH":
        values[AUTH_ENV] = f"basic:{auth.user}:{auth.secret}"
    if runner.simulator is not None:  # a real tenant's client secret is the user's own: not copied
        values |= {
            "SAILPOINT_TENANT_URL": runner.tenant_url,
            "SAILPOINT_CLIENT_ID": runner.client_id,
            "SAILPOINT_CLIENT_SECRET": runner.client_secret,
        }
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.writelines(f"{key}={shlex.quote(str(value))}\n" for key, value in values.items())
    return path


def print_banner(runner: LocalRunner, env_file: Path | None = None) -> None:
    auth = runner.options.auth
    credential = {
        "NO_AUTH": "none",
        "BEARER_TOKEN": f"Authorization: Bearer {auth.secret}",
        "BASIC_AUTH": f"Basic user {auth.user!r}, password {auth.secret!r}",
    }[auth.type]
    if auth.type != "NO_AUTH" and (runner.simulator is None or os.environ.get(AUTH_ENV)):
        # shown only when generated for a simulator run; a chosen or real-tenant one stays off screen
        credential = f"not shown; {AUTH_ENV} in {env_file}" if env_file else "not shown"
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
        "IAM:         enforced - each function runs with exactly its template role; a denial is logged "
        "(--no-iam turns it off)"
        if runner.options.enforce_iam
        else "IAM:         !!! NOT ENFORCED (--no-iam): functions may call anything; a missing permission "
        "shows only in AWS !!!",
    ]
    if env_file is not None and runner.simulator is not None:
        lines += [
            f"CLI:         set -a; . {env_file}; set +a   # the simulator's client, moto as AWS, the admin token",
            "             .venv/bin/idn-triggers subscriptions list",
        ]
    elif env_file is not None:
        lines.append(f"Admin:       set -a; . {env_file}; set +a   # the local admin token")
    lines.append(f"DLQ:         .venv/bin/idn-triggers-ops dlq list --endpoint-url {runner.aws_endpoint}")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
