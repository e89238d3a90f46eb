"""`make models [STACK=<stack>]`: every registered version of each lifecycle route, with its gate
metrics, dataset hash and code version, and which one each variant serves.

Without STACK: the local registry `make retrain` writes (`.sluice/lifecycle/registry/`) and the
model in `.sluice/model`. With STACK: the stack's model package groups (`<stack>-<route>`), with
the caller's AWS credentials (sagemaker:ListModelPackages, DescribeModelPackage).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sluice.config import DeploymentConfig

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = ROOT / ".sluice" / "lifecycle" / "registry"
SERVING = ROOT / ".sluice" / "model"
COLUMNS = (
    "version",
    "approval",
    "model version",
    "golden acc.",
    "incumbent acc.",
    "p95 ms",
    "dataset",
    "code",
)


def _value(metrics: dict[str, Any], name: str, digits: int) -> str:
    value = (metrics.get(name) or {}).get("value")
    return f"{float(value):.{digits}f}" if value is not None else "-"


def local_rows(route: str) -> list[tuple[str, ...]]:
    path = REGISTRY / f"sluice-local-{route}.json"
    packages = json.loads(path.read_text()) if path.exists() else []
    return [
        (
            f"v{package['version']}",
            str(package["approval"]),
            str(package.get("model_version", "-")),
            _value(package.get("metrics", {}), "golden_accuracy", 3),
            _value(package.get("metrics", {}), "incumbent_golden_accuracy", 3),
            _value(package.get("metrics", {}), "latency_p95_ms", 0),
            str(package.get("metadata", {}).get("dataset_hash", "-"))[:12],
            str(package.get("metadata", {}).get("code_version", "-"))[:12],
        )
        for package in reversed(packages)
    ]


def stack_rows(stack: str, route: str) -> list[tuple[str, ...]]:
    import boto3

    from sluice.adapters.sagemaker_rollout import SageMakerRollouts

    rows = []
    for package in SageMakerRollouts(boto3.client("sagemaker")).packages(f"{stack}-{route}".lower()):
        metadata = package.get("CustomerMetadataProperties", {})
        golden = metadata.get("golden_accuracy")
        rows.append(
            (
                f"v{package['ModelPackageVersion']}",
                str(package.get("ModelApprovalStatus", "-")),
                "-",
                f"{float(golden):.3f}" if golden else "-",
                "-",
                "-",
                str(metadata.get("dataset_hash", "-"))[:12],
                str(metadata.get("code_version", "-"))[:12],
            )
        )
    return rows


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(COLUMNS, *rows, strict=False)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in [COLUMNS, *rows]
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stack", help="a deployed stack's name; without it, the local registry")
    args = parser.parse_args(argv)
    context = json.loads((ROOT / "cdk.json").read_text())["context"].get("sluice", {})
    routes = list(DeploymentConfig.model_validate(context).lifecycle.routes)
    for route in routes:
        rows = stack_rows(args.stack, route) if args.stack else local_rows(route)
        print(f"route {route}: {len(rows)} registered version(s)")
        if rows:
            print(table(rows))
        if not args.stack and (SERVING / "metrics.json").exists():
            serving = json.loads((SERVING / "metrics.json").read_text())
            print(
                f"in service locally: {serving.get('model_version')} (held-out accuracy {serving.get('accuracy')})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
