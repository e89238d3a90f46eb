"""The local platform end to end, over HTTP, with the real model."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import RunningPlatform

pytestmark = pytest.mark.e2e
CARD = {"route": "intent", "input": {"text": "I still have not received my new card"}}


def test_health_answers_without_a_key(running_platform: RunningPlatform) -> None:
    response = running_platform.http.get("/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_openapi_document_describes_the_inference_routes(running_platform: RunningPlatform) -> None:
    document = running_platform.http.get("/v1/openapi.json").json()
    assert "/v1/inferences" in document["paths"]
    assert "/v1/inferences/{job_id}" in document["paths"]


def test_sync_inference_finds_the_card_arrival_intent(running_platform: RunningPlatform) -> None:
    response = running_platform.post({**CARD, "mode": "sync"})

    assert response.status_code == 200, response.text
    body = response.json()
    labels = [intent["label"] for intent in body["output"]["intents"]]
    assert "card_arrival" in labels[:3]
    assert all(0.0 <= intent["score"] <= 1.0 for intent in body["output"]["intents"])
    assert body["route"] == "intent"
    assert body["variant"] == "primary"  # dev runs one variant until a second model version exists


def test_async_inference_runs_to_succeeded_with_output(running_platform: RunningPlatform) -> None:
    accepted = running_platform.post({**CARD, "mode": "async"})
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["id"]

    event = running_platform.wait_for_completion(job_id)
    assert event["status"] == "succeeded"

    job = running_platform.http.get(
        f"/v1/inferences/{job_id}", headers={"x-api-key": running_platform.outputs["ApiKey"]}
    ).json()
    assert job["status"] == "succeeded"
    assert "card_arrival" in [intent["label"] for intent in job["output"]["intents"]][:3]


def test_a_caller_key_keeps_a_variant_and_target_variant_picks_one(running_platform: RunningPlatform) -> None:
    pinned = {
        running_platform.post({**CARD, "mode": "sync"}, **{"X-Caller-Key": "e2e-caller"}).json()["variant"]
        for _ in range(5)
    }
    explicit = running_platform.post({**CARD, "mode": "sync", "variant": "primary"})
    unknown = running_platform.post({**CARD, "mode": "sync", "variant": "canary"})

    assert len(pinned) == 1
    assert (explicit.status_code, explicit.json()["variant"]) == (200, "primary")
    # no canary without a second model version: naming one is the caller's error, not a 5xx
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "UNKNOWN_VARIANT")


def test_chat_runs_through_the_async_endpoint_s3_and_sns_to_succeeded(
    running_platform: RunningPlatform,
) -> None:
    # The local chat model is a labelled stand-in (no LLM offline); the path around it is the real one.
    accepted = running_platform.post(
        {"route": "chat", "input": {"inputs": "Say hello to the team"}, "mode": "async"}
    )
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["id"]

    event = running_platform.wait_for_completion(job_id)

    assert event["status"] == "succeeded", event
    job = running_platform.http.get(
        f"/v1/inferences/{job_id}", headers={"x-api-key": running_platform.outputs["ApiKey"]}
    ).json()
    assert job["output"]["generated_text"].startswith("[local-standin-not-an-llm]")
    assert (job["endpoint"], job["variant"]) == ("sluice-local-chat", "llm")


def test_idempotent_retry_returns_the_same_job(running_platform: RunningPlatform) -> None:
    first = running_platform.post({**CARD, "mode": "async"}, **{"Idempotency-Key": "e2e-retry-1"})
    second = running_platform.post({**CARD, "mode": "async"}, **{"Idempotency-Key": "e2e-retry-1"})

    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert second.headers.get("idempotent-replayed") == "true"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"route": "intent"}, 400, "INVALID_REQUEST"),
        ({"route": "weather", "input": {"text": "hi"}}, 400, "UNKNOWN_ROUTE"),
        ({**CARD, "mode": "later"}, 400, "INVALID_REQUEST"),
    ],
)
def test_bad_input_is_a_clear_4xx(
    running_platform: RunningPlatform, body: dict[str, object], status: int, code: str
) -> None:
    response = running_platform.post(body)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_malformed_json_and_missing_key_are_rejected(running_platform: RunningPlatform) -> None:
    malformed = running_platform.http.post(
        "/v1/inferences",
        content=b'{"route": "intent", ',
        headers={"x-api-key": running_platform.outputs["ApiKey"], "content-type": "application/json"},
    )
    assert (malformed.status_code, malformed.json()["error"]["code"]) == (400, "MALFORMED_JSON")

    not_utf8 = running_platform.http.post(
        "/v1/inferences",
        content=b'{"route": "intent", "input": {"text": "card \xff lost"}, "mode": "sync"}',
        headers={"x-api-key": running_platform.outputs["ApiKey"], "content-type": "application/json"},
    )
    assert (not_utf8.status_code, not_utf8.json()["error"]["code"]) == (400, "MALFORMED_JSON")

    no_key = running_platform.post({**CARD, "mode": "sync"}, key=False)
    assert (no_key.status_code, no_key.json()["error"]["code"]) == (403, "INVALID_API_KEY")


def test_any_method_gets_the_api_envelope(running_platform: RunningPlatform) -> None:
    # TRACE reached the web framework's plain-text 405 before; every method now reaches the API
    response = running_platform.http.request(
        "TRACE", "/v1/inferences", headers={"x-api-key": running_platform.outputs["ApiKey"]}
    )
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert response.headers["allow"] == "POST"
