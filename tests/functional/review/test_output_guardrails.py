"""Output guardrails on the request path, the queued path and asynchronous results, on moto:
each failing check handled per its route's policy (block or flag), never silently."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from sluice.config import DeploymentConfig, EndpointConfig, RouteConfig, VariantConfig
from sluice.guardrails.models import ConfidenceCheck, ModerationCheck, OutputPolicy, PiiCheck, SchemaCheck
from tests.functional.conftest import Platform, start_platform
from tests.sample_events import api_event

GENERATIVE = EndpointConfig(wire_format="hf-tgi", accepts_batches=False, variant_name="llm")
# `assistant` flags personal data (redacted) and blocks moderation; `strict` the other way round.
CONFIG = DeploymentConfig(
    routes=(
        RouteConfig(name="intent", batch_size=8),
        RouteConfig(
            name="assistant",
            endpoint=GENERATIVE,
            required_text_fields=("inputs",),
            batch_size=1,
            output=OutputPolicy(
                kind="generation",
                pii=PiiCheck(action="flag"),
                moderation=ModerationCheck(action="block", terms=("wire transfer to this account",)),
                confidence=ConfidenceCheck(action="off"),
            ),
        ),
        RouteConfig(
            name="strict",
            endpoint=GENERATIVE.model_copy(update={"model_data_url": "s3://models/strict.tar.gz"}),
            required_text_fields=("inputs",),
            batch_size=1,
            output=OutputPolicy(
                kind="generation",
                pii=PiiCheck(action="block"),
                moderation=ModerationCheck(action="flag"),
                confidence=ConfidenceCheck(action="off"),
            ),
        ),
        # A generative route whose input rules (emails allowed, names pseudonymized) hold for its
        # output too, on a variant with its own version label.
        RouteConfig(
            name="concierge",
            endpoint=GENERATIVE.model_copy(
                update={
                    "model_data_url": "s3://models/concierge.tar.gz",
                    "variants": (VariantConfig(name="llm", model_version="tgi-2"),),
                }
            ),
            required_text_fields=("inputs",),
            pii_allow=("EMAIL_ADDRESS",),
            pii_operators={"PERSON": "pseudonymize"},
            output=OutputPolicy(
                kind="generation",
                pii=PiiCheck(action="flag"),
                moderation=ModerationCheck(action="off"),
                confidence=ConfidenceCheck(action="off"),
            ),
        ),
        # A classifier whose schema violations are returned flagged instead of blocked.
        RouteConfig(
            name="lenient",
            endpoint=EndpointConfig(model_data_url="s3://models/lenient.tar.gz"),
            output=OutputPolicy(kind="classifier", schema_check=SchemaCheck(action="flag")),
        ),
    )
)


@pytest.fixture
def guarded() -> Iterator[Platform]:
    with start_platform(CONFIG) as running:
        yield running


def sync(platform: Platform, route: str, text: str) -> tuple[int, dict[str, Any]]:
    status, body, _ = platform.call(
        api_event("post_inference_sync", body={"route": route, "input": {"text": text}, "mode": "sync"})
    )
    return status, body


def queued(platform: Platform, route: str, prompt: str) -> dict[str, Any]:
    body = {"route": route, "input": {"inputs": prompt}, "mode": "async"}
    status, accepted, _ = platform.call(api_event("post_inference_async", body=body))
    assert status == 202, accepted
    platform.drain(route)
    return platform.job(accepted["id"])


def review_messages(platform: Platform) -> list[dict[str, Any]]:
    messages = platform.sqs.receive_message(
        QueueUrl=platform.resources.review_queue_url, MaxNumberOfMessages=10
    ).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_an_output_that_breaks_its_schema_is_blocked_with_502_and_sent_to_review(guarded: Platform) -> None:
    # Given a model whose answer has no intents list
    guarded.endpoint.answer = lambda item: {"intent": "card_arrival"}
    # When a sync request is served on `intent` (schema check: block)
    status, body = sync(guarded, "intent", "where is my card")
    # Then it is refused with the stable code, 502 (the caller's input was fine), not a 500
    assert status == 502
    assert body["error"]["code"] == "OUTPUT_SCHEMA_VIOLATION"
    # And the withheld answer is in review, marked blocked
    [item] = review_messages(guarded)
    assert (item["disposition"], item["reasons"], item["route"]) == ("blocked", ["schema"], "intent")


def test_a_schema_violation_on_a_flagging_route_is_returned_flagged(guarded: Platform) -> None:
    guarded.endpoint.answer = lambda item: {"intents": [{"label": "card_arrival", "score": 1.7}]}
    status, body = sync(guarded, "lenient", "where is my card")
    assert status == 200, body
    assert body["guardrails"]["flagged"] == ["schema"]
    assert body["guardrails"]["in_review"] is True


def test_a_passing_answer_says_which_checks_ran_and_flags_nothing(guarded: Platform) -> None:
    status, body = sync(guarded, "intent", "where is my card")
    assert status == 200
    assert body["guardrails"] == {
        "checked": ["schema", "confidence"],
        "flagged": [],
        "redacted": {},
        "in_review": False,
    }
    assert review_messages(guarded) == []


def test_personal_data_in_generated_text_is_redacted_and_flagged_on_a_flagging_route(
    guarded: Platform,
) -> None:
    # Given a model that writes an email address into its answer
    guarded.endpoint.generate = lambda prompt: "Sure, write to jo.bloggs@example.com about it."
    # When a queued job is served on `assistant` (pii: flag)
    job = queued(guarded, "assistant", "who do I contact")
    # Then the job succeeded, the stored and returned output redacted, the check flagged
    assert job["status"] == "succeeded"
    assert "jo.bloggs@example.com" not in json.dumps(job)
    assert "<EMAIL_ADDRESS>" in job["output"]["generated_text"]
    assert job["guardrails"]["flagged"] == ["pii"]
    assert job["guardrails"]["redacted"] == {"EMAIL_ADDRESS": 1}
    # And the review item carries the redacted output only
    [item] = review_messages(guarded)
    assert "jo.bloggs@example.com" not in json.dumps(item)
    assert item["disposition"] == "flagged"


def test_a_sync_generation_is_redacted_by_its_routes_own_rules_and_reviewed_with_where_it_ran(
    guarded: Platform,
) -> None:
    # Given a model that writes an email, a name and a phone number into its answer
    guarded.endpoint.generate = lambda prompt: (
        "Write to jo.bloggs@example.com or ask for Jo Bloggs on +44 20 7946 0958."
    )
    body = {"route": "concierge", "input": {"inputs": "who do I contact"}, "mode": "sync"}
    event = api_event("post_inference_sync", body=body, headers={"X-Correlation-Id": "corr-concierge-01"})

    # When it answers at once on `concierge` (emails allowed, names pseudonymized, pii: flag)
    status, answer, _ = guarded.call(event)

    # Then the returned text keeps the email, carries a pseudonym for the name, masks the phone
    assert status == 200, answer
    text = answer["output"]["generated_text"]
    assert "jo.bloggs@example.com" in text
    assert "Jo Bloggs" not in text
    assert "<PERSON_" in text
    assert "<PHONE_NUMBER>" in text
    assert answer["guardrails"]["flagged"] == ["pii"]
    assert answer["guardrails"]["redacted"] == {"PERSON": 1, "PHONE_NUMBER": 1}
    # And the review item says where it ran and which request it was
    [item] = review_messages(guarded)
    assert (item["job_id"], item["variant"], item["model_version"]) == (answer["id"], "llm", "tgi-2")
    assert item["correlation_id"] == "corr-concierge-01"
    assert "7946" not in json.dumps(item)


def test_personal_data_in_generated_text_is_withheld_on_a_blocking_route(guarded: Platform) -> None:
    guarded.endpoint.generate = lambda prompt: "Call Jo on +44 20 7946 0958."
    job = queued(guarded, "strict", "who do I contact")
    assert job["status"] == "failed"
    assert job["error"]["code"] == "OUTPUT_PII_BLOCKED"
    assert job["output"] is None
    [item] = review_messages(guarded)
    assert "7946" not in json.dumps(item)


def test_a_moderated_answer_is_blocked_or_flagged_per_route(guarded: Platform) -> None:
    # Given a model that answers with a threat from the default lexicon
    guarded.endpoint.generate = lambda prompt: "I KNOW where you live."
    # Then `assistant` (moderation: block) fails the job with the stable code
    blocked = queued(guarded, "assistant", "hello")
    assert (blocked["status"], blocked["error"]["code"]) == ("failed", "OUTPUT_MODERATION_BLOCKED")
    # And `strict` (moderation: flag) returns it flagged
    flagged = queued(guarded, "strict", "hello")
    assert flagged["status"] == "succeeded"
    assert flagged["guardrails"]["flagged"] == ["moderation"]
    # A route's own terms count as well
    guarded.endpoint.generate = lambda prompt: "Please make a Wire Transfer to this account today"
    assert queued(guarded, "assistant", "hello")["error"]["code"] == "OUTPUT_MODERATION_BLOCKED"


CHAT = EndpointConfig(mode="async", wire_format="hf-tgi", accepts_batches=False, variant_name="llm")


def test_an_asynchronous_result_is_guarded_before_the_job_is_written() -> None:
    # Given an asynchronous chat route with the generative defaults (pii: flag, moderation: block)
    config = DeploymentConfig(
        routes=(
            RouteConfig(name="intent"),
            RouteConfig(name="chat", endpoint=CHAT, required_text_fields=("inputs",)),
        )
    )
    with start_platform(config) as chat:
        answers = iter(["Mail jo.bloggs@example.com for a refund.", "You are worthless."])
        chat.endpoint.generate = lambda prompt: next(answers)
        ids = []
        for prompt in ("refund please", "hello"):
            body = {"route": "chat", "input": {"inputs": prompt}, "mode": "async"}
            status, accepted, _ = chat.call(api_event("post_inference_async", body=body))
            assert status == 202
            ids.append(accepted["id"])
            chat.drain("chat")
        # When SageMaker finishes both and async_result applies the notifications
        chat.async_endpoint.run_queued()
        assert chat.deliver_async_results() == set()
        redacted, moderated = (chat.job(job_id) for job_id in ids)
    # Then the first is stored redacted and flagged, the second withheld with the moderation code
    assert redacted["status"] == "succeeded"
    assert redacted["output"]["generated_text"] == "Mail <EMAIL_ADDRESS> for a refund."
    assert redacted["guardrails"]["flagged"] == ["pii"]
    assert (moderated["status"], moderated["error"]["code"]) == ("failed", "OUTPUT_MODERATION_BLOCKED")


def test_when_the_review_queue_refuses_a_job_comes_back_and_a_sync_answer_stands(guarded: Platform) -> None:
    # Given unsure answers and a review queue that is gone
    guarded.endpoint.answer = lambda item: {"intents": [{"label": "card_arrival", "score": 0.2}]}
    queue_url = guarded.resources.review_queue_url
    guarded.sqs.delete_queue(QueueUrl=queue_url)
    # When a sync request is answered: it stands, and says it is not in review
    status, body = sync(guarded, "intent", "where is my card")
    assert status == 200
    assert (body["guardrails"]["flagged"], body["guardrails"]["in_review"]) == (["confidence"], False)
    # And a queued job is served: it is not settled without its review, it comes back
    request = {"route": "intent", "input": {"text": "where is my card"}, "mode": "async"}
    _, accepted, _ = guarded.call(api_event("post_inference_async", body=request))
    messages = guarded.receive("intent")
    assert guarded.run_worker(messages) == {m["MessageId"] for m in messages}
    assert guarded.job(accepted["id"])["status"] == "queued"
    # Then once the queue is back, the redelivered job is settled and in review
    guarded.sqs.create_queue(QueueName=queue_url.rsplit("/", 1)[1])
    for message in messages:
        guarded.sqs.change_message_visibility(
            QueueUrl=guarded.resources.routes["intent"].queue_url,
            ReceiptHandle=message["ReceiptHandle"],
            VisibilityTimeout=0,
        )
    guarded.drain("intent")
    job = guarded.job(accepted["id"])
    assert (job["status"], job["guardrails"]["in_review"]) == ("succeeded", True)
    assert [item["review_id"] for item in review_messages(guarded)] == [accepted["id"]]


def test_a_sync_answer_s_pseudonyms_come_back_only_for_a_tenant_that_may_reveal(platform: Platform) -> None:
    # Given the `support` route, which pseudonymizes names, and a model that echoes its input
    body = {"route": "support", "input": {"text": "Please call John Smith back"}, "mode": "sync"}

    def with_reveal(tenant: str) -> dict[str, Any]:
        event = api_event("post_inference_sync", body=body, tenant=tenant)
        event["queryStringParameters"] = {"reveal": "true"}
        event["multiValueQueryStringParameters"] = {"reveal": ["true"]}
        return event

    # When tenant-acme (allowed) asks for the answer revealed, it gets the name back
    status, answer, _ = platform.call(with_reveal("tenant-acme"))
    assert status == 200
    assert "John Smith" in answer["output"]["echo"]
    # And without reveal the same kind of answer keeps the pseudonym
    _, plain, _ = platform.call(api_event("post_inference_sync", body=body))
    assert "John Smith" not in plain["output"]["echo"]
    # And tenant-globex is refused before the model runs
    calls = len(platform.endpoint.calls)
    status, refusal, _ = platform.call(with_reveal("tenant-globex"))
    assert (status, refusal["error"]["code"]) == (403, "PII_REVEAL_FORBIDDEN")
    assert len(platform.endpoint.calls) == calls
