"""End-to-end: start the local platform (`make run`'s program) and drive it over HTTP."""

from __future__ import annotations

import json
import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from sluice_local.outputs import local_session

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = ROOT / ".sluice" / "model"
READY_TIMEOUT_S = 300


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningPlatform:
    outputs: dict[str, Any]
    http: httpx.Client
    completed: Any  # SQS client bound to the events queue
    completed_queue_url: str

    def post(self, body: Any, *, key: bool = True, **headers: str) -> httpx.Response:
        if key:
            headers["x-api-key"] = self.outputs["ApiKey"]
        return self.http.post("/v1/inferences", json=body, headers=headers)

    def wait_for_completion(self, job_id: str, timeout_s: int = 60) -> dict[str, Any]:
        """Long-poll the InferenceCompleted events the platform publishes; no sleeping."""
        remaining = timeout_s
        while remaining > 0:
            wait = min(remaining, 5)
            remaining -= wait
            messages = self.completed.receive_message(
                QueueUrl=self.completed_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
            ).get("Messages", [])
            for message in messages:
                detail = json.loads(message["Body"])["detail"]["detail"]
                if detail["job_id"] == job_id:
                    return dict(detail)
        raise AssertionError(f"no InferenceCompleted event for {job_id} within {timeout_s}s")


@pytest.fixture(scope="session")
def running_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    if not (MODEL_DIR / "metrics.json").exists():
        pytest.fail("no trained model in .sluice/model: `make test` trains it first (make model)")
    outputs_file = tmp_path_factory.mktemp("platform") / "outputs.json"
    ports = {"--api-port": _free_port(), "--endpoint-port": _free_port(), "--moto-port": _free_port()}
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "sluice_local.platform",
            "--outputs",
            str(outputs_file),
            *[str(part) for item in ports.items() for part in item],
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stderr.write(f"[platform] {line}")
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        while True:
            line = lines.get(timeout=READY_TIMEOUT_S)
            if line is None:
                pytest.fail(f"the local platform exited with status {process.wait()}")
            if "[5/5] ready" in line:
                break
        outputs = json.loads(outputs_file.read_text())
        session = local_session(outputs)
        sqs = session.client("sqs", endpoint_url=outputs["AwsEndpointUrl"])
        events = session.client("events", endpoint_url=outputs["AwsEndpointUrl"])
        queue_url = sqs.create_queue(QueueName="e2e-completed")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name="e2e-completed",
            EventBusName=outputs["EventBusName"],
            EventPattern=json.dumps({"source": ["sluice"], "detail-type": ["InferenceCompleted"]}),
        )
        events.put_targets(
            Rule="e2e-completed", EventBusName=outputs["EventBusName"], Targets=[{"Id": "q", "Arn": arn}]
        )
        with httpx.Client(base_url=outputs["ApiUrl"], timeout=30) as http:
            yield RunningPlatform(outputs, http, sqs, queue_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
