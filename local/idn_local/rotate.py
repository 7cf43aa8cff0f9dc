"""`python -m idn_local.rotate [--url http://127.0.0.1:3000] [--revoke-previous]`: rotate the inbound
credential of a running local stack (`make run`), the way Secrets Manager's rotation schedule does in
AWS; `--revoke-previous` then ends the replaced credential's validity at once (a leaked one).

The local admin endpoints need the run's admin token: `IDN_LOCAL_ADMIN_TOKEN`, which the file that
`make run` prints (`set -a; . FILE; set +a`) sets."""

from __future__ import annotations

import argparse
import os
import sys

import requests

TOKEN_VARIABLE = "IDN_LOCAL_ADMIN_TOKEN"  # noqa: S105 - a variable name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m idn_local.rotate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="the local receiver's base URL")
    parser.add_argument(
        "--revoke-previous",
        action="store_true",
        help="after rotating, end the replaced credential's validity now (it is otherwise accepted as "
        "`previous` until the next rotation)",
    )
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_VARIABLE)
    if not token:
        print(
            f"error: {TOKEN_VARIABLE} is not set; load the file `make run` prints: set -a; . FILE; set +a",
            file=sys.stderr,
        )
        return 2
    base = args.url.rstrip("/")
    actions = ["rotate-inbound-credential"] + (["revoke-previous-credential"] if args.revoke_previous else [])
    for action in actions:
        try:
            response = requests.post(
                f"{base}/_local/{action}", headers={"Authorization": f"Bearer {token}"}, timeout=120
            )
        except requests.RequestException as error:
            print(
                f"error: no local stack at {args.url} ({type(error).__name__}); start it with make run",
                file=sys.stderr,
            )
            return 2
        if response.status_code != 200:
            print(f"error: {action} failed: {_message(response)}", file=sys.stderr)
            return 1
        if action == "rotate-inbound-credential":
            print(
                f"rotated: new credential version {response.json()['versionId']}; subscriptions switched to it"
            )
        else:
            print("revoked: the replaced credential is refused from now on (after the receivers' cache)")
    return 0


def _message(response: requests.Response) -> str:
    try:
        return str(response.json().get("message", response.status_code))
    except ValueError:
        return f"HTTP {response.status_code}"


if __name__ == "__main__":
    sys.exit(main())
