"""A real `sam build` and `sam package` (against moto's S3): a handler change reaches the receiver and
the worker (issue 26, item 10).

The API and the SQS event source invoke the `live` alias, so a deploy that does not publish a new
version keeps running the old handlers. `sam package` names each artifact by its content hash; SAM
then names the versions by a hash of the function's properties and, with PublishLambdaVersion, its
layers' (AWS SAM: AutoPublishAliasAllProperties, PublishLambdaVersion). One build (~25 s), two
packagings.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from tests.support import ROOT

BUCKET = "sam-artifacts"
REQUIRED = {
    "TenantApiUrl": "https://acme.api.identitynow.com",
    "SailPointClientId": "i",
    "SailPointClientSecret": "s",
}


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    python = subprocess.run(
        [str(ROOT / "scripts" / "find-python.sh")], capture_output=True, text=True, check=True
    ).stdout.strip()
    path = f"{Path(python).parent}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return {
        **os.environ,
        "PATH": path,
        "SAM_CLI_TELEMETRY": "0",
        "AWS_DEFAULT_REGION": "us-east-1",
        **(extra or {}),
    }


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("sam") / "build"
    command = [str(Path(sys.executable).parent / "sam"), "build", "--template", str(ROOT / "template.yaml")]
    result = subprocess.run(
        [
            *command,
            "--build-dir",
            str(out),
            "--parallel",
            "--cached",
            "--cache-dir",
            str(ROOT / ".aws-sam" / "cache"),
        ],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    yield out


def package(build: Path, endpoint: str, name: str) -> dict[str, Any]:
    """`sam package` of the build; the library layer (4.5 MB zipped, unchanged here) stays one S3
    object so that each packaging takes a few seconds."""
    output = build.parent / f"{name}.yaml"
    template = build / "template.yaml"
    text = template.read_text()
    assert text.count("ContentUri: LibraryLayer\n") == 1
    source = build / "package.yaml"
    source.write_text(text.replace("ContentUri: LibraryLayer\n", f"ContentUri: s3://{BUCKET}/library.zip\n"))
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "sam"),
            "package",
            "--template-file",
            str(source),
            "--s3-bucket",
            BUCKET,
            "--output-template-file",
            str(output),
        ],
        capture_output=True,
        text=True,
        env=_env({"AWS_ENDPOINT_URL": endpoint}),
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return dict(yaml_parse(output.read_text()))


def versions(packaged: dict[str, Any]) -> set[str]:
    class NoLookups:
        def load(self) -> dict[str, str]:
            return {}

    values = {n: str(s["Default"]) for n, s in packaged["Parameters"].items() if "Default" in s} | REQUIRED
    translated = transform(copy.deepcopy(packaged), values, NoLookups())
    return {n for n, r in translated["Resources"].items() if r["Type"] == "AWS::Lambda::Version"}


def test_a_handler_change_publishes_new_receiver_and_worker_versions(build: Path, moto_endpoint: str) -> None:
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=BUCKET)
    first = package(build, moto_endpoint, "first")
    handler = next((build / "HandlersLayer" / "python" / "trigger_handlers").glob("*.py"))
    handler.write_text(handler.read_text() + "\n# a fix the handler author deploys\n")
    changed = package(build, moto_endpoint, "changed")

    moved = {
        name
        for name, resource in first["Resources"].items()
        if resource.get("Properties") != changed["Resources"][name].get("Properties")
    }
    assert moved == {"HandlersLayer"}  # sam package: only the layer's content-hashed key differs
    before, after = versions(first), versions(changed)
    assert {v.split("Version")[0] for v in before} == {"ReceiverFunction", "WorkerFunction"}
    assert not before & after  # the changed handler: new versions of both, the alias moves to them
