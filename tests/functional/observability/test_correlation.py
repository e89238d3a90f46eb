"""One correlation id from the API request to the worker's log lines, the job and its event."""

from __future__ import annotations

import json

from tests.functional.conftest import Platform
from tests.functional.observability.log_capture import log_lines
from tests.sample_events import api_event

# Mixed case: an id is echoed as the client wrote it (only the media type is lower-cased).
CLIENT_ID = "Client-Req-7F3a9c2E"


def _submit(platform: Platform, headers: dict[str, str] | None = None) -> tuple[str, dict[str, str]]:
    body = {"route": "intent", "input": {"text": "where is my card"}, "mode": "async"}
    status, answer, response_headers = platform.call(
        api_event("post_inference_async", body=body, headers=headers)
    )
    assert status == 202, answer
    return str(answer["id"]), response_headers


def test_a_clients_correlation_id_reaches_the_worker_logs_the_job_record_and_the_completion_event(
    platform: Platform,
) -> None:
    # Given an async request that names its own correlation id
    with log_lines() as api_lines:
        job_id, headers = _submit(platform, {"X-Correlation-Id": CLIENT_ID})

    # When the worker serves the queue
    messages = platform.receive()
    with log_lines() as worker_lines:
        assert platform.run_worker(messages) == set()

    # Then the answer names the id, and every line the api wrote carries it
    assert headers["x-correlation-id"] == CLIENT_ID
    assert api_lines
    assert {line.get("correlation_id") for line in api_lines} == {CLIENT_ID}
    # And the queue message carries it, in its body and as an attribute
    (message,) = messages
    assert json.loads(message["Body"])["correlation_id"] == CLIENT_ID
    assert message["MessageAttributes"]["correlation_id"]["StringValue"] == CLIENT_ID
    # And the worker's lines about the job carry it, from receipt to settlement
    job_lines = [line for line in worker_lines if line.get("job_id") == job_id]
    assert {line["message"] for line in job_lines} >= {"job received", "job settled"}
    assert {line.get("correlation_id") for line in worker_lines} == {CLIENT_ID}
    # And so do the job record and the InferenceCompleted event
    record = platform.dynamodb.get_item(TableName=platform.resources.jobs_table, Key={"id": {"S": job_id}})[
        "Item"
    ]
    assert record["correlation_id"]["S"] == CLIENT_ID
    (event,) = platform.completed_events()
    assert event["detail-type"] == "InferenceCompleted"
    assert event["detail"]["metadata"]["correlation_id"] == CLIENT_ID
    assert event["detail"]["detail"]["job_id"] == job_id


def test_a_malformed_correlation_id_is_replaced_by_the_gateways_request_id_not_echoed(
    platform: Platform,
) -> None:
    # Given a request whose correlation header could carry anything (here an address and spaces)
    _, headers = _submit(platform, {"X-Correlation-Id": "jane.doe@example.com please"})

    # Then the id is API Gateway's request id (what its access log names), and the header's text
    # went nowhere
    correlation_id = headers["x-correlation-id"]
    assert correlation_id == api_event("post_inference_async")["requestContext"]["requestId"]
    assert "@" not in correlation_id
    assert " " not in correlation_id
    (message,) = platform.receive()
    assert json.loads(message["Body"])["correlation_id"] == correlation_id


def test_two_requests_in_one_worker_batch_keep_their_own_ids(platform: Platform) -> None:
    # Given two requests with different ids, served in one SQS batch (one model call)
    first, _ = _submit(platform, {"X-Correlation-Id": "request-one-0001"})
    second, _ = _submit(platform, {"X-Correlation-Id": "request-two-0002"})
    messages = platform.receive()
    assert len(messages) == 2

    # When the worker serves them together
    with log_lines() as lines:
        assert platform.run_worker(messages) == set()

    # Then each job's lines carry its own request's id
    by_job = {
        job_id: {line["correlation_id"] for line in lines if line.get("job_id") == job_id}
        for job_id in (first, second)
    }
    assert by_job == {first: {"request-one-0001"}, second: {"request-two-0002"}}
    assert [len(call) for call in platform.endpoint.calls] == [2]
