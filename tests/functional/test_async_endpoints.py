"""Asynchronous endpoints: S3 in, InvokeEndpointAsync, SNS success/error → async_result → job record."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from sluice.config import DeploymentConfig, EndpointConfig, RouteConfig
from sluice.errors import EndpointUnavailable
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
