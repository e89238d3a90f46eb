"""Fault injection on the request path and the worker: retries, the breaker, the fallback route.

The endpoints are fakes with scripted failures (throttling, 424 from the model, timeouts, a dead
endpoint); the breakers are shared through DynamoDB (moto) and every clock is a fake one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sluice.config import BreakerConfig, DeploymentConfig, EndpointConfig, RouteConfig, VariantConfig
from sluice.errors import EndpointTimeout, EndpointUnavailable, ModelRejectedInput, SluiceError
from sluice.routing.breaker import CircuitState
from tests.functional.conftest import Platform, start_platform
from tests.sample_events import api_event

# A second variant is a second model version (sluice.config refuses two fleets of one artifact).
GREEN_MODEL = "s3://models/intent-green/model.tar.gz"

PRIMARY = "sluice-local-intent"
BACKUP = "sluice-local-intent-backup"
CONFIG = DeploymentConfig(
    routes=(
        RouteConfig(
            name="intent",
            time_budget_ms=2000,
            max_receive_count=3,
            fallback=("intent-backup",),
            endpoint=EndpointConfig(
                variants=(
                    VariantConfig(name="blue", weight=9),
                    VariantConfig(name="green", weight=1, model_data_url=GREEN_MODEL),
                )
            ),
        ),
        RouteConfig(name="intent-backup", time_budget_ms=2000),
    ),
    breaker=BreakerConfig(failure_threshold=3, window_seconds=10, open_seconds=30),
)


@pytest.fixture
def routed() -> Iterator[Platform]:
    with start_platform(CONFIG) as platform:
        yield platform


def _script(platform: Platform, failures: dict[str, Callable[[], SluiceError | None]]) -> None:
    platform.endpoint.endpoint_failures = lambda endpoint, _variant: (
        failures[endpoint]() if endpoint in failures else None
    )


def _always(error: SluiceError) -> Callable[[], SluiceError]:
    return lambda: error


def _first(count: int, error: SluiceError) -> Callable[[], SluiceError | None]:
    remaining = iter([error] * count)
    return lambda: next(remaining, None)


def _sync(platform: Platform, text: str = "where is my card") -> tuple[int, dict[str, Any], dict[str, str]]:
    body = {"route": "intent", "input": {"text": text}, "mode": "sync"}
    return platform.call(api_event("post_inference_sync", body=body))


def _endpoints_called(platform: Platform) -> list[str]:
    return [endpoint for endpoint, _ in platform.endpoint.targets]


def test_throttling_is_retried_with_jittered_backoff_inside_the_budget(routed: Platform) -> None:
    # Given an endpoint that throttles twice, then answers
    _script(routed, {PRIMARY: _first(2, EndpointUnavailable("throttled"))})

    # When a sync request comes in
    status, body, _ = _sync(routed)

    # Then it is answered by the route's own endpoint after two backed-off retries
    assert status == 200, body
    assert body["endpoint"] == PRIMARY
    assert _endpoints_called(routed) == [PRIMARY] * 3
    assert len(routed.clock.slept) == 2
    assert all(0 <= delay <= 0.1 for delay in routed.clock.slept)
    assert routed.breaker.state(PRIMARY) is CircuitState.CLOSED  # two failures: under the threshold


def test_a_424_client_error_from_the_model_is_neither_retried_nor_sent_to_the_fallback(
    routed: Platform,
) -> None:
    _script(routed, {PRIMARY: _always(ModelRejectedInput("The model rejected the input (status 400)"))})

    status, body, _ = _sync(routed)

    assert (status, body["error"]["code"]) == (422, "MODEL_REJECTED_INPUT")
    assert _endpoints_called(routed) == [PRIMARY]
    assert routed.breaker.state(PRIMARY) is CircuitState.CLOSED


def test_a_timeout_that_uses_the_whole_budget_answers_504_with_retry_after(routed: Platform) -> None:
    # Given an endpoint whose call takes the route's whole 2 s budget, then times out
    def slow() -> SluiceError:
        routed.clock.advance(2.0)
        return EndpointTimeout("Endpoint did not answer in time")

    _script(routed, {PRIMARY: slow})

    # When a sync request comes in
    status, body, headers = _sync(routed)

    # Then there is no time for a retry or the fallback: 504 with a code and Retry-After
    assert (status, body["error"]["code"]) == (504, "ENDPOINT_TIMEOUT")
    assert int(headers["retry-after"]) >= 1
    assert _endpoints_called(routed) == [PRIMARY]


def test_a_dead_endpoint_opens_its_breaker_the_fallback_serves_and_recovery_closes_it(
    routed: Platform,
) -> None:
    # Given a dead primary endpoint
    dead = {"down": True}
    _script(routed, {PRIMARY: lambda: EndpointUnavailable("unreachable") if dead["down"] else None})

    # When a request comes in: three failed attempts open the breaker and the fallback serves
    status, body, _ = _sync(routed)
    assert status == 200, body
    assert (body["route"], body["endpoint"]) == ("intent", BACKUP)
    # on the fallback's own variant: the primary's (blue or green) does not exist there
    assert body["variant"] == "AllTraffic"
    assert routed.endpoint.targets[-1] == (BACKUP, "AllTraffic")
    assert routed.breaker.state(PRIMARY) is CircuitState.OPEN

    # Then while it is open the primary is not called at all
    routed.endpoint.targets.clear()
    assert _sync(routed)[1]["endpoint"] == BACKUP
    assert _endpoints_called(routed) == [BACKUP]

    # And after the open period a probe reaches the recovered primary and closes the breaker
    dead["down"] = False
    routed.clock.advance(30)
    status, body, _ = _sync(routed)
    assert (status, body["endpoint"]) == (200, PRIMARY)
    assert routed.breaker.state(PRIMARY) is CircuitState.CLOSED


def test_when_nothing_can_serve_the_client_gets_503_with_retry_after_and_a_clear_code(
    routed: Platform,
) -> None:
    # Given both the route's endpoint and its fallback dead
    _script(
        routed, {PRIMARY: _always(EndpointUnavailable("down")), BACKUP: _always(EndpointUnavailable("down"))}
    )

    # When a first request exhausts both, and a second comes while both circuits are open
    first_status, first, first_headers = _sync(routed)
    second_status, second, second_headers = _sync(routed)

    # Then the first says the endpoint is unavailable, the second that the circuits are open
    assert (first_status, first["error"]["code"]) == (503, "ENDPOINT_UNAVAILABLE")
    assert int(first_headers["retry-after"]) >= 1
    assert (second_status, second["error"]["code"]) == (503, "ENDPOINT_CIRCUIT_OPEN")
    assert 1 <= int(second_headers["retry-after"]) <= 30


def test_the_breaker_state_is_shared_through_dynamodb(routed: Platform) -> None:
    from sluice.adapters.dynamodb_breaker import DynamoBreakerStore
    from sluice.routing.breaker import CircuitBreaker

    # Given a second function instance with its own breaker object on the same table
    other = CircuitBreaker(
        DynamoBreakerStore(routed.dynamodb, routed.resources.breakers_table),
        CONFIG.breaker,
        clock=routed.clock,
        cache_seconds=0,
    )
    _script(routed, {PRIMARY: _always(EndpointUnavailable("down"))})

    # When this instance's requests open the circuit
    _sync(routed)

    # Then the other instance sees it open
    assert other.state(PRIMARY) is CircuitState.OPEN
    assert other.retry_after(PRIMARY) == 30


def test_every_queued_job_ends_in_exactly_one_terminal_state_under_mixed_faults(routed: Platform) -> None:
    # Given 12 queued jobs, one input the model rejects, and a primary that throttles, then dies
    texts = [f"card question {n}" for n in range(11)] + ["bad input"]
    job_ids = []
    for text in texts:
        status, answer, _ = routed.call(
            api_event(
                "post_inference_async", body={"route": "intent", "input": {"text": text}, "mode": "async"}
            )
        )
        assert status == 202
        job_ids.append(answer["id"])
    throttles = _first(2, EndpointUnavailable("throttled"))
    calls = {"n": 0}

    def primary() -> SluiceError | None:
        calls["n"] += 1
        return throttles() or (EndpointUnavailable("down") if calls["n"] > 4 else None)

    _script(routed, {PRIMARY: primary})
    routed.endpoint._failures = lambda instances: (
        ModelRejectedInput("The model rejected the input (status 400)")
        if any(item["text"] == "bad input" for item in instances)
        else None
    )

    # When the worker drains the queue (redeliveries included)
    routed.drain()

    # Then every job is final: the bad one failed with its code, the others succeeded
    jobs = {job_id: routed.job(job_id) for job_id in job_ids}
    assert jobs[job_ids[-1]]["status"] == "failed"
    assert jobs[job_ids[-1]]["error"]["code"] == "MODEL_REJECTED_INPUT"
    assert all(jobs[job_id]["status"] == "succeeded" for job_id in job_ids[:-1])
    # every job record says where it was served
    assert all(jobs[j]["endpoint"] in (PRIMARY, BACKUP) and jobs[j]["variant"] for j in job_ids[:-1])

    # And exactly one InferenceCompleted event was published per job
    published: list[str] = []
    while events := routed.completed_events():
        published += [event["detail"]["detail"]["job_id"] for event in events]
    assert sorted(published) == sorted(job_ids)
