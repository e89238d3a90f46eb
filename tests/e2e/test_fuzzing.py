"""Schemathesis against the running platform: examples, coverage, fuzzing and stateful phases,
with every check (not_a_server_error, response_schema_conformance, status and header
conformance, use_after_free, ...). The run is bounded by examples per operation, not by time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import RunningPlatform

CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES_PER_OPERATION = 40


def test_schemathesis_finds_no_failure_in_any_phase(
    running_platform: RunningPlatform, tmp_path: Path
) -> None:
    base = running_platform.outputs["ApiUrl"].rstrip("/")
    run = subprocess.run(  # noqa: S603 - fixed argv
        [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(CONFIG), "run",
         f"{base}/v1/openapi.json", "--url", base, "--checks", "all",
         "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", str(EXAMPLES_PER_OPERATION),
         "--generation-deterministic", "-H", f"x-api-key: {running_platform.outputs['ApiKey']}",
         "--request-timeout", "30", "--no-color", "--report", "junit", "--report-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        cwd=tmp_path,  # its example cache stays out of the work tree
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
