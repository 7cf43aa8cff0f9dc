"""Size of the library layer (LibraryLayer: idn_triggers and its dependencies) as `sam build` makes
it, unzipped and zipped, with its largest packages.

The layer is built by running its own Makefile target (`build-LibraryLayer`, what `sam build` runs
for BuildMethod: makefile) into a temporary directory: pip for the Lambda platform, then the
packages the python3.13 runtime already provides are pruned. Baseline, in the same run: the same
target with nothing pruned (`RUNTIME_PROVIDED=`), i.e. with the botocore that Powertools' `[tracer]`
extra pulls in. `--artifacts DIR` measures an existing build instead (e.g. .aws-sam/build/LibraryLayer).

    python bench/layer_size.py [--artifacts DIR]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, record, table

LAYER = ROOT / "layers" / "idn_triggers"
PIP = Path(sys.executable).parent / "pip"
MB = 1_000_000
GOAL_MB = 20


def build_layer(artifacts: Path, *overrides: str) -> None:
    """The layer's own Makefile target; `RUNTIME_PROVIDED=` (empty) builds the unpruned baseline."""
    subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(LAYER),
            "build-LibraryLayer",
            f"ARTIFACTS_DIR={artifacts}",
            f"PIP={PIP}",
            *overrides,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def files(root: Path) -> list[Path]:
    return [Path(d) / f for d, _, names in os.walk(root) for f in names]


def unzipped_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in files(root) if not p.is_symlink())


def zipped_bytes(root: Path) -> int:
    """The layer's zip (python/... at its root), deflated as sam's packaging does."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files(root)):
            archive.write(path, path.relative_to(root))
    return buffer.getbuffer().nbytes


def packages(site: Path) -> dict[str, int]:
    """Bytes on disk per installed distribution (its RECORD's files that are still there)."""
    sizes: dict[str, int] = {}
    claimed: set[Path] = set()
    for dist in importlib.metadata.distributions(path=[str(site)]):
        total = 0
        for entry in dist.files or []:
            path = Path(str(dist.locate_file(entry))).resolve()
            if path.is_file() and path not in claimed:
                claimed.add(path)
                total += path.stat().st_size
        if total:
            sizes[dist.metadata["Name"]] = total
    rest = sum(p.stat().st_size for p in files(site) if p.resolve() not in claimed)
    if rest:
        sizes["(not from a distribution: idn_triggers, ...)"] = rest
    return dict(sorted(sizes.items(), key=lambda item: -item[1]))


def measure(artifacts: Path) -> dict[str, Any]:
    site = artifacts / "python"
    by_package = packages(site)
    return {
        "unzipped_mb": round(unzipped_bytes(artifacts) / MB, 2),
        "zipped_mb": round(zipped_bytes(artifacts) / MB, 2),
        "files": len(files(artifacts)),
        "largest_packages_mb": [[name, round(size / MB, 2)] for name, size in list(by_package.items())[:3]],
        "packages_mb": {name: round(size / MB, 2) for name, size in by_package.items()},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--artifacts", type=Path, help="measure this built layer (contains python/)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unpruned install")
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-layer-") as scratch:
        if args.artifacts:
            figures["layer"] = measure(args.artifacts)
            figures["source"] = str(args.artifacts)
        else:
            built = Path(scratch) / "layer"
            build_layer(built)
            figures["layer"] = measure(built)
            figures["source"] = "make -C layers/idn_triggers build-LibraryLayer (what sam build runs)"
        if not args.no_baseline:
            unpruned = Path(scratch) / "unpruned"
            build_layer(unpruned, "RUNTIME_PROVIDED=")
            figures["unpruned_baseline"] = measure(unpruned)
    layer = figures["layer"]
    rows: list[tuple[str, ...]] = [("layer", "unzipped MB", "zipped MB", "files", "largest packages (MB)")]
    for label, key in (
        ("LibraryLayer as built", "layer"),
        ("same requirements, nothing pruned", "unpruned_baseline"),
    ):
        if key in figures:
            f = figures[key]
            largest = ", ".join(f"{name} {size:.1f}" for name, size in f["largest_packages_mb"])
            rows.append((label, f"{f['unzipped_mb']:.1f}", f"{f['zipped_mb']:.1f}", str(f["files"]), largest))
    if "unpruned_baseline" in figures:
        figures["ratio_to_unpruned"] = round(
            layer["unzipped_mb"] / figures["unpruned_baseline"]["unzipped_mb"], 2
        )
    figures["goal_mb"] = GOAL_MB
    print(
        f"Library layer size ({figures['source']}); goal <= {GOAL_MB} MB unzipped; "
        f"Lambda's limit is 250 MB unzipped for a function and all its layers"
    )
    print(table(rows))
    record("layer_size", figures)
    return figures


if __name__ == "__main__":
    main()
