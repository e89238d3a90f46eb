"""api → SQS → worker → DynamoDB, with SQS's at-least-once delivery played against it."""

from __future__ import annotations

from tests.functional.conftest import Platform
from tests.sample_events import api_event


def _submit_async(platform: Platform, text: str) -> str:
    body = {"route": "intent", "input": {"text": text}, "mode": "async"}
    status, answer, headers = platform.call(api_event("post_inference_async", body=body))
    assert status == 202, answer
    assert answer["status"] == "queued"
    assert headers["location"] == f"/v1/inferences/{answer['id']}"
    return str(answer["id"])


def test_hundred_async_requests_all_succeed_with_one_invocation_each_despite_duplicates(
    platform: Platform,
) -> None:
    # Given 100 accepted async requests
    texts = [f"where is my card number {i}" for i in range(100)]
    job_ids = [_submit_async(platform, text) for text in texts]
    assert {platform.job(job_id)["status"] for job_id in job_ids} == {"queued"}

    # And SQS delivering some messages twice in one batch, and served messages again later
    first_batch = platform.receive()
    platform.run_worker(first_batch + first_batch[:3])

    # When the worker drains the queue, then sees the already-served messages again
    platform.drain()
    for message in first_batch:
        platform.sqs.send_message(
            QueueUrl=platform.resources.routes["intent"].queue_url, MessageBody=message["Body"]
        )
    assert platform.drain() == len(first_batch)

    # Then every job succeeded with an output, and the model saw each input exactly once
    for job_id in job_ids:
        job = platform.job(job_id)
        assert job["status"] == "succeeded"
        assert job["output"]["intents"][0]["label"] == "card_arrival"
        assert job["variant"] == "AllTraffic"
        assert job["model_version"] == "fake-1"
    assert set(platform.endpoint.invocations_per_text) == set(texts)
    assert max(platform.endpoint.invocations_per_text.values()) == 1


def test_worker_micro_batches_same_route_jobs_into_one_model_call(platform: Platform) -> None:
    # Given eight queued jobs (the route's batch size)
    for i in range(8):
        _submit_async(platform, f"top up {i}")

    # When one SQS batch of eight is delivered
    messages = platform.receive() + platform.receive()
    assert platform.run_worker(messages[:8]) == set()

    # Then the model was called once, with all eight inputs
    assert [len(call) for call in platform.endpoint.calls] == [8]


def test_completed_jobs_publish_a_versioned_event_without_payloads(platform: Platform) -> None:
    # Given a job served by the worker
    job_id = _submit_async(platform, "my card is not working")
    platform.drain()

    # When a consumer reads the bus
    events = platform.completed_events()

    # Then it sees one InferenceCompleted in the versioned envelope, with ids and no text
    assert len(events) == 1
    event = events[0]
    assert event["source"] == "sluice"
    assert event["detail-type"] == "InferenceCompleted"
    assert event["detail"]["metadata"]["name"] == "InferenceCompleted"
    assert event["detail"]["metadata"]["version"] == 1
    assert event["detail"]["detail"]["job_id"] == job_id
    assert event["detail"]["detail"]["status"] == "succeeded"
    assert "my card" not in str(event)


def test_a_micro_batch_announces_its_jobs_in_one_put_events_per_ten(platform: Platform) -> None:
    # Given eight queued jobs in one SQS batch
    job_ids = {_submit_async(platform, f"card declined {i}") for i in range(8)}
    messages = platform.receive() + platform.receive()
    put_events: list[int] = []
    platform.events.meta.events.register(
        "before-parameter-build.events.PutEvents",
        lambda params, **_: put_events.append(len(params["Entries"])),
    )

    # When the worker serves them
    assert platform.run_worker(messages[:8]) == set()

    # Then one PutEvents carried all eight InferenceCompleted events, and a consumer sees each once
    assert put_events == [8]
    assert sorted(e["detail"]["detail"]["job_id"] for e in platform.completed_events()) == sorted(job_ids)


def _dynamodb_writes(platform: Platform) -> list[str]:
    writes: list[str] = []
    for operation in ("PutItem", "UpdateItem", "BatchWriteItem", "TransactWriteItems"):
        platform.dynamodb.meta.events.register(
            f"before-parameter-build.dynamodb.{operation}", lambda _op=operation, **_: writes.append(_op)
        )
    return writes


def test_a_micro_batch_marks_its_events_published_with_one_write_not_one_per_job(platform: Platform) -> None:
    # Given eight queued jobs in one SQS batch
    job_ids = [_submit_async(platform, f"exchange rate {i}") for i in range(8)]
    messages = platform.receive() + platform.receive()
    writes = _dynamodb_writes(platform)

    # When the worker serves them
    assert platform.run_worker(messages[:8]) == set()

    # Then each job cost a claim and a result (UpdateItem), and the eight events one marker (PutItem)
    assert sorted(writes) == ["PutItem"] + ["UpdateItem"] * 16
    assert {platform.job(job_id)["status"] for job_id in job_ids} == {"succeeded"}
    assert len(platform.completed_events()) == 8


def test_a_redelivered_job_is_announced_again_only_if_its_marker_was_never_written(
    platform: Platform,
) -> None:
    # Given two jobs served in one micro-batch, their events published
    job_ids = [_submit_async(platform, f"pin change {i}") for i in range(2)]
    messages = platform.receive()
    assert platform.run_worker(messages) == set()
    assert len(platform.completed_events()) == 2
    table = platform.resources.jobs_table

    # When SQS delivers them again: then nothing is published twice
    for message in messages:
        platform.sqs.send_message(
            QueueUrl=platform.resources.routes["intent"].queue_url, MessageBody=message["Body"]
        )
    assert platform.drain() == 2
    assert platform.completed_events() == []

    # And when the worker had died after PutEvents but before the marker, redelivery announces again
    announcement = platform.dynamodb.get_item(TableName=table, Key={"id": {"S": job_ids[0]}})["Item"][
        "announcement"
    ]
    platform.dynamodb.delete_item(TableName=table, Key={"id": {"S": f"announcement#{announcement['S']}"}})
    for message in messages:
        platform.sqs.send_message(
            QueueUrl=platform.resources.routes["intent"].queue_url, MessageBody=message["Body"]
        )
    assert platform.drain() == 2
    assert sorted(e["detail"]["detail"]["job_id"] for e in platform.completed_events()) == sorted(job_ids)
