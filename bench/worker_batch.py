"""Worker throughput: the real worker function (functions/worker/app.py, idempotency on DynamoDB in
moto's server) completing batches against a local callback server that answers in 100 ms.

Baseline, in the same run: one callback round trip to that server. Also counts SailPoint API calls
(token grants, completions) per 1,000 invocations in steady state. As in AWS, the token refresher
(functions/token_refresher/app.py, when present) stores the access token before the worker starts;
its grants are counted apart from everyone else's.

    python bench/worker_batch.py [--batches N] [--callback-ms MS]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import runpy
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, record, start_moto, summary, table

from idn_triggers.catalogue import TriggerType, trigger_document
from idn_triggers.envelope import ResponseMode
from idn_triggers.queue import QueuedInvocation

PRE = "idn:access-request-pre-approval"


class Tenant(ThreadingHTTPServer):
    """Token endpoint and completion endpoint; completions take `delay` seconds."""

    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 refuses a batch's concurrent connections

    def __init__(self, delay: float) -> None:
        super().__init__(("127.0.0.1", 0), _TenantHandler)
        self.delay = delay
        self.tokens = 0
        self.completions = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _TenantHandler(BaseHTTPRequestHandler):
    server: Tenant
    protocol_version = "HTTP/1.1"
    wbufsize = -1

    def log_message(self, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/oauth/token":
            with self.server.lock:
                self.server.tokens += 1
            body = json.dumps(
                {"access_token": "bench-token", "token_type": "bearer", "expires_in": 749}
            ).encode()
            self._reply(200, body)
            return
        time.sleep(self.server.delay)
        with self.server.lock:
            self.server.completions += 1
        self._reply(204, b"")

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if body:
            self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)


def provision(endpoint: str) -> dict[str, str]:
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    sm = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1")
    suffix = uuid.uuid4().hex[:6]
    table_name = f"bench-idempotency-{suffix}"
    ddb.create_table(
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    return {
        "TOKEN_SECRET_ID": sm.create_secret(Name=f"bench-token-{suffix}", SecretString="{}")["ARN"],
        "IDEMPOTENCY_TABLE": table_name,
        "WORK_QUEUE_URL": sqs.create_queue(QueueName=f"bench-work-{suffix}")["QueueUrl"],
        "DEAD_LETTER_QUEUE_URL": sqs.create_queue(QueueName=f"bench-dlq-{suffix}")["QueueUrl"],
        "SAILPOINT_CLIENT_SECRET_ID": sm.create_secret(
            Name=f"bench-client-{suffix}", SecretString=json.dumps({"clientId": "c", "clientSecret": "s"})
        )["ARN"],
    }


def sqs_event(tenant_url: str, size: int) -> dict[str, Any]:
    payload = trigger_document(PRE)["exampleInput"]
    now = datetime.now(UTC)
    records = []
    for _ in range(size):
        invocation = str(uuid.uuid4())
        message = QueuedInvocation(
            trigger_id=PRE,
            trigger_type=TriggerType.REQUEST_RESPONSE,
            mode=ResponseMode.ASYNC,
            invocation_id=invocation,
            idempotency_key=f"{PRE}#{invocation}",
            callback_url=f"{tenant_url}/trigger-invocations/v1/{invocation}/complete",
            secret="bench-secret",  # noqa: S106 - a bench value
            deadline=now + timedelta(hours=1),
            received_at=now,
            payload=payload,
        )
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "bench",
                "body": message.model_dump_json(),
                "attributes": {"ApproximateReceiveCount": "1"},
                "md5OfBody": "",
                "messageAttributes": message.lambda_record_attributes(),
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench",
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}


class Context:
    function_name = "bench-worker"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench-worker"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def refresh_token(tenant: Tenant) -> int | None:
    """Run the token refresher once, as its schedule would; the token grants it made (None: no refresher)."""
    app = ROOT / "functions" / "token_refresher" / "app.py"
    if not app.exists():
        return None
    before = tenant.tokens
    runpy.run_path(str(app), run_name="token_refresher_app")["lambda_handler"]({}, Context())
    return tenant.tokens - before


def run_batches(handler: Any, tenant: Tenant, batches: int) -> tuple[dict[tuple[str, int], list[float]], int]:
    """Wall time of batches of 1, 10 and 100 records, with and without idempotency."""
    walls: dict[tuple[str, int], list[float]] = {}
    invocations = 0
    # With idempotency every record makes two DynamoDB calls; moto serves them one at a time,
    # unlike DynamoDB, so the same batches also run without it to show the worker's own cost.
    for label, disabled in (("idempotency on (moto)", "false"), ("idempotency off", "true")):
        os.environ["POWERTOOLS_IDEMPOTENCY_DISABLED"] = disabled
        for size in (1, 10, 100):
            samples = walls.setdefault((label, size), [])
            for _ in range(batches if size < 100 else max(2, batches // 3)):
                event = sqs_event(tenant.url, size)
                began = time.perf_counter()
                result = handler(event, Context())
                samples.append(time.perf_counter() - began)
                assert not result["batchItemFailures"], result
                invocations += size
    os.environ.pop("POWERTOOLS_IDEMPOTENCY_DISABLED")
    return walls, invocations


def report(
    single: list[float],
    walls: dict[tuple[str, int], list[float]],
    per_1000: dict[str, float | None],  # None: no token refresher
    callback_ms: float,
) -> dict[str, Any]:
    one = statistics.median(single)
    figures: dict[str, Any] = {"one_callback_ms": summary(single), "per_1000_invocations": per_1000}
    rows = [("batch", "", "wall p50 ms", "x one callback", "records/s")]
    for (label, size), samples in walls.items():
        wall = statistics.median(samples)
        figures[f"batch_{size}, {label}"] = {
            **summary(samples),
            "ratio_to_one_callback": round(wall / one, 2),
            "records_per_second": round(size / wall, 1),
        }
        rows.append((str(size), label, f"{wall * 1000:.1f}", f"{wall / one:.2f}", f"{size / wall:.1f}"))
    print(
        f"Worker batches against a callback answering in {callback_ms:.0f} ms "
        f"(one callback round trip: {one * 1000:.1f} ms)"
    )
    print(table(rows))
    refresher = per_1000["refresher_grants_before_start"]
    print(
        f"SailPoint calls per 1,000 invocations in steady state: {per_1000['token_requests']} token, "
        f"{per_1000['completions']} completions (token grants before: "
        + ("no token refresher" if refresher is None else f"refresher {refresher}")
        + f", worker while warming {per_1000['worker_grants_while_warming']})"
    )
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=7)
    parser.add_argument("--callback-ms", type=float, default=100.0)
    parser.add_argument("--verbose", action="store_true", help="keep the worker's log lines")
    args = parser.parse_args(argv)
    if not args.verbose:
        logging.disable(logging.CRITICAL)
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    )
    moto, endpoint = start_moto()
    tenant = Tenant(args.callback_ms / 1000)
    threading.Thread(target=tenant.serve_forever, daemon=True).start()
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "POWERTOOLS_SERVICE_NAME": "bench",
            "POWERTOOLS_METRICS_NAMESPACE": "Bench",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING" if args.verbose else "ERROR",
            "TENANT_API_URL": tenant.url,
            "ALLOW_HTTP_CALLBACKS": "true",
            "WORKER_CONCURRENCY": "100",
            **provision(endpoint),
        }
    )
    real_stdout = sys.stdout
    if not args.verbose:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - EMF metric lines
    try:
        refresher_grants = refresh_token(tenant)
        handler = runpy.run_path(str(ROOT / "functions" / "worker" / "app.py"), run_name="worker_app")[
            "lambda_handler"
        ]
        session = requests.Session()
        single = []
        for _ in range(max(5, args.batches)):
            began = time.perf_counter()
            session.post(
                f"{tenant.url}/trigger-invocations/v1/x/complete",
                json={"secret": "s", "output": {}},
                timeout=5,
            )
            single.append(time.perf_counter() - began)
        tokens_before, completions_before = tenant.tokens, tenant.completions
        handler(sqs_event(tenant.url, 2), Context())  # warm: token read, connections, imports
        warm_grants = tenant.tokens - tokens_before
        tokens_before, completions_before = tenant.tokens, tenant.completions
        walls, invocations = run_batches(handler, tenant, args.batches)
    finally:
        sys.stdout = real_stdout
        tenant.shutdown()
        moto.terminate()
        moto.wait(timeout=10)
    per_1000 = {
        "token_requests": round(1000 * (tenant.tokens - tokens_before) / invocations, 2),
        "completions": round(1000 * (tenant.completions - completions_before) / invocations, 1),
        "refresher_grants_before_start": refresher_grants,
        "worker_grants_while_warming": warm_grants,
    }
    figures = report(single, walls, per_1000, args.callback_ms)
    record("worker_batch", figures)
    return figures


if __name__ == "__main__":
    main()
