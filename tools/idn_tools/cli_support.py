"""What every operator command does the same way, whatever its subcommands.

- Global flags (`--json`, `--region`, ...) are accepted before or after the subcommand: the options
  of the top-level parser are copied into every subcommand (`share_global_options`), with no default
  there, so a flag given before the subcommand is not reset by it. Define a global flag once, on the
  top-level parser; a subcommand that defines an option of the same name keeps its own.
- A closed pipe (`idn-triggers ... | head`) ends the command quietly, and Ctrl-C ends it with 130,
  without a traceback (`guarded`).
- `--endpoint-url` (an emulator such as local mode's moto) implies a region and placeholder
  credentials when none are configured (`aws_client_options`): an emulator checks neither, and an
  operator should not have to export fake AWS keys to look at a local queue or bucket. Without the
  flag, `AWS_ENDPOINT_URL` (which boto3 itself honours, and local mode's CLI env file sets) stands
  for it (`endpoint_from_environment`), so a command finds what that endpoint holds.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

INTERRUPTED = 130  # what shells report for a command ended by Ctrl-C
LOCAL_REGION = "us-east-1"  # local mode's region
EMULATOR_KEY = "local"  # what moto (and local mode) accept as an access key and its secret


def aws_client_options(endpoint_url: str | None, region: str | None) -> dict[str, Any]:
    """Keyword arguments for boto3 clients from `--endpoint-url` and `--region`."""
    options: dict[str, Any] = {}
    if region:
        options["region_name"] = region
    if endpoint_url:
        import boto3
        from botocore.config import Config

        session = boto3.session.Session()
        options["endpoint_url"] = endpoint_url
        # an emulator on this machine answers at once or not at all: fail in seconds, not after
        # DynamoDB's ten legacy retries (26 s for `recover` against a closed port)
        options["config"] = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5)
        options.setdefault("region_name", session.region_name or LOCAL_REGION)
        if session.get_credentials() is None:
            options.update(aws_access_key_id=EMULATOR_KEY, aws_secret_access_key=EMULATOR_KEY)
    return options


def endpoint_from_environment(args: argparse.Namespace) -> argparse.Namespace:
    """`--endpoint-url`, or else `AWS_ENDPOINT_URL`: boto3 already sends every call there, so the
    commands must also look there for the queues, tables and buckets they discover by name."""
    if hasattr(args, "endpoint_url") and not args.endpoint_url:
        args.endpoint_url = os.environ.get("AWS_ENDPOINT_URL") or None
    return args


def share_global_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make `parser`'s own options valid after any subcommand too (call once, after building it)."""
    shared = [
        action
        for action in parser._actions
        if action.option_strings and not isinstance(action, argparse._HelpAction | argparse._VersionAction)
    ]
    for sub in _subparsers(parser):
        for action in shared:
            if any(option in sub._option_string_actions for option in action.option_strings):
                continue  # the subcommand has its own option of that name
            copied = copy.copy(action)
            copied.default = argparse.SUPPRESS  # only set when given here: keeps a value given earlier
            copied.required = False
            sub._add_action(copied)
    return parser


def _subparsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases map to one parser
                yield sub
                yield from _subparsers(sub)


def tenant_url_problem(url: str) -> str | None:
    """Why a SAILPOINT_TENANT_URL (or --tenant-url) cannot be used, else None: it needs its scheme
    and a host, e.g. https://acme.api.identitynow.com (without one, requests fails obscurely)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme in ("https", "http") and parts.netloc:
        return None
    return f"the tenant URL {url!r} needs its scheme and host, e.g. https://acme.api.identitynow.com"


def chosen_parser(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.ArgumentParser:
    """The deepest subcommand `argv` names (e.g. `events list`), so a usage error shows its usage."""
    current = parser
    for word in argv:
        actions = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        if actions and word in actions[0].choices:
            current = actions[0].choices[word]
    return current


def parse_arguments(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    take_extra: Callable[[argparse.Namespace, list[str]], bool] | None = None,
) -> argparse.Namespace:
    """`parser.parse_args`, except that an unknown argument is reported by the subcommand it follows
    (its usage and its options), not by the top-level parser. `take_extra` may claim leftovers."""
    words = list(sys.argv[1:] if argv is None else argv)
    args, extra = parser.parse_known_args(words)
    if extra and not (take_extra and take_extra(args, extra)):
        chosen_parser(parser, words).error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def undocumented_options(parser: argparse.ArgumentParser) -> list[str]:
    """Options and subcommands without help text, in `parser` and all its subcommands (for tests)."""
    missing = []
    for each in [parser, *_subparsers(parser)]:
        for action in each._actions:
            if action.help in (None, "") and not isinstance(action, argparse._SubParsersAction):
                missing.append(f"{each.prog}: {'/'.join(action.option_strings) or action.dest}")
            if isinstance(action, argparse._SubParsersAction):
                helped = {choice.dest for choice in action._choices_actions}
                missing += [f"{each.prog} {name}" for name in action.choices if name not in helped]
    return missing


AWS_REFUSED = 3  # the README's exit code for "AWS refused or could not be reached"


def aws_errors_explained(run: Callable[[], int]) -> int:
    """Run an AWS-using command: what botocore raises becomes one line, never a traceback. Missing
    configuration (region, credentials) is a usage error (2) that says what to set; anything else
    AWS says or cannot say (refused, not found, endpoint down) is 3."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    try:
        return run()
    except NoRegionError:
        print("error: no AWS region: pass --region or set AWS_REGION", file=sys.stderr)
        return 2
    except NoCredentialsError:
        print(
            "error: no AWS credentials: configure them (aws configure, AWS_PROFILE), "
            "or give --endpoint-url for local mode",
            file=sys.stderr,
        )
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"error: AWS: {error}", file=sys.stderr)
        return AWS_REFUSED


def guarded(run: Callable[[], int]) -> int:
    """Run a command's body: a closed stdout or Ctrl-C ends it quietly, never with a traceback."""
    try:
        code = run()
        sys.stdout.flush()  # a closed pipe shows up here for buffered output
        return code
    except BrokenPipeError:
        quiet_stdout()
        return 0  # the reader had what it wanted (`| head`)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED


def quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's own flush at exit fails no more."""
    _quiet(sys.stdout)


def _quiet(stream: TextIO) -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # already closed or not a file: nothing left to flush
        pass


@contextmanager
def quiet_closed_pipes() -> Iterator[None]:
    """Around a whole command, argument parsing included: argparse swallows a write error on a closed
    pipe (`... 2>&1 | head -1` on a long usage message), and the interpreter's flush at exit would
    then turn the usage error's exit code 2 into 120. Whatever is left unwritten is dropped instead."""
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                _quiet(stream)
