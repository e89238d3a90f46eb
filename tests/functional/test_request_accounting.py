"""What the request path records about each request it accepts, besides the answer: the request
metric with where it ran and its time split, the job record and message of a queued request, and
a job the queue refused. Mutants of each of these survived `make mutation` (issue 19): no test
read them back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sluice.adapters.dynamodb_feedback import DynamoFeedbackStore
from sluice.config import DeploymentConfig, EndpointConfig, RouteConfig, VariantConfig
from sluice.serving import service
from tests.functional.conftest import Platform, start_platform
from tests.sample_events import api_event

TENANT = "tenant-acme"
GREEN_MODEL = "s3://sluice-models/intent/v8/model.tar.gz"
TEXT = "I still have not received my new card"
# Two variants with their own version labels; `green` has no weight, so only a request that
# names it is served there (a job that lost its variant would be served on `blue`).
TWO_VARIANTS = DeploymentConfig(
    routes=(
        RouteConfig(
            name="intent",
            endpoint=EndpointConfig(
                variants=(
                    VariantConfig(name="blue", weight=1.0, model_version="v7"),
                    VariantConfig(name="green", weight=0.0, model_version="v8", model_data_url=GREEN_MODEL),
                )
            ),
        ),
    )
)


# An even split: which variant a request lands on is the caller's key's draw.
EVEN_SPLIT = DeploymentConfig(
    routes=(
        RouteConfig(
            name="intent",
            endpoint=EndpointConfig(
                variants=(
                    VariantConfig(name="blue", weight=1.0),
                    VariantConfig(name="green", weight=1.0, model_data_url=GREEN_MODEL),
                )
            ),
        ),
    )
)


@pytest.fixture
def two_variants() -> Iterator[Platform]:
    with start_platform(TWO_VARIANTS) as platform:
        yield platform


def _emf(printed: str) -> list[dict[str, Any]]:
    """The EMF documents among what the functions printed."""
    return [json.loads(line) for line in printed.splitlines() if line.startswith('{"_aws"')]


def _request_metrics(printed: str) -> list[dict[str, Any]]:
    """The EMF documents of the `Requests` metric."""
    return [document for document in _emf(printed) if "Requests" in document]


class _RequestClock:
    """The request path's `time` (its latency clock), moving only when the test says: the model
    takes 40.1234 ms, queueing a job 5 ms, everything else no time at all. So each figure the path
    derives from it is known exactly, unit and rounding included."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def perf_counter(self) -> float:
        return self.now


def test_each_accepted_request_is_counted_where_it_ran_with_its_time_split(
    platform: Platform, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a model that takes 40.1234 ms and a queue that takes 5 ms, on the request path's clock
    clock = _RequestClock()
    monkeypatch.setattr(service, "time", clock)

    def answers_in_40_ms(instance: dict[str, Any]) -> dict[str, Any]:
        clock.now += 0.0401234
        return {"intents": [{"label": "card_arrival", "score": 0.9}]}

    platform.endpoint.answer = answers_in_40_ms
    send_message = platform.sqs.send_message

    def queues_in_5_ms(**request: Any) -> Any:
        clock.now += 0.005
        return send_message(**request)

    monkeypatch.setattr(platform.sqs, "send_message", queues_in_5_ms)

    # When a sync request and a queued one are accepted
    capsys.readouterr()
    status, answer, _ = platform.call(
        api_event("post_inference_sync", body={"route": "intent", "input": {"text": TEXT}})
    )
    queued_status, _, _ = platform.call(
        api_event("post_inference_async", body={"route": "intent", "input": {"text": TEXT}, "mode": "async"})
    )
    assert (status, queued_status) == (200, 202)
    documents = _emf(capsys.readouterr().out)
    served, accepted = [d for d in documents if "Requests" in d]

    # Then the answer is counted on the variant and version that answered, all its time the
    # model's, and the caller is told it to the hundredth of a millisecond
    assert {key: served[key] for key in ("route", "variant", "model_version", "mode")} == {
        "route": "intent",
        "variant": answer["variant"],
        "model_version": answer["model_version"],
        "mode": "sync",
    }
    assert answer["latency_ms"] == 40.12
    assert served["LatencyMs"] == pytest.approx([40.1234])
    assert served["ModelTimeMs"] == pytest.approx([40.1234])
    assert served["PlatformOverheadMs"] == pytest.approx([0.0])
    # and its output is counted for the confidence panel and alarm (0.9: not a low one)
    (outputs,) = [d for d in documents if "Outputs" in d]
    assert (outputs["route"], outputs["variant"]) == ("intent", answer["variant"])
    assert (outputs["Outputs"], outputs["LowConfidenceOutputs"]) == ([1.0], [0.0])
    # and the queued one in its mode, its 5 ms all the platform's: no model has run yet
    assert (accepted["route"], accepted["mode"]) == ("intent", "async")
    assert accepted["LatencyMs"] == pytest.approx([5.0])
    assert accepted["ModelTimeMs"] == [0.0]


def test_a_sync_request_for_a_variant_is_served_there(two_variants: Platform) -> None:
    # Given a sync request naming the variant without weight
    body = {"route": "intent", "input": {"text": TEXT}, "variant": "green"}

    # When it is answered
    status, answer, _ = two_variants.call(api_event("post_inference_sync", body=body))

    # Then that variant served it, not the one the weights pick
    assert (status, answer["variant"]) == (200, "green")
    endpoint = two_variants.resources.routes["intent"].endpoint_name
    assert two_variants.endpoint.targets == [(endpoint, "green")]


def test_a_queued_request_is_counted_on_its_variant_and_version(
    two_variants: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a queued request for the variant labelled v8
    capsys.readouterr()
    body = {"route": "intent", "input": {"text": TEXT}, "mode": "async", "variant": "green"}
    assert two_variants.call(api_event("post_inference_async", body=body))[0] == 202

    # Then its request metric names that variant and its version
    (accepted,) = _request_metrics(capsys.readouterr().out)
    assert (accepted["variant"], accepted["model_version"]) == ("green", "v8")


def test_a_queued_job_keeps_its_variant_from_acceptance_to_its_answer(two_variants: Platform) -> None:
    # Given a queued request for the variant without weight
    body = {"route": "intent", "input": {"text": TEXT}, "mode": "async", "variant": "green"}
    status, accepted, _ = two_variants.call(api_event("post_inference_async", body=body))
    assert status == 202

    # Then the job says at once where it will run, and the inference log has its variant
    job = two_variants.job(accepted["id"])
    endpoint = two_variants.resources.routes["intent"].endpoint_name
    assert (job["status"], job["endpoint"], job["variant"]) == ("queued", endpoint, "green")
    store = DynamoFeedbackStore(two_variants.dynamodb, two_variants.resources.feedback_table)
    logged = store.served(TENANT, accepted["id"])
    assert logged is not None
    assert logged.variant == "green"

    # And the worker serves it there, not where the weights would send it
    assert two_variants.drain() == 1
    served = two_variants.job(accepted["id"])
    assert (served["status"], served["variant"]) == ("succeeded", "green")


def test_a_job_the_queue_refuses_is_closed_with_its_reason_and_the_caller_refused_with_503(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a job queue that refuses every message
    def refuses(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "InternalError", "Message": "unavailable"}}, "SendMessage")

    monkeypatch.setattr(platform.sqs, "send_message", refuses)

    # When a request is queued
    body = {"route": "intent", "input": {"text": TEXT}, "mode": "async"}
    status, refusal, _ = platform.call(api_event("post_inference_async", body=body))

    # Then the caller is told it may retry, and the job it never got is closed with the reason,
    # not left queued forever
    assert (status, refusal["error"]["code"]) == (503, "ENDPOINT_UNAVAILABLE")
    (item,) = platform.dynamodb.scan(TableName=platform.resources.jobs_table)["Items"]
    job = platform.job(item["id"]["S"])
    assert job["status"] == "failed"
    assert job["error"]["code"] == "ENDPOINT_UNAVAILABLE"
    assert job["error"]["message"] == refusal["error"]["message"]


def test_a_callers_key_keeps_it_on_one_variant_and_spreads_callers_across_them() -> None:
    with start_platform(EVEN_SPLIT) as platform:
        # Given eight callers of one tenant, each sending twice with its X-Caller-Key
        served: dict[str, str] = {}
        for caller in (f"caller-{number}" for number in range(8)):
            variants = set()
            for _ in range(2):
                event = api_event(
                    "post_inference_sync",
                    body={"route": "intent", "input": {"text": TEXT}},
                    headers={"X-Caller-Key": caller},
                )
                status, answer, _ = platform.call(event)
                assert status == 200
                variants.add(answer["variant"])
            # Then each caller stays on one variant
            assert len(variants) == 1, caller
            served[caller] = variants.pop()

        # And the key, not only the tenant, decides which: the callers are spread over both
        assert set(served.values()) == {"blue", "green"}


def test_the_inference_log_keeps_input_only_for_routes_that_learn_from_feedback(platform: Platform) -> None:
    # Given a sync answer on a route that learns from feedback and one on a route that does not
    learns = set(platform.config.lifecycle.routes)
    assert "intent" in learns
    assert "support" not in learns
    text = "Jane Doe here, my card never came"
    ids = {}
    for route in ("intent", "support"):
        body = {"route": route, "input": {"text": text}}
        status, answer, _ = platform.call(api_event("post_inference_sync", body=body))
        assert status == 200
        ids[route] = answer["id"]

    # Then both are in the inference log, answered, so that feedback can find them
    store = DynamoFeedbackStore(platform.dynamodb, platform.resources.feedback_table)
    learning, rating_only = store.served(TENANT, ids["intent"]), store.served(TENANT, ids["support"])
    assert learning is not None
    assert rating_only is not None
    assert learning.answered
    assert rating_only.answered
    # And only the learning route's record keeps the (redacted) input, as training data
    assert "card never came" in learning.input["text"]
    assert "Jane Doe" not in learning.input["text"]
    assert rating_only.input == {}
