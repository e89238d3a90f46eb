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


# What each capability may build on; the shared modules (config, errors, events, ports,
# observability) are open to all. The composition root and the adapters are for runtime only.
CAPABILITY_DEPENDENCIES = {
    "pii": set(),
    "routing": set(),
    "cost": set(),
    "operations": set(),
    "jobs": {"routing", "cost"},
    # Serving records what it served for feedback (sluice.lifecycle.feedback).
    "serving": {"jobs", "routing", "pii", "cost", "lifecycle"},
    "uploads": {"jobs", "routing", "pii", "cost"},  # uploaded records are reserved against budgets
    "lifecycle": {"jobs"},
}


def _sluice_imports(path: Path) -> set[str]:
    """The `sluice` subpackages or modules a file imports at run time, at any depth of the file
    (imports for type checking only do not make a dependency)."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for statement in node.body
        for inner in ast.walk(statement)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sluice."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("sluice."))
    return found


def test_capabilities_depend_only_downwards_and_never_on_the_composition_root() -> None:
    offenders = {}
    for capability, allowed in CAPABILITY_DEPENDENCIES.items():
        for path in (LIBRARY / capability).rglob("*.py"):
            other_capabilities = (
                _sluice_imports(path) & (set(CAPABILITY_DEPENDENCIES) | {"runtime", "adapters"})
            ) - {capability}
            if other_capabilities - allowed:
                offenders[str(path.relative_to(ROOT))] = sorted(other_capabilities - allowed)
    assert offenders == {}
