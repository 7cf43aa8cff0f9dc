"""One reconciler pass over a full invocation history (2000 entries) against the tenant simulator.

    python bench/reconcile.py [--entries 2000] [--failed-share 0.3]

The simulator's history is filled through its own delivery path: a subscription whose URL is a
tiny local HTTP server answering 200, with the fault switch refusing `--failed-share` of the
deliveries. Then, with the library's `Reconciler` (what the function and `idn-triggers-ops
recover` run), over real HTTP to the simulator (rate limit on: 100 requests per 10 s) and to
moto's server (DynamoDB state, SQS work queue):

- baseline: reading the history pages alone (the SailPoint part of any pass);
- dry pass: read and classify (what `recover --dry-run` does);
- full pass: claim, queue and confirm every failed event;
- second pass: everything is already queued, nothing is sent.

Figures: wall time, SailPoint API calls (the simulator's request counter), entries read, queued.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH_ENV, record, start_moto, table

TRIGGER = "idn:identity-attributes-changed"


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def fill_history(simulator: Any, webhook: str, entries: int, failed_share: float) -> int:
    """`entries` REAL_TIME invocations, `failed_share` of them refused; the number that failed."""
    from idn_simulator import InvocationState
    from idn_triggers.catalogue import trigger_document

    example = trigger_document(TRIGGER)["exampleInput"]
    simulator.fail_deliveries(failed_share, refused=True, seed=7)
    for n in range(entries):
        payload = {**example, "identity": {**example["identity"], "id": f"bench-{n:05d}"}}
        simulator.fire_event(TRIGGER, payload)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        records = simulator.invocations()
        if len(records) >= entries and all(r.settled for r in records):
            break
        time.sleep(0.1)
    simulator.fail_deliveries(0)
    return sum(1 for r in simulator.invocations() if r.state is InvocationState.FAILED)


def show(runs: list[dict[str, Any]], entries: int, failed: int, share: float) -> None:
    baseline = runs[0]["seconds"] or 1e-9
    rows = [("pass", "seconds", "x baseline", "SailPoint calls", "count")]
    for run in runs:
        rows.append(
            (
                run["label"],
                f"{run['seconds']:.3f}",
                f"{run['seconds'] / baseline:.1f}",
                str(run["sailpoint_calls"]),
                str(run["result"]),
            )
        )
    print(f"history: {entries} REAL_TIME entries, {failed} failed (fault switch {share:.0%})")
    print(table(rows))
    record(
        "reconcile",
        {
            "entries": entries,
            "failed": failed,
            "runs": [{k: v for k, v in run.items()} for run in runs],
        },
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--failed-share", type=float, default=0.3)
    args = parser.parse_args(argv)
    # moto takes any credentials; never the caller's real ones
    os.environ.update(
        {key: BENCH_ENV[key] for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    )
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)

    import boto3
    from pydantic import SecretStr

    from idn_simulator import SimulatorConfig, TenantSimulator
    from idn_triggers.queue import QueueSender
    from idn_triggers.recovery import DynamoDBRecoveryState, Reconciler, read_history, stack_subscriptions
    from idn_triggers.sailpoint_api import SailPointClient
    from idn_triggers.tokens import ClientCredentials, ClientCredentialsTokenProvider

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    webhook = f"http://127.0.0.1:{receiver.server_address[1]}/triggers/"
    moto, endpoint = start_moto()
    simulator = TenantSimulator(SimulatorConfig(client_id="bench", client_secret="bench-secret")).start()  # noqa: S106
    try:
        credentials = ClientCredentials(client_id="bench", client_secret=SecretStr("bench-secret"))
        api = SailPointClient(
            simulator.url, ClientCredentialsTokenProvider(simulator.url, lambda: credentials)
        )
        api.create_subscription(
            {
                "name": "bench",
                "triggerId": TRIGGER,
                "type": "HTTP",
                "enabled": True,
                "httpConfig": {
                    "url": f"{webhook}{TRIGGER}",
                    "httpDispatchMode": "SYNC",
                    "httpAuthenticationType": "NO_AUTH",
                },
            }
        )
        failed = fill_history(simulator, webhook, args.entries, args.failed_share)
        options: dict[str, Any] = {"endpoint_url": endpoint, "region_name": "us-east-1"}
        dynamodb, sqs = boto3.client("dynamodb", **options), boto3.client("sqs", **options)
        dynamodb.create_table(
            TableName="bench-recovery",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        queue_url = sqs.create_queue(QueueName="bench-work")["QueueUrl"]
        api.tokens.token()  # the token grant is not part of a pass

        def measure(label: str, run: Any) -> dict[str, Any]:
            before = simulator.stats.requests
            start = time.perf_counter()
            result = run()
            return {
                "label": label,
                "seconds": round(time.perf_counter() - start, 3),
                "sailpoint_calls": simulator.stats.requests - before,
                "result": result,
            }

        window = simulator.now() - timedelta(hours=48)

        def scope() -> Any:
            return stack_subscriptions(api, webhook)

        def reconciler(state: Any, sender: Any) -> Reconciler:
            return Reconciler(api, scope, state, sender, grace=timedelta(minutes=15))

        state = DynamoDBRecoveryState(dynamodb, "bench-recovery")
        sender = QueueSender(queue_url, sqs)
        runs = [
            measure("history pages only (baseline)", lambda: len(read_history(api, window).entries)),
            measure("dry pass (read + classify)", lambda: len(reconciler(None, None).run().findings)),
            measure("full pass (claim, queue, confirm)", lambda: len(reconciler(state, sender).run().queued)),
            measure("second pass (all already queued)", lambda: len(reconciler(state, sender).run().queued)),
        ]
    finally:
        simulator.stop()
        receiver.shutdown()
        receiver.server_close()
        moto.terminate()
        moto.wait(timeout=10)

    show(runs, args.entries, failed, args.failed_share)
    return 0


if __name__ == "__main__":
    sys.exit(main())
