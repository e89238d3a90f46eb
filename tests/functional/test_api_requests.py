"""The api handler's contract on moto: idempotency, job visibility, and bad input."""

from __future__ import annotations

import io

import pytest

from tests.functional.conftest import Platform
from tests.sample_events import api_event

ASYNC = {"route": "intent", "input": {"text": "Why was I charged twice?"}, "mode": "async"}


def test_same_idempotency_key_and_body_returns_the_first_answer(platform: Platform) -> None:
    # Given a POST with an Idempotency-Key
    event = api_event("post_inference_idempotent", body=ASYNC)

    # When the client retries it
    first = platform.call(event)
    second = platform.call(event)

    # Then both answers are the same job, the retry is marked, and only one job was queued
    assert first[0] == second[0] == 202
    assert first[1]["id"] == second[1]["id"]
    assert second[2].get("idempotent-replayed") == "true"
    assert len(platform.receive()) == 1


def test_same_idempotency_key_with_another_body_is_rejected(platform: Platform) -> None:
    # Given a key already used
    platform.call(api_event("post_inference_idempotent", body=ASYNC))

    # When it is reused with a different body
    other = {**ASYNC, "input": {"text": "something else entirely"}}
    status, body, _ = platform.call(api_event("post_inference_idempotent", body=other))

    # Then the caller gets a clear 422
    assert status == 422
    assert body["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_a_job_is_invisible_to_other_tenants(platform: Platform) -> None:
    # Given a job of tenant-acme
    _, accepted, _ = platform.call(api_event("post_inference_async", body=ASYNC))

    # When another tenant asks for it
    from tests.functional.conftest import _get_event

    response = platform.app.resolve(_get_event(accepted["id"], "tenant-globex"), None)

    # Then it does not exist for them
    assert response["statusCode"] == 404
    assert '"JOB_NOT_FOUND"' in response["body"]


def test_sync_request_answers_with_where_it_was_served(platform: Platform) -> None:
    status, body, _ = platform.call(api_event("post_inference_sync"))

    assert status == 200
    assert body["route"] == "intent"
    assert body["endpoint"] == "sluice-local-intent"
    assert body["variant"] == "AllTraffic"
    assert body["model_version"] == "fake-1"
    assert body["output"]["intents"][0]["label"] == "card_arrival"


@pytest.mark.parametrize(
    ("raw_body", "headers", "status", "code"),
    [
        ('{"route": "intent", "input": {"text": "x"', None, 400, "MALFORMED_JSON"),
        ('{"route": "intent"}', None, 400, "INVALID_REQUEST"),
        ('{"route": "intent", "input": "just text"}', None, 400, "INVALID_REQUEST"),
        ('{"route": 7, "input": {"text": "x"}}', None, 400, "INVALID_REQUEST"),
        ('{"route": "nope", "input": {"text": "x"}}', None, 400, "UNKNOWN_ROUTE"),
        ('{"route": "intent", "input": {"text": "x"}, "mode": "batch"}', None, 400, "INVALID_REQUEST"),
        ('{"route": "intent", "input": {"text": ""}}', None, 400, "INVALID_REQUEST"),
        ('{"route": "intent", "input": {"text": "x"}, "extra": 1}', None, 400, "INVALID_REQUEST"),
        ("[1, 2, 3]", None, 400, "INVALID_REQUEST"),
        (
            '{"route": "intent", "input": {"text": "x"}}',
            {"Content-Type": "text/plain"},
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            "route=intent",
            {"Content-Type": "application/x-www-form-urlencoded"},
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        ('{"route": "intent", "input": {"text": "%s"}}' % ("a" * 300_000), None, 413, "INPUT_TOO_LARGE"),
        ('{"route": "intent", "input": {"text": "%s"}}' % ("a" * 600_000), None, 413, "INPUT_TOO_LARGE"),
    ],
)
def test_bad_input_gets_a_4xx_with_a_stable_code_and_is_never_logged(
    platform: Platform,
    captured_logs: io.StringIO,
    raw_body: str,
    headers: dict[str, str] | None,
    status: int,
    code: str,
) -> None:
    # Given a request carrying a recognisable secret
    secret = "jane.doe@example.com"
    raw = raw_body.replace('"x"', f'"{secret}"')

    # When it is sent
    answer_status, answer, _ = platform.call(api_event("post_inference_sync", raw_body=raw, headers=headers))

    # Then it is rejected with the stable code, logged by code, and the secret appears in no log line
    assert (answer_status, answer["error"]["code"]) == (status, code)
    assert answer["error"]["message"]
    logs = captured_logs.getvalue()
    assert f'"error_code":"{code}"' in logs
    assert secret not in logs
    assert platform.endpoint.calls == []


def test_idempotency_key_must_be_well_formed(platform: Platform) -> None:
    event = api_event("post_inference_idempotent", body=ASYNC, headers={"Idempotency-Key": "has spaces!"})
    status, body, _ = platform.call(event)
    assert (status, body["error"]["code"]) == (400, "INVALID_REQUEST")


def test_an_idempotency_key_is_the_tenants_own(platform: Platform) -> None:
    # Given tenant-acme's request under an Idempotency-Key
    event = api_event("post_inference_idempotent", body=ASYNC)
    _, first, _ = platform.call(event)

    # When another tenant sends the same key with the same body
    status, second, headers = platform.call(
        api_event("post_inference_idempotent", body=ASYNC, tenant="tenant-globex")
    )

    # Then it gets a job of its own, not a replay of the first tenant's answer
    assert status == 202
    assert second["id"] != first["id"]
    assert "idempotent-replayed" not in headers
    assert len(platform.receive()) == 2


@pytest.mark.parametrize("query", [None, {"reveal": "true"}, {"reveal": "false"}])
def test_another_tenants_job_is_not_found_on_every_read_path(
    platform: Platform, query: dict[str, str] | None
) -> None:
    # Given a job of tenant-acme
    _, accepted, _ = platform.call(api_event("post_inference_async", body=ASYNC))
    from tests.functional.conftest import _get_event

    # When another tenant reads it, plainly or asking to re-identify it
    event = _get_event(accepted["id"], "tenant-globex")
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in (query or {}).items()} or None
    response = platform.app.resolve(event, None)

    # Then it is a 404, indistinguishable from a job that never existed (not a 403 that confirms it)
    assert response["statusCode"] == 404
    assert '"JOB_NOT_FOUND"' in response["body"]
