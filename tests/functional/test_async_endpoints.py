"""Asynchronous endpoints: S3 in, InvokeEndpointAsync, SNS success/error → async_result → job record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from sluice.adapters.eventbridge import EventBridgePublisher
from sluice.config import DeploymentConfig, EndpointConfig, RouteConfig
from sluice.errors import EndpointUnavailable
from sluice.jobs import async_results
from tests.functional.conftest import Platform, start_platform
from tests.sample_events import api_event

CHAT = EndpointConfig(mode="async", wire_format="hf-tgi", accepts_batches=False, variant_name="llm")
CONFIG = DeploymentConfig(
    routes=(
        RouteConfig(name="intent"),
        RouteConfig(name="chat", endpoint=CHAT, required_text_fields=("inputs",), max_receive_count=2),
    )
)


@pytest.fixture
def chat() -> Iterator[Platform]:
    with start_platform(CONFIG) as platform:
        yield platform


def _submit(platform: Platform, prompt: str) -> str:
    body = {
        "route": "chat",
        "input": {"inputs": prompt, "parameters": {"max_new_tokens": 64}},
        "mode": "async",
    }
    status, answer, _ = platform.call(api_event("post_inference_async", body=body))
    assert status == 202, answer
    return str(answer["id"])


def test_a_chat_job_goes_through_s3_and_the_success_topic_to_its_record(chat: Platform) -> None:
    # Given two queued chat jobs
    job_ids = [_submit(chat, "Summarise my last three card payments"), _submit(chat, "Write a haiku")]

    # When the worker hands them to the async endpoint: one inference each (no batching for TGI)
    assert chat.drain("chat") == 2
    assert len(chat.async_endpoint.queued) == 2
    # with the route's invocation timeout, so SageMaker neither gives up early nor waits forever
    assert chat.async_endpoint.timeouts == [CHAT.async_inference.invocation_timeout_seconds] * 2
    assert {chat.job(job_id)["status"] for job_id in job_ids} == {"running"}
    _, input_location, _ = chat.async_endpoint.queued[0]
    bucket, key = input_location[5:].split("/", 1)
    written = json.loads(chat.s3().get_object(Bucket=bucket, Key=key)["Body"].read())
    assert set(written) == {"inputs", "parameters"}  # the LLM container's own request shape

    # And the endpoint finishes them and notifies the success topic
    chat.async_endpoint.run_queued()
    assert chat.deliver_async_results() == set()

    # Then each job succeeded with its generation, and says where it ran
    for job_id in job_ids:
        job = chat.job(job_id)
        assert job["status"] == "succeeded"
        assert job["output"]["generated_text"].startswith("stand-in reply")
        assert (job["endpoint"], job["variant"]) == ("sluice-local-chat", "llm")


def test_an_error_notification_fails_the_job_once_even_when_delivered_twice(chat: Platform) -> None:
    job_id = _submit(chat, "Explain my statement")
    chat.drain("chat")
    queued = list(chat.async_endpoint.queued)

    # When the endpoint fails the inference, and SNS delivers the notification twice
    chat.async_endpoint.run_queued(fail=True)
    chat.async_endpoint.queued = queued
    chat.async_endpoint.run_queued(fail=True)
    assert chat.deliver_async_results() == set()

    # Then the job failed with a stable code and one InferenceCompleted event
    job = chat.job(job_id)
    assert (job["status"], job["error"]["code"]) == ("failed", "ASYNC_INFERENCE_FAILED")
    events = chat.completed_events()
    assert [e["detail"]["detail"]["job_id"] for e in events] == [job_id]


def test_a_throttled_async_submission_is_retried_then_fails_on_the_last_delivery(chat: Platform) -> None:
    chat.async_endpoint.failure = lambda _endpoint: EndpointUnavailable("throttled")
    job_id = _submit(chat, "Hello")

    messages = chat.receive("chat")
    assert chat.run_worker(messages, "chat") == {messages[0]["MessageId"]}
    assert chat.job(job_id)["status"] == "queued"

    last = [{**m, "Attributes": {**m["Attributes"], "ApproximateReceiveCount": "2"}} for m in messages]
    assert chat.run_worker(last, "chat") == set()
    assert chat.job(job_id)["error"]["code"] == "ENDPOINT_UNAVAILABLE"


def test_a_sync_request_to_an_async_route_is_refused_with_a_clear_code(chat: Platform) -> None:
    body = {"route": "chat", "input": {"inputs": "hi"}, "mode": "sync"}
    status, answer, _ = chat.call(api_event("post_inference_sync", body=body))
    assert (status, answer["error"]["code"]) == (400, "ASYNC_ONLY_ROUTE")


def test_the_sweeper_finishes_jobs_whose_notification_was_lost_and_only_once(chat: Platform) -> None:
    # Given two chat jobs whose inferences ran, but whose notifications never arrived
    job_ids = [_submit(chat, "Summarise my statement"), _submit(chat, "Translate this")]
    chat.drain("chat")
    chat.async_endpoint.run_queued(lose_notifications=True)
    assert chat.deliver_async_results() == set()
    assert {chat.job(job_id)["status"] for job_id in job_ids} == {"running"}

    # When the sweeper runs within the grace period, it leaves them to their notification
    assert chat.sweeper.sweep().completed == 0

    # And when it runs after it, it finishes each from its output in S3
    chat.clock.advance(301)
    swept = chat.sweeper.sweep()

    # Then both succeeded with their generation, announced once; a second sweep finds nothing
    assert (swept.completed, swept.failed) == (2, 0)
    for job_id in job_ids:
        job = chat.job(job_id)
        assert job["status"] == "succeeded"
        assert "generated_text" in json.dumps(job["output"])
    assert sorted(e["detail"]["detail"]["job_id"] for e in chat.completed_events()) == sorted(job_ids)
    assert chat.sweeper.sweep() == type(swept)(completed=0, failed=0, waiting=0)


def test_the_sweeper_fails_a_job_once_sagemaker_can_no_longer_answer_it(chat: Platform) -> None:
    # Given a chat job handed to the endpoint, which never ran it and sent nothing
    job_id = _submit(chat, "Are you there?")
    chat.drain("chat")

    # When the request's time in SageMaker's queue and its invocation timeout have passed
    chat.clock.advance(301)
    assert chat.sweeper.sweep().waiting == 1
    chat.clock.advance(6 * 3600 + CHAT.async_inference.invocation_timeout_seconds)

    # Then the sweeper fails it with a reason, once
    assert chat.sweeper.sweep().failed == 1
    job = chat.job(job_id)
    assert job["status"] == "failed"
    assert job["error"]["code"] == "ASYNC_INFERENCE_FAILED"


def test_a_late_notification_after_the_sweeper_announces_nothing_again(chat: Platform) -> None:
    # Given a job whose inference ran and whose notification is late: the sweeper finishes it first
    job_id = _submit(chat, "Summarise my statement")
    chat.drain("chat")
    chat.async_endpoint.run_queued()
    chat.clock.advance(301)
    assert chat.sweeper.sweep().completed == 1

    # When the notification arrives moments later
    late = chat.deliver_async_results()

    # Then it finds the sweeper's announcement and is done: one event, not two
    assert late == set()
    assert [e["detail"]["detail"]["job_id"] for e in chat.completed_events()] == [job_id]
    assert chat.completed_events() == []


def test_a_job_whose_finisher_died_before_its_event_is_announced_by_the_other(
    chat: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a late notification and a sweeper that dies between finishing the job and its event
    job_id = _submit(chat, "Translate this")
    chat.drain("chat")
    chat.async_endpoint.run_queued()
    chat.clock.advance(301)

    def bus_down(*_: object) -> None:
        raise ConnectionError("the bus is unreachable")

    with monkeypatch.context() as during_the_sweep:
        during_the_sweep.setattr(EventBridgePublisher, "publish_all", bus_down)
        chat.sweeper.sweep()  # logs the inference it could not finish and sweeps on
    assert chat.job(job_id)["status"] == "succeeded"

    # When the notification is handled at once, and again after the settle time
    assert len(chat.deliver_async_results()) == 1
    monkeypatch.setattr(async_results, "SETTLE", timedelta(0))
    chat.redeliver_async_results()
    assert chat.deliver_async_results() == set()

    # Then the job is announced exactly once
    assert [e["detail"]["detail"]["job_id"] for e in chat.completed_events()] == [job_id]


def test_an_error_notification_delivered_twice_at_once_is_announced_once(
    chat: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a chat job whose inference failed on the endpoint
    job_id = _submit(chat, "Explain my statement")
    chat.drain("chat")
    chat.async_endpoint.run_queued(fail=True)
    handled: list[async_results.AsyncNotification] = []
    handle = async_results.AsyncResults.handle

    def remembering(self: async_results.AsyncResults, notification: async_results.AsyncNotification) -> None:
        handled.append(notification)
        handle(self, notification)

    publish = EventBridgePublisher.publish_all
    overlapped: list[bool] = []

    def after_a_second_delivery(self: EventBridgePublisher, events: Any) -> list[bool]:
        # The notification's duplicate arrives between the first delivery's write and its event
        if not overlapped:
            overlapped.append(True)
            with pytest.raises(async_results.FinishedElsewhere):
                handle(chat.async_results, handled[0])
        return publish(self, events)

    monkeypatch.setattr(async_results.AsyncResults, "handle", remembering)
    monkeypatch.setattr(EventBridgePublisher, "publish_all", after_a_second_delivery)

    # When the first delivery finishes the job
    assert chat.deliver_async_results() == set()

    # Then the duplicate left it to the first: one event (a failed job carries its announcer too)
    assert overlapped == [True]
    assert [e["detail"]["detail"]["job_id"] for e in chat.completed_events()] == [job_id]
