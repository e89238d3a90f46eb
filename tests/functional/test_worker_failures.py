"""Every accepted job ends in exactly one final state, whatever the endpoint does."""

from __future__ import annotations

import json
from typing import Any

from sluice.errors import EndpointUnavailable, ModelRejectedInput
from tests.functional.conftest import Platform
from tests.sample_events import api_event


def _submit(platform: Platform, text: str) -> str:
    body = {"route": "intent", "input": {"text": text}, "mode": "async"}
    status, answer, _ = platform.call(api_event("post_inference_async", body=body))
    assert status == 202
    return str(answer["id"])


def _with_receive_count(messages: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    return [{**m, "Attributes": {**m["Attributes"], "ApproximateReceiveCount": str(count)}} for m in messages]


def test_throttled_endpoint_leaves_jobs_queued_for_retry_then_they_succeed(platform: Platform) -> None:
    # Given an endpoint that throttles every call of the first delivery (all its in-process retries)
    outcomes = iter([EndpointUnavailable("throttled")] * 3)
    platform.endpoint._failures = lambda _: next(outcomes, None)
    job_id = _submit(platform, "card still not here")

    # When the first delivery fails, and the message comes back
    messages = platform.receive()
    failed = platform.run_worker(messages)

    # Then the item is reported failed (retried), the job is back to queued...
    assert failed == {messages[0]["MessageId"]}
    assert platform.job(job_id)["status"] == "queued"

    # ...and the redelivery succeeds
    assert platform.run_worker(_with_receive_count(messages, 2)) == set()
    assert platform.job(job_id)["status"] == "succeeded"


def test_retryable_failure_on_last_attempt_fails_the_job_with_a_reason(platform: Platform) -> None:
    # Given an endpoint that is always unavailable
    platform.endpoint._failures = lambda _: EndpointUnavailable(
        "Endpoint is unavailable (ModelNotReadyException)"
    )
    job_id = _submit(platform, "card still not here")

    # When the message arrives for the last time the queue allows (maxReceiveCount = 3)
    messages = _with_receive_count(platform.receive(), 3)
    failed = platform.run_worker(messages)

    # Then the job fails with the reason, and the message is acknowledged instead of dead-lettered
    assert failed == set()
    job = platform.job(job_id)
    assert job["status"] == "failed"
    assert job["error"]["code"] == "ENDPOINT_UNAVAILABLE"


def test_one_rejected_input_fails_alone_and_its_batch_neighbours_succeed(platform: Platform) -> None:
    # Given a model that rejects one particular input
    platform.endpoint._failures = lambda instances: (
        ModelRejectedInput("The model rejected the input (status 400)")
        if any(item["text"] == "bad input" for item in instances)
        else None
    )
    good = [_submit(platform, f"good input {i}") for i in range(3)]
    bad = _submit(platform, "bad input")

    # When they arrive in one batch
    assert platform.run_worker(platform.receive()) == set()

    # Then only the rejected one failed, with a stable code
    assert [platform.job(job_id)["status"] for job_id in good] == ["succeeded"] * 3
    assert platform.job(bad)["error"]["code"] == "MODEL_REJECTED_INPUT"


def test_unparseable_message_is_reported_failed_so_it_reaches_the_dead_letter_queue(
    platform: Platform,
) -> None:
    # Given a message that is not a job
    queue = platform.resources.routes["intent"].queue_url
    platform.sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"not": "a job"}))

    # When it is delivered
    messages = platform.receive()
    failed = platform.run_worker(messages)

    # Then it is reported as a batch item failure (SQS moves it to the DLQ after maxReceiveCount)
    assert failed == {messages[0]["MessageId"]}
    assert platform.endpoint.calls == []
