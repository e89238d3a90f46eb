"""Architecture rules the codebase keeps: they fail loudly when someone takes a shortcut."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "layers" / "sluice"
AWS_SDK = {"boto3", "botocore"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_adapters_import_the_aws_sdk() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in LIBRARY.rglob("*.py")
        if "adapters" not in path.parts and _imports(path) & AWS_SDK
    ]
    assert offenders == []


def test_business_logic_never_reads_the_environment() -> None:
    # Only the composition root (sluice.runtime) reads os.environ; everything else receives settings.
    readers = [
        str(path.relative_to(ROOT))
        for path in LIBRARY.rglob("*.py")
        if "os.environ" in path.read_text() and "runtime" not in path.parts
    ]
    assert readers == []


def test_handlers_stay_thin() -> None:
    for handler in (ROOT / "functions").glob("*/handler.py"):
        lines = [line for line in handler.read_text().splitlines() if line.strip()]
        assert len(lines) <= 60, f"{handler.parent.name} handler has {len(lines)} lines"


def test_the_layer_never_imports_heavy_or_dev_modules() -> None:
    forbidden = {
        "torch",
        "moto",
        "numpy",
        "sentence_transformers",
        "sklearn",
        "aws_cdk",
        "pytest",
        "sluice_local",
    }
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & forbidden)
        for path in LIBRARY.rglob("*.py")
        if _imports(path) & forbidden
    }
    assert offenders == {}
