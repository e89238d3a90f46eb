"""`make audit` and `make dashboard` on the running local platform."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.conftest import ROOT, RunningPlatform

CORRELATION_ID = "e2e-observability-0001"


def _module(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our modules
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_request_and_its_job_are_in_the_verified_audit_trail_and_the_dashboard_is_drawn(
    running_platform: RunningPlatform, tmp_path: Path
) -> None:
    # Given an async request with the client's correlation id, served to its end
    body = {"route": "intent", "input": {"text": "my card has not arrived"}, "mode": "async"}
    response = running_platform.post(body, **{"X-Correlation-Id": CORRELATION_ID})
    assert response.status_code == 202, response.text
    assert response.headers["x-correlation-id"] == CORRELATION_ID
    job_id = response.json()["id"]
    assert running_platform.wait_for_completion(job_id)["status"] == "succeeded"
    outputs_file = tmp_path / "outputs.json"
    outputs_file.write_text(json.dumps(running_platform.outputs))
    tenant = running_platform.outputs["ApiKeyId"]

    # When an operator reads the tenant's trail (the audit function files the job's outcome
    # from the bus on its own poller: read again until it is there, at most a minute)
    deadline = time.monotonic() + 60
    while True:
        audit = _module(
            "sluice_local.audit", "--tenant", tenant, "--since", "1h", "--outputs", str(outputs_file)
        )
        filed = [line for line in audit.stdout.splitlines() if job_id in line]
        if len(filed) >= 2 or time.monotonic() > deadline:
            break

    # Then the request and the job's outcome are there under the request's id, and the trail verifies
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert any("inference.async" in line and f"corr={CORRELATION_ID}" in line for line in filed)
    assert any(
        "job.completed" in line and "succeeded" in line and f"corr={CORRELATION_ID}" in line for line in filed
    )
    assert ": intact (altered 0, broken links 0, gaps 0)" in audit.stdout
    assert "my card" not in audit.stdout

    # And the dashboard is drawn from the metrics the functions emitted
    image = tmp_path / "dashboard.png"
    drawn = _module(
        "sluice_local.dashboard", "--metrics", running_platform.outputs["MetricsFile"], "--image", str(image)
    )
    assert drawn.returncode == 0, drawn.stderr
    assert image.read_bytes()[:4] == b"\x89PNG"
    assert "10 panels" in drawn.stdout
