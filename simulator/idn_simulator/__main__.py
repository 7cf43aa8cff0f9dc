"""``python -m idn_simulator``: run the tenant simulator until Ctrl-C.

SIGTERM and SIGINT (Ctrl-C) stop it within seconds (see ``stopping``). Exit codes: 0 after a clean
stop, 2 for bad arguments or a port that cannot be listened on.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import secrets
import sys

from .config import SimulatorConfig
from .stopping import StopOnSignals, exit_now, stop_within

STOP_SECONDS = 3.0  # deliveries still in flight after that are abandoned

# What the "simulator" extra installs beyond the operator tools' dependencies.
EXTRA_MODULES = ("jsonschema",)


def missing_extra() -> str | None:
    """Say how to install what is missing, instead of failing with an ImportError traceback."""
    missing = [name for name in EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return (
        f"the simulator needs {', '.join(missing)}: pip install 'idn-event-triggers[simulator]' "
        "(or run `make simulator` in a checkout)"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="idn-triggers-simulator",
        description="Simulated SailPoint Identity Security Cloud tenant: OAuth client credentials, "
        "trigger catalogue, subscriptions, test invocations that really POST, completion callbacks, "
        "invocation status. Admin endpoints under /_sim (stats, faults, reset, events).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8400, help="port to listen on; 0 picks a free one (default 8400)"
    )
    parser.add_argument("--client-id", help="the one accepted OAuth client id (generated when omitted)")
    parser.add_argument("--client-secret", help="its client secret (generated when omitted)")
    parser.add_argument(
        "--token-lifetime", type=int, default=749, help="expires_in of access tokens, seconds (749)"
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=100,
        help="requests per client and API version per 10 s; 0 disables it (100)",
    )
    parser.add_argument(
        "--public-url", help="base URL put in callback URLs, when clients reach this host otherwise"
    )
    parser.add_argument(
        "--aws-endpoint-url",
        help="AWS endpoint (an emulator such as moto_server) where EVENTBRIDGE subscriptions get their "
        "partner event source and events; without it their deliveries fail",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    if args.token_lifetime < 1:
        parser.error("--token-lifetime must be at least 1")
    if args.rate_limit < 0:
        parser.error("--rate-limit must not be negative")
    if bool(args.client_id) != bool(args.client_secret):
        parser.error("give both --client-id and --client-secret, or neither")
    return args


def main(argv: list[str] | None = None) -> int:
    """`argv` None: this process is the command, so it ends at once when done (`exit_now`)."""
    code = run(parse_args(argv))
    if argv is None:
        exit_now(code)
    return code


def run(args: argparse.Namespace) -> int:
    problem = missing_extra()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from .simulator import TenantSimulator

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    generated = not args.client_id
    client_id = args.client_id or "sim-" + secrets.token_hex(8)
    client_secret = args.client_secret or secrets.token_urlsafe(24)
    config = SimulatorConfig(
        client_id=client_id,
        client_secret=client_secret,
        host=args.host,
        port=args.port,
        token_lifetime=args.token_lifetime,
        rate_limit_per_10s=args.rate_limit or None,
        public_url=args.public_url,
        aws_endpoint_url=args.aws_endpoint_url,
    )
    stopper = StopOnSignals().install()  # before anything starts that must be cleaned up
    simulator = TenantSimulator(config)
    try:
        try:
            simulator.start()
        except OSError as err:
            print(f"error: cannot listen on {args.host}:{args.port}: {err.strerror or err}", file=sys.stderr)
            return 2
        print(f"SailPoint tenant simulator listening on {simulator.url} (client id {client_id})", flush=True)
        if generated:
            print(
                f"generated client credentials: client_id={client_id} client_secret={client_secret}",
                flush=True,
            )
        stopper.wait_forever()
    except KeyboardInterrupt:  # StopRequested (SIGTERM, SIGINT) is one
        pass
    finally:
        stop_within(simulator.stop, STOP_SECONDS, "the simulator")
    print("simulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
