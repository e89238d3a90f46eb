"""The local platform keeps its state across a stop and a start (`make run`, Ctrl-C, `make run`)."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from sluice_local.launch import platform_process
from tests.e2e.conftest import api_client, poll_until

pytestmark = pytest.mark.e2e
JOBS = 160


def _echo(lines: list[str]) -> Callable[[str], None]:
    def echo(line: str) -> None:
        lines.append(line)
        sys.stderr.write(f"[platform] {line}")

    return echo


def _statuses(http: httpx.Client, job_ids: list[str]) -> dict[str, str]:
    with ThreadPoolExecutor(8) as pool:
        answers = pool.map(lambda job_id: http.get(f"/v1/inferences/{job_id}"), job_ids)
        return {job_id: answer.json()["status"] for job_id, answer in zip(job_ids, answers, strict=True)}


def test_jobs_queued_and_running_at_a_stop_all_succeed_after_the_start(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first_run: list[str] = []
    # Given a platform with a backlog of async jobs, some of them being served right now
    with platform_process(echo=_echo(first_run), state_dir=state) as outputs, api_client(outputs) as http:
        body = {
            "route": "intent",
            "input": {"text": "I still have not received my new card"},
            "mode": "async",
        }
        with ThreadPoolExecutor(8) as pool:
            accepted = list(pool.map(lambda _: http.post("/v1/inferences", json=body), range(JOBS)))
        assert {answer.status_code for answer in accepted} == {202}
        job_ids = [answer.json()["id"] for answer in accepted]
        seen: dict[str, str] = {}

        def some_running_and_some_queued() -> bool:
            seen.update(_statuses(http, job_ids))
            return "running" in seen.values() and "queued" in seen.values()

        poll_until(
            some_running_and_some_queued,
            timeout_s=120,
            what=lambda: f"no job was seen running: {Counter(seen.values())}",
        )
    # When the platform is stopped (SIGTERM, as Ctrl-C stops it) and started again on its state
    assert any("handler invocations in flight" in line for line in first_run)
    assert any("moto-dynamodb: state saved" in line for line in first_run)
    with platform_process(echo=_echo([]), state_dir=state) as outputs, api_client(outputs) as http:
        # Then every job, queued, running or done at the stop, ends succeeded with its output
        final: dict[str, str] = {}

        def all_final() -> bool:
            final.update(_statuses(http, [i for i in job_ids if final.get(i) != "succeeded"]))
            return all(status in ("succeeded", "failed") for status in final.values())

        poll_until(all_final, timeout_s=300, what=lambda: f"jobs not all final: {Counter(final.values())}")
        assert set(final.values()) == {"succeeded"}
        job = http.get(f"/v1/inferences/{job_ids[-1]}").json()
        assert "card_arrival" in [intent["label"] for intent in job["output"]["intents"]][:3]


def test_an_idempotency_key_replays_across_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    body = {"route": "intent", "input": {"text": "How do I top up with Apple Pay?"}, "mode": "async"}
    key = {"Idempotency-Key": "restart-replay-1"}
    # Given a job accepted with an Idempotency-Key before a stop
    with platform_process(echo=_echo([]), state_dir=state) as outputs, api_client(outputs) as http:
        first = http.post("/v1/inferences", json=body, headers=key)
    assert first.status_code == 202, first.text

    # When the caller retries with the same key after the platform started again
    with platform_process(echo=_echo([]), state_dir=state) as outputs, api_client(outputs) as http:
        retry = http.post("/v1/inferences", json=body, headers=key)
        other = http.post("/v1/inferences", json=body, headers={"Idempotency-Key": "restart-replay-2"})

    # Then the first answer is replayed: the same job, not a second one
    assert retry.status_code == 202, retry.text
    assert retry.json()["id"] == first.json()["id"]
    assert retry.headers.get("idempotent-replayed") == "true"
    assert other.json()["id"] != first.json()["id"]
