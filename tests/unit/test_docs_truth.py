"""What the documentation states about the worker matches what the template deploys."""

from __future__ import annotations

import re
from pathlib import Path

from idn_triggers.settings import WorkerSettings

ROOT = Path(__file__).resolve().parents[2]


def template_idempotency_seconds() -> int:
    # The worker's environment, and the configuration digest's copy of it (FunctionConfigurations).
    [value] = set(re.findall(r'IDEMPOTENCY_SECONDS: "(\d+)"', (ROOT / "template.yaml").read_text()))
    return int(value)


def test_the_idempotency_window_is_stated_once_with_the_templates_value() -> None:
    seconds = template_idempotency_seconds()
    readme = (ROOT / "README.md").read_text()

    stated = re.findall(
        r"kept \*\*(\d+) hours\*\* \(`IDEMPOTENCY_SECONDS: \"(\d+)\"` in template.yaml", readme
    )

    assert stated == [(str(seconds // 3600), str(seconds))]


def test_no_document_gives_the_idempotency_window_another_length() -> None:
    for path in (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))):
        text = " ".join(path.read_text().split())
        for sentence in re.split(r"(?<=[.!?])\s", text):
            if "idempotency" in sentence.lower() or "payload within" in sentence:
                assert not re.search(r"\b(an hour|one hour|1 h|50 h)\b", sentence), (path.name, sentence)


def test_the_workers_default_window_is_the_templates() -> None:
    defaults = {
        "TENANT_API_URL": "https://acme.api.identitynow.com",
        "SAILPOINT_CLIENT_SECRET_ID": "s",
        "TOKEN_SECRET_ID": "t",
        "IDEMPOTENCY_TABLE": "i",
        "WORK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/w",
        "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/d",
    }
    assert WorkerSettings.from_env(defaults).idempotency_seconds == template_idempotency_seconds()
