"""End-to-end: start the local platform (`make run`'s program) and drive it over HTTP."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from sluice_local.launch import platform_process
from sluice_local.outputs import local_session, subscribe_queue

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = ROOT / ".sluice" / "model"


def api_client(outputs: dict[str, Any]) -> httpx.Client:
    """An HTTP client on a started platform's API, with its key."""
    return httpx.Client(base_url=outputs["ApiUrl"], timeout=30, headers={"x-api-key": outputs["ApiKey"]})


def poll_until(
    until: Callable[[], bool], *, timeout_s: float, what: Callable[[], str], every_s: float = 0.2
) -> None:
    """Polls with a deadline (a condition to reach, not a guess to wait for); `what` says why not."""
    deadline = time.monotonic() + timeout_s
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what()} within {timeout_s:.0f}s")
        time.sleep(every_s)


@dataclass
class RunningPlatform:
    outputs: dict[str, Any]
    http: httpx.Client
    completed: Any  # SQS client bound to the events queues
    completed_queue_url: str  # InferenceCompleted events
    batches_queue_url: str  # BatchCompleted events

    def post(self, body: Any, *, key: bool = True, **headers: str) -> httpx.Response:
        if key:
            headers["x-api-key"] = self.outputs["ApiKey"]
        return self.http.post("/v1/inferences", json=body, headers=headers)

    def wait_for_completion(self, job_id: str, timeout_s: int = 60) -> dict[str, Any]:
        """The job's InferenceCompleted event."""
        return self._wait_for_event(self.completed_queue_url, "job_id", job_id, timeout_s)

    def wait_for_batch(self, batch_id: str, timeout_s: int = 120) -> dict[str, Any]:
        """The batch's BatchCompleted event."""
        return self._wait_for_event(self.batches_queue_url, "batch_id", batch_id, timeout_s)

    def _wait_for_event(self, queue_url: str, field: str, value: str, timeout_s: int) -> dict[str, Any]:
        """Long-poll the events the platform publishes; no sleeping."""
        remaining = timeout_s
        while remaining > 0:
            wait = min(remaining, 5)
            remaining -= wait
            messages = self.completed.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
            ).get("Messages", [])
            for message in messages:
                detail = json.loads(message["Body"])["detail"]["detail"]
                if detail[field] == value:
                    return dict(detail)
        raise AssertionError(f"no event for {field} {value} within {timeout_s}s")


@pytest.fixture(scope="session")
def running_platform() -> Iterator[RunningPlatform]:
    if not (MODEL_DIR / "metrics.json").exists():
        pytest.fail("no trained model in .sluice/model: `make test` trains it first (make model)")
    with platform_process(echo=lambda line: sys.stderr.write(f"[platform] {line}")) as outputs:
        session = local_session(outputs)
        sqs = session.client("sqs", endpoint_url=outputs["AwsEndpointUrl"])
        events = session.client("events", endpoint_url=outputs["AwsEndpointUrl"])

        def event_queue(detail_type: str) -> str:
            pattern = {"source": ["sluice"], "detail-type": [detail_type]}
            return subscribe_queue(
                sqs, events, bus=outputs["EventBusName"], name=f"e2e-{detail_type}", pattern=pattern
            )

        completed, batches = event_queue("InferenceCompleted"), event_queue("BatchCompleted")
        with httpx.Client(base_url=outputs["ApiUrl"], timeout=30) as http:
            yield RunningPlatform(outputs, http, sqs, completed, batches)
