"""The local platform provisions (the feedback table too) before any handler is imported: doing so
must not build `sluice.observability`, whose Metrics take their namespace from the environment of
the first function imported (without it every flush fails: "Must contain a metric namespace")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_provisioning_the_local_platform_builds_no_observability() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, sluice_local.provision, infra.lifecycle_feedback; print('sluice.observability' in sys.modules)",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip() == "False"
