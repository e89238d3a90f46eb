"""Builds the tiny example models (tests/byo_models/build.py) inside the checkout, where a route's
model path must be, once per test session and worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "tests" / "byo_models" / "build.py"
SKLEARN_IMAGE_PYTHON = ROOT / ".venv-sklearn-image" / "bin" / "python"


def build_example(kind: str, name: str | None = None, *, python: Path | None = None) -> str:
    """The example model of `kind`, built into .sluice/test-models; its path relative to the root."""
    interpreter = python or (SKLEARN_IMAGE_PYTHON if kind == "sklearn" else Path(sys.executable))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    dest = ROOT / ".sluice" / "test-models" / worker / (name or kind)
    if not dest.exists():
        subprocess.run([str(interpreter), str(BUILD), kind, str(dest)], check=True, capture_output=True)  # noqa: S603
    return str(dest.relative_to(ROOT))
