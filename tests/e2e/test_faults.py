"""The fault suite on the `make run` platform itself, with its accounting.

tests/functional/test_fault_accounting.py plays every fault on the handlers' wiring in one
process; here the same faults meet the real local platform: moto servers, the local endpoints
with the real model, the pollers delivering every batch twice (reversed the second time), a
restart of the whole platform (SIGTERM, as Ctrl-C) half-way, and the sweeper finishing async
jobs whose notification was lost. Faults come from `python -m sluice_local.platform
--inject-faults` (sluice_local/faults.py); the accounting is the functional suite's.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from sluice_local.faults import FaultLog, text_hash
from sluice_local.launch import platform_process
from sluice_local.outputs import local_session, subscribe_queue, take_events
from sluice_local.platform import load_config
from tests.e2e.conftest import api_client, poll_until
from tests.functional.faults import EXPECTED, FAULTS, Accounting

# Not in `make test`: the platform runs the real model with short timeouts, and on a machine busy
# with other work its calls outlast them (real timeouts, an open circuit), which the accounting
# then rightly reports. `make faults-platform` runs it on demand.
pytestmark = [pytest.mark.e2e, pytest.mark.at_size]
PER_FAULT = int(os.environ.get("SLUICE_FAULTS_PER_FAULT", "3"))
POISON = 3
INTENT_FAULTS = ("clean", "throttled", "timeout", "dependency", "rejected", "crash", "ddb-throttled")
CHAT_FAULTS = ("clean", "lost")
# A short worker timeout, so that a crashed batch (visibility timeout: 6 x the worker's timeout)
# and the poison (3 receives) end within a few minutes, and a circuit open for less than that, as
# deployed (30 s against 360 s).
OVERRIDE = {"worker_function": {"timeout_seconds": 5}, "breaker": {"open_seconds": 5}}
DESCRIPTIONS = {
    **FAULTS,
    "chat clean": "nothing, on the asynchronous endpoint (S3, SNS, async_result)",
    "chat lost": "SageMaker's notification is never sent; the sweeper finishes the job from S3",
}
OWED = {**EXPECTED, "chat clean": "succeeded", "chat lost": "succeeded"}


def _echo(line: str) -> None:
    sys.stderr.write(f"[platform] {line}")


def _requests() -> list[tuple[str, str, dict[str, Any]]]:
    """(fault, text, request body) for every request the suite sends."""
    requests = []
    for n in range(PER_FAULT):
        for fault in INTENT_FAULTS:
            text = f"{fault}: my card {n} has not arrived"
            requests.append((fault, text, {"route": "intent", "input": {"text": text}, "mode": "async"}))
        for fault in CHAT_FAULTS:
            text = f"{fault}: say hello to team {n}"
            body = {"route": "chat", "input": {"inputs": text}, "mode": "async"}
            requests.append((f"chat {fault}", text, body))
    return requests


def test_every_accepted_request_ends_once_as_owed_on_the_running_platform(tmp_path: Path) -> None:
    state, log_path = tmp_path / "state", tmp_path / "faults.jsonl"
    args = (
        "--inject-faults",
        str(log_path),
        "--config-override",
        json.dumps(OVERRIDE),
        "--sweep-every-seconds",
        "5",
        "--sweep-grace-seconds",
        "60",
    )
    requests = _requests()
    accepted: dict[str, str] = {}
    text_of_job: dict[str, str] = {}

    # Given a platform injecting every fault, with async requests meeting each and poison beside them
    with platform_process(*args, echo=_echo, state_dir=state) as outputs:
        session = local_session(outputs)
        sqs = session.client("sqs", endpoint_url=outputs["AwsEndpointUrl"])
        events = session.client("events", endpoint_url=outputs["AwsEndpointUrl"])
        completed = subscribe_queue(
            sqs,
            events,
            bus=outputs["EventBusName"],
            name="e2e-faults-completed",
            pattern={"source": ["sluice"], "detail-type": ["InferenceCompleted"]},
        )
        with api_client(outputs) as http:
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda r: http.post("/v1/inferences", json=r[2]), requests))
            for (fault, text, _), answer in zip(requests, answers, strict=True):
                assert answer.status_code == 202, answer.text
                accepted[answer.json()["id"]] = fault
                text_of_job[answer.json()["id"]] = text
            for n in range(POISON):
                sqs.send_message(QueueUrl=outputs["QueueUrlIntent"], MessageBody=f"poison {n} {{not json")

            def some_final() -> bool:
                statuses = [http.get(f"/v1/inferences/{job_id}").json()["status"] for job_id in accepted]
                return sum(status in ("succeeded", "failed") for status in statuses) >= len(accepted) // 3

            poll_until(some_final, every_s=1, timeout_s=180, what=lambda: "not a third of the jobs final")
    # When the platform is stopped half-way and started again on its state
    with platform_process(*args, echo=_echo, state_dir=state) as outputs:
        session = local_session(outputs)
        sqs = session.client("sqs", endpoint_url=outputs["AwsEndpointUrl"])
        with api_client(outputs) as http:
            final: dict[str, str] = {}
            dead_letters: list[dict[str, Any]] = []
            announced: Counter[str] = Counter()
            seen_events: list[dict[str, Any]] = []

            def dead_lettered_jobs() -> set[str]:
                jobs = set()
                for message in dead_letters:
                    try:
                        jobs.add(json.loads(message["Body"])["job_id"])
                    except (ValueError, KeyError):
                        continue  # a poison message: no job
                return jobs

            def accounted_for() -> bool:
                for job_id in set(accepted) - set(final):
                    job = http.get(f"/v1/inferences/{job_id}").json()
                    if job["status"] == "succeeded":
                        final[job_id] = "succeeded"
                    elif job["status"] == "failed":
                        final[job_id] = f"failed {job['error']['code']}"
                dead_letters.extend(
                    sqs.receive_message(
                        QueueUrl=outputs["DeadLetterQueueUrlIntent"],
                        MaxNumberOfMessages=10,
                        VisibilityTimeout=900,
                    ).get("Messages", [])
                )
                for event in take_events(sqs, completed, wait_seconds=1):
                    announced[event["job_id"]] += 1
                    seen_events.append(event)
                done = set(final) | dead_lettered_jobs()
                return (
                    done >= set(accepted)
                    and len(dead_letters) - len(dead_lettered_jobs()) >= POISON
                    and all(announced[job_id] for job_id in final)
                )

            poll_until(
                accounted_for,
                every_s=1,
                timeout_s=420,
                what=lambda: (
                    f"{len(set(accepted) - set(final))} jobs not final, {len(dead_letters)} dead letters"
                ),
            )
            # Late duplicates of an event would arrive now: one more look
            for event in take_events(sqs, completed, wait_seconds=2):
                announced[event["job_id"]] += 1

    # Then each request ended exactly once as owed, was announced once, and took no more model
    # calls than the retry policy allows; the poison is in the dead-letter queue
    records = FaultLog.read(log_path)
    calls = Counter(record["text"] for record in records if record["kind"] == "call")
    invocations: dict[str, int] = {}
    for job_id, fault in accepted.items():
        invocations[fault] = max(invocations.get(fault, 0), calls[text_hash(text_of_job[job_id])])
    fired = Counter(record["fault"] for record in records if record["kind"] == "fired")
    config = load_config(OVERRIDE)
    intent = config.route("intent")
    in_dlq = dead_lettered_jobs()
    accounting = Accounting(
        accepted=accepted,
        final=final,
        events=announced,
        invocations=invocations,
        allowed_invocations=intent.max_receive_count * 2 * config.retry.max_attempts,
        in_dlq=in_dlq,
        poison_in_dlq=len(dead_letters) - len(in_dlq),
        poison_sent=POISON,
        deliveries=sum(record["kind"] == "delivery" for record in records),
        crashed_invocations=fired["crash"],
        restarts=1,
        fired=Counter({**fired, "chat lost": fired["lost"]}),
        descriptions=DESCRIPTIONS,
        expected=OWED,
    )
    report = os.environ.get("SLUICE_FAULTS_REPORT")
    if report:  # `make faults-platform`
        Path(report).write_text(
            "# The fault suite on the running platform (tests/e2e/test_faults.py)\n\n"
            + accounting.report()
            + "\n"
        )
    repeated = [event for event in seen_events if announced[event["job_id"]] > 1]
    assert accounting.problems() == [], accounting.report() + f"\nRepeated events: {repeated}"
    # And every fault really happened, on the running platform
    assert set(fired) == {"throttled", "timeout", "dependency", "rejected", "crash", "ddb-throttled", "lost"}
    assert accounting.deliveries > 0
