"""`python -m idn_local.rotate [--url http://127.0.0.1:3000]`: rotate the inbound credential of a
running local stack (`make run`), the way Secrets Manager's rotation schedule does in AWS."""

from __future__ import annotations

import argparse
import sys

import requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m idn_local.rotate", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="the local receiver's base URL")
    args = parser.parse_args(argv)
    try:
        response = requests.post(f"{args.url.rstrip('/')}/_local/rotate-inbound-credential", timeout=120)
    except requests.RequestException as error:
        print(
            f"error: no local stack at {args.url} ({type(error).__name__}); start it with make run",
            file=sys.stderr,
        )
        return 2
    if response.status_code != 200:
        print(f"error: rotation failed: {response.json().get('message', response.text)}", file=sys.stderr)
        return 1
    print(f"rotated: new credential version {response.json()['versionId']}; subscriptions switched to it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
