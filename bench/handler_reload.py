"""Local mode's handler reload: from saving an edited handler to the first answer its new code gives.

A SYNC pre-approval handler in a package of this script's own (HANDLERS_PACKAGE) answers with its
version in the comment. Each round saves a new version and at once delivers the event over HTTP,
as a handler author does after pressing save; the time to the answer carrying the new version is
the edit-to-effect time. The same delivery without an edit is the baseline.

    python bench/handler_reload.py [--edits N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record, summary, table

from idn_local.runner import InboundAuth, LocalOptions, LocalRunner
from idn_triggers.catalogue import trigger_document

PRE = "idn:access-request-pre-approval"
TOKEN = "bench-reload-token"  # noqa: S105 - local bench credential
HANDLER = """
from idn_triggers.handlers import trigger_handler
from idn_triggers.models.access_request import AccessRequestPreApproval, PreApprovalDecision


@trigger_handler("idn:access-request-pre-approval")
def decide(event: AccessRequestPreApproval) -> PreApprovalDecision:
    return PreApprovalDecision(approved=True, comment="version {version}", approver="bench")
"""


def deliver(url: str) -> str:
    body = json.dumps(trigger_document(PRE)["exampleInput"])
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    response = requests.post(url, data=body, headers=headers, timeout=10)
    response.raise_for_status()
    return str(response.json()["comment"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as root:
        package = Path(root) / "bench_reload_handlers"
        package.mkdir()
        (package / "__init__.py").write_text("", encoding="utf-8")
        module = package / "access_request_pre_approval.py"
        module.write_text(HANDLER.format(version=0), encoding="utf-8")
        sys.path.insert(0, root)
        os.environ["HANDLERS_PACKAGE"] = package.name
        options = LocalOptions(port=0, auth=InboundAuth.parse(f"bearer:{TOKEN}"))
        with contextlib.redirect_stdout(io.StringIO()), LocalRunner(options) as runner:  # metrics lines
            url = runner.webhook_url(PRE)
            deliver(url)  # warm: the first delivery imports the models
            unchanged, edits = [], []
            for version in range(1, args.edits + 1):
                began = time.perf_counter()
                deliver(url)
                unchanged.append(time.perf_counter() - began)
                time.sleep(0.01)  # a later modification time than the last load
                began = time.perf_counter()
                module.write_text(HANDLER.format(version=version), encoding="utf-8")
                answer = deliver(url)
                edits.append(time.perf_counter() - began)
                assert answer == f"version {version}", answer  # the very next delivery ran the edit
    figures = {"edit_to_effect_ms": summary(edits), "unchanged_delivery_ms": summary(unchanged)}
    record("handler_reload", figures)
    rows = [("", "median ms", "p99 ms", "n")]
    for label, key in (
        ("save, then deliver (new code)", "edit_to_effect_ms"),
        ("deliver, no edit", "unchanged_delivery_ms"),
    ):
        f = figures[key]
        rows.append((label, f"{f['median']:.1f}", f"{f['p99']:.1f}", str(f["n"])))
    print("Handler reload in local mode: the first delivery after a save runs the new code")
    print(table(rows))


if __name__ == "__main__":
    main()
