"""Local mode reloads an edited handler: the next delivery runs the new code, nothing else restarts.

A handlers package of the test's own (written to a temporary directory, HANDLERS_PACKAGE) serves
idn:identity-created. The test edits its module while local mode runs: a working version, a
version that does not compile, the fixed version; then replays the first event from the archive.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from idn_local.runner import InboundAuth, LocalOptions, LocalRunner
from idn_tools import ops
from idn_triggers.archive import DeliveryArchive, Window, s3_client
from tests.support import trigger_document

CREATED = "idn:identity-created"
TOKEN = "e2e-reload-token"
SEEN: list[tuple[str, str, str]] = []  # (version, identity id, delivery kind), appended by the handler
pytestmark = pytest.mark.e2e

HANDLER = """
from idn_triggers.handlers import HandlerContext, trigger_handler
from idn_triggers.models.identity import IdentityCreated
from tests.e2e.test_handler_reload import SEEN


@trigger_handler("idn:identity-created")
def on_created(event: IdentityCreated, context: HandlerContext) -> None:
    SEEN.append(({version!r}, event.identity.id, context.delivery.value))
"""


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh handlers package on sys.path, named uniquely (the process may have seen others)."""
    root = tmp_path_factory.mktemp("reload")
    name = f"reload_handlers_{uuid.uuid4().hex[:8]}"
    (root / name).mkdir(parents=True)
    (root / name / "__init__.py").write_text("", encoding="utf-8")
    write(root / name, "v1")
    sys.path.insert(0, str(root))
    saved = os.environ.get("HANDLERS_PACKAGE")
    os.environ["HANDLERS_PACKAGE"] = name
    yield root / name
    os.environ["HANDLERS_PACKAGE"] = saved or "trigger_handlers"
    sys.path.remove(str(root))
    for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
        del sys.modules[module]


def write(package: Path, version: str, source: str | None = None) -> None:
    path = package / "identity_created.py"
    text = source if source is not None else HANDLER.format(version=version)
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    if path.stat().st_mtime_ns == before:  # a coarse clock: make the edit visible as one
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


@pytest.fixture(scope="module")
def local(package: Path) -> Iterator[LocalRunner]:
    with LocalRunner(LocalOptions(port=0, auth=InboundAuth.parse(f"bearer:{TOKEN}"))) as runner:
        yield runner


def fire(local: LocalRunner, identity_id: str) -> int:
    """SailPoint's delivery of one event, straight to the receiver; its HTTP status."""
    example = trigger_document(CREATED)["exampleInput"]
    body = {**example, "identity": {**example["identity"], "id": identity_id}}
    response = requests.post(
        local.webhook_url(CREATED), json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    return response.status_code


def wait_for(identity_id: str, version: str, kind: str = "LIVE", timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while (version, identity_id, kind) not in SEEN:
        assert time.monotonic() < deadline, (version, identity_id, kind, SEEN)
        time.sleep(0.05)


def test_an_edit_takes_effect_on_the_next_delivery_and_a_replay_runs_the_fixed_handler(
    local: LocalRunner, package: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert local.stack is not None
    since = datetime.now(UTC)
    # Given local mode serving the first version, which handled one event
    assert fire(local, "id-1") == 200
    wait_for("id-1", "v1")
    # When the handler is edited to a version that does not compile
    write(package, "broken", "def on_created(:\n")
    # Then the next delivery fails as a broken handler module fails in Lambda, and stderr says why
    assert fire(local, "id-2") == 502
    assert "identity_created.py line 1" in capfd.readouterr().err
    # When it is fixed, then the next delivery runs the new code: no restart
    write(package, "v2")
    assert fire(local, "id-3") == 200
    wait_for("id-3", "v2")
    # And the archive kept the first event: replayed, it runs the fixed handler
    archive = DeliveryArchive(local.stack.physical_ids["ArchiveBucket"], s3_client(local.aws_endpoint))
    window = Window(since, datetime.now(UTC) + timedelta(seconds=1))
    deadline = time.monotonic() + 15
    while len(archive.keys(window, CREATED)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = ops.main(
            [
                "events",
                "replay",
                "--endpoint-url",
                local.aws_endpoint,
                "--bucket",
                local.stack.physical_ids["ArchiveBucket"],
                "--queue-url",
                local.stack.physical_ids["WorkQueue"],
                "--trigger",
                CREATED,
                "--since",
                window.since.isoformat(),
                "--until",
                window.until.isoformat(),
            ]
        )
    assert status == 0, out.getvalue()
    wait_for("id-1", "v2", kind="REPLAY")
    assert ("v1", "id-1", "REPLAY") not in SEEN and ("broken", "id-2", "LIVE") not in SEEN
