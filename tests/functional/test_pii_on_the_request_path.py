"""Personal data never reaches the model, a queue or a log unless the route allows it."""

from __future__ import annotations

import io
import json

import pytest

from sluice import pii
from sluice.observability import logger
from tests.functional.conftest import Platform, _get_event
from tests.sample_events import api_event

TEXT = "Hi, I'm John Smith (john.smith@example.com, +44 20 7946 0958) and my card never came"


def test_the_model_sees_redacted_text_and_the_caller_gets_counts_not_values(platform: Platform) -> None:
    # Given a request full of personal data
    body = {"route": "intent", "input": {"text": TEXT}, "mode": "sync"}

    # When it is served
    status, answer, _ = platform.call(api_event("post_inference_sync", body=body))

    # Then the model saw placeholders only, and the response counts what was removed
    assert status == 200
    seen = platform.endpoint.calls[0][0]["text"]
    assert "john.smith@example.com" not in seen
    assert "John Smith" not in seen
    assert "<EMAIL_ADDRESS>" in seen
    assert answer["pii"] == {"PERSON": 1, "EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}
    assert "john" not in json.dumps(answer["pii"]).lower()


def test_queued_jobs_carry_redacted_input_only(platform: Platform) -> None:
    body = {"route": "intent", "input": {"text": TEXT}, "mode": "async"}
    platform.call(api_event("post_inference_async", body=body))

    message = platform.receive()[0]["Body"]

    assert "john.smith@example.com" not in message
    assert "<EMAIL_ADDRESS>" in message


def test_a_route_can_opt_out_per_entity_type_and_pseudonymize_others(platform: Platform) -> None:
    # Given the support route: emails allowed, names pseudonymized
    body = {"route": "support", "input": {"text": TEXT}, "mode": "sync"}

    # When it is served
    status, answer, _ = platform.call(api_event("post_inference_sync", body=body))

    # Then the email reached the model, the name became a stable token, the phone was masked
    assert status == 200
    seen = platform.endpoint.calls[0][0]["text"]
    assert "john.smith@example.com" in seen
    assert "John Smith" not in seen
    assert "<PERSON_" in seen
    assert "<PHONE_NUMBER>" in seen
    assert answer["pii"] == {"PERSON": 1, "PHONE_NUMBER": 1}


def test_only_tenants_with_the_reveal_permission_get_pseudonyms_back(platform: Platform) -> None:
    # Given a support job per tenant, served by a model that echoes its input
    body = {"route": "support", "input": {"text": TEXT}, "mode": "async"}
    _, acme_job, _ = platform.call(api_event("post_inference_async", body=body))
    _, globex_job, _ = platform.call(api_event("post_inference_async", body=body, tenant="tenant-globex"))
    platform.drain("support")

    # When each asks for the output with reveal=true
    acme = _get_event(acme_job["id"], "tenant-acme")
    acme["queryStringParameters"] = {"reveal": "true"}
    acme["multiValueQueryStringParameters"] = {"reveal": ["true"]}
    globex = _get_event(globex_job["id"], "tenant-globex")
    globex["queryStringParameters"] = {"reveal": "true"}
    globex["multiValueQueryStringParameters"] = {"reveal": ["true"]}

    # Then acme (allowed) sees the name again; globex (not allowed) is refused
    acme_status, acme_view, _ = platform.call(acme)
    assert acme_status == 200
    assert "John Smith" in acme_view["output"]["echo"]
    globex_status, refusal, _ = platform.call(globex)
    assert (globex_status, refusal["error"]["code"]) == (403, "PII_REVEAL_FORBIDDEN")
    # and without reveal the stored output keeps the pseudonym
    assert "John Smith" not in platform.job(acme_job["id"])["output"]["echo"]


def _with_reveal(event: dict[str, object]) -> dict[str, object]:
    event["queryStringParameters"] = {"reveal": "true"}
    event["multiValueQueryStringParameters"] = {"reveal": ["true"]}
    return event


def test_a_sync_answer_is_revealed_only_to_a_permitted_tenant_and_kept_pseudonymized(
    platform: Platform,
) -> None:
    # Given a support request (names pseudonymized) answered at once, asked with reveal=true and a
    # key, by acme (allowed to reveal)
    body = {"route": "support", "input": {"text": TEXT}, "mode": "sync"}
    event = _with_reveal(
        api_event("post_inference_sync", body=body, headers={"Idempotency-Key": "reveal-once"})
    )

    # When it is served
    status, answer, _ = platform.call(event)

    # Then acme sees the name again in the output, while the model saw only the pseudonym
    assert status == 200
    assert "John Smith" in answer["output"]["echo"]
    assert "John Smith" not in platform.endpoint.calls[0][0]["text"]
    # and what the idempotency record keeps for a replay is the pseudonymized answer
    replay = dict(event, queryStringParameters=None, multiValueQueryStringParameters=None)
    replay_status, replayed, headers = platform.call(replay)
    assert (replay_status, headers.get("idempotent-replayed")) == (200, "true")
    assert "John Smith" not in replayed["output"]["echo"]
    assert "<PERSON_" in replayed["output"]["echo"]


def test_a_tenant_without_the_reveal_permission_is_refused_before_the_model_runs(platform: Platform) -> None:
    # Given globex, which may not reveal, asking for a revealed sync answer
    body = {"route": "support", "input": {"text": TEXT}, "mode": "sync"}
    event = _with_reveal(api_event("post_inference_sync", body=body, tenant="tenant-globex"))

    # When it is sent
    status, refusal, _ = platform.call(event)

    # Then it is refused at once: nothing reached the model, and the refusal names no value
    assert (status, refusal["error"]["code"]) == (403, "PII_REVEAL_FORBIDDEN")
    assert platform.endpoint.calls == []
    assert "John" not in json.dumps(refusal)


def test_redaction_failure_fails_closed_with_503(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a detector that times out
    def times_out(*_: object, **__: object) -> object:
        raise pii.PiiDetectionTimeout("PII redaction ran out of its time budget")

    monkeypatch.setattr(pii, "redact", times_out)

    # When a request arrives
    status, answer, _ = platform.call(api_event("post_inference_sync"))

    # Then it is rejected with a clear code and nothing reached the model
    assert (status, answer["error"]["code"]) == (503, "PII_DETECTION_TIMEOUT")
    assert platform.endpoint.calls == []


def test_log_lines_are_redacted(captured_logs: io.StringIO) -> None:
    logger.info("caller wrote from jane.doe@example.com", extra={"note": "SSN 078-05-1120"})

    line = captured_logs.getvalue()

    assert "jane.doe@example.com" not in line
    assert "078-05-1120" not in line
    assert "<EMAIL_ADDRESS>" in line


@pytest.mark.parametrize(
    "text",
    [
        "Hi, this is Priyanka Vasquez-Oyelaran.",
        "Hi, this is Priyanka Oyelaran. I lost my card",
        "my name is jane doe",
        "Hi, this is Zebulon Quartermaine, I lost my card",
    ],
)
def test_names_in_chat_text_never_reach_the_queue(platform: Platform, text: str) -> None:
    # Given a message the word lists alone let through (issue 14)
    body = {"route": "intent", "input": {"text": text}, "mode": "async"}

    # When it is queued
    _, accepted, _ = platform.call(api_event("post_inference_async", body=body))
    message = platform.receive()[0]["Body"]

    # Then the queue holds a placeholder, not the name, and the counts say a person was removed
    assert accepted["pii"] == {"PERSON": 1}
    for part in ("Priyanka", "Oyelaran", "jane", "doe", "Zebulon", "Quartermaine"):
        assert part not in message
    assert "<PERSON>" in message


def _support_text(size: int) -> str:
    """Chat-like text of `size` UTF-8 bytes: names, places, an e-mail and a phone number."""
    line = (
        "Hi, this is Priyanka Oyelaran from Leeds, I lost my card yesterday near the station. "
        "Call me on +44 20 7946 0958 or write to priyanka.o@example.com, thanks! jane doe said hi. "
    )
    return (line * (size // len(line) + 1))[:size]


# The route's limit counts the JSON of the input: {"text":"..."} adds 11 bytes to the text.
INTENT_LIMIT = 256 * 1024 - len('{"text":""}')


@pytest.mark.parametrize("size", [150 * 1024, 200 * 1024, 250 * 1024, INTENT_LIMIT])
def test_every_input_the_intent_route_accepts_is_redacted_in_time(platform: Platform, size: int) -> None:
    # Given a sync request as large as the route allows (these answered 503 PII_DETECTION_TIMEOUT)
    body = {"route": "intent", "input": {"text": _support_text(size)}, "mode": "sync"}

    # When it is served
    status, answer, _ = platform.call(api_event("post_inference_sync", body=body))

    # Then it is redacted within the route's budget and answered
    assert status == 200, answer
    seen = platform.endpoint.calls[0][0]["text"]
    assert "Priyanka" not in seen
    assert "priyanka.o@example.com" not in seen
    assert answer["pii"]["PERSON"] > 0


def test_a_pii_refusal_carries_retry_after(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a detector that runs out of time
    def times_out(*_: object, **__: object) -> object:
        raise pii.PiiDetectionTimeout("PII redaction ran out of its time budget")

    monkeypatch.setattr(pii, "redact", times_out)

    # When a request arrives
    status, answer, headers = platform.call(api_event("post_inference_sync"))

    # Then the client is told to come back, and when
    assert (status, answer["error"]["code"]) == (503, "PII_DETECTION_TIMEOUT")
    assert headers["retry-after"] == "1"
