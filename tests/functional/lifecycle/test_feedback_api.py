"""`POST /v1/inferences/{id}/feedback` through the api handler on moto: per tenant, one per
inference (replaced idempotently), labels checked with a stable code, comments redacted, and
labelled feedback exported as training rows."""

from __future__ import annotations

import json
from typing import Any

from sluice.adapters.dynamodb_feedback import DynamoFeedbackStore
from sluice.lifecycle.feedback import FeedbackCounts, export_labelled
from tests.functional.conftest import Platform
from tests.sample_events import api_event

SYNC = {"route": "intent", "input": {"text": "I still have not received my new card"}, "mode": "sync"}
ASYNC = {**SYNC, "mode": "async"}


def feedback_event(
    job_id: str, body: Any, *, tenant: str | None = None, method: str = "POST"
) -> dict[str, Any]:
    event = api_event("post_feedback", body=body, tenant=tenant)
    event["path"] = f"/v1/inferences/{job_id}/feedback"
    event["pathParameters"] = {"id": job_id}
    event["httpMethod"] = method
    if method == "GET":
        event["body"] = None
    return event


def store(platform: Platform) -> DynamoFeedbackStore:
    return DynamoFeedbackStore(platform.dynamodb, platform.resources.feedback_table)


def test_feedback_on_a_sync_answer_is_stored_redacted_and_counted_per_version(platform: Platform) -> None:
    # Given a sync answer of tenant-acme (the fake model says card_arrival, version fake-1)
    _, answer, _ = platform.call(api_event("post_inference_sync", body=SYNC))
    # When tenant-acme says it was wrong, names the right label and leaves an email in the comment
    status, receipt, _ = platform.call(
        feedback_event(
            answer["id"],
            {
                "rating": 1,
                "label": "lost_or_stolen_card",
                "comment": "It never came, write to jo@example.com",
            },
        )
    )
    # Then the feedback is stored against the variant and version that answered, the comment redacted
    assert status == 200
    assert receipt["predicted_label"] == "card_arrival"
    assert (receipt["variant"], receipt["model_version"]) == ("AllTraffic", "fake-1")
    assert "jo@example.com" not in json.dumps(receipt)
    assert "<EMAIL_ADDRESS>" in receipt["comment"]
    assert store(platform).counts("intent", "AllTraffic", "fake-1") == FeedbackCounts(
        feedback=1, labelled=1, correct=0
    )


def test_another_tenant_gets_404_and_cannot_replace_it(platform: Platform) -> None:
    # Given tenant-acme's sync answer and async job, each with tenant-acme's feedback
    _, answer, _ = platform.call(api_event("post_inference_sync", body=SYNC))
    _, job, _ = platform.call(api_event("post_inference_async", body=ASYNC))
    platform.drain()
    for inference in (answer["id"], job["id"]):
        platform.call(feedback_event(inference, {"rating": 5}))
    # When tenant-globex leaves feedback on either
    answers = [
        platform.app.resolve(feedback_event(inference, {"rating": 1}, tenant="tenant-globex"), None)
        for inference in (answer["id"], job["id"])
    ]
    # Then both are 404 JOB_NOT_FOUND, and tenant-acme's feedback is untouched
    for leave in answers:
        assert (leave["statusCode"], json.loads(leave["body"])["error"]["code"]) == (404, "JOB_NOT_FOUND")
    assert [store(platform).get("tenant-acme", i).rating for i in (answer["id"], job["id"])] == [5, 5]  # type: ignore[union-attr]
    assert store(platform).get("tenant-globex", answer["id"]) is None


def test_a_second_feedback_replaces_the_first_and_a_replay_counts_once(platform: Platform) -> None:
    # Given a sync answer
    _, answer, _ = platform.call(api_event("post_inference_sync", body=SYNC))
    wrong = {"rating": 1, "label": "lost_or_stolen_card"}
    # When the same feedback is sent twice (a retry), then replaced by a good rating
    first = platform.call(feedback_event(answer["id"], wrong))
    replay = platform.call(feedback_event(answer["id"], wrong))
    last = platform.call(feedback_event(answer["id"], {"rating": 5}))
    # Then each answer says whether it replaced one, only the last is kept, and it counts once
    assert [first[1]["replaced"], replay[1]["replaced"], last[1]["replaced"]] == [False, True, True]
    kept = store(platform).get("tenant-acme", answer["id"])
    assert kept is not None
    assert (kept.rating, kept.label) == (5, None)
    assert store(platform).counts("intent", "AllTraffic", "fake-1") == FeedbackCounts(
        feedback=1, labelled=0, correct=1
    )


def test_a_label_outside_the_routes_label_set_is_400_with_its_code_and_no_value(platform: Platform) -> None:
    # Given a sync answer
    _, answer, _ = platform.call(api_event("post_inference_sync", body=SYNC))
    # When the correction names a label the route does not have
    status, body, _ = platform.call(feedback_event(answer["id"], {"rating": 1, "label": "pizza_delivery"}))
    # Then 400 with a stable code naming the field, never the value; nothing is stored
    assert status == 400
    assert body["error"]["code"] == "FEEDBACK_LABEL_UNKNOWN"
    assert "label" in body["error"]["message"]
    assert "pizza_delivery" not in body["error"]["message"]
    assert store(platform).get("tenant-acme", answer["id"]) is None


def test_bad_bodies_are_400_and_unknown_ids_404(platform: Platform) -> None:
    # Given a sync answer
    _, answer, _ = platform.call(api_event("post_inference_sync", body=SYNC))
    # When the rating is out of range, a field is unknown, or the id was never served
    out_of_range = platform.call(feedback_event(answer["id"], {"rating": 9}))
    unknown_field = platform.call(feedback_event(answer["id"], {"rating": 3, "stars": 3}))
    never_served = platform.call(feedback_event("f" * 32, {"rating": 3}))
    # Then each is a clear client error with a code
    assert (out_of_range[0], out_of_range[1]["error"]["code"]) == (400, "INVALID_REQUEST")
    assert (unknown_field[0], unknown_field[1]["error"]["code"]) == (400, "INVALID_REQUEST")
    assert (never_served[0], never_served[1]["error"]["code"]) == (404, "JOB_NOT_FOUND")


def test_feedback_on_a_queued_job_waits_for_its_outcome(platform: Platform) -> None:
    # Given an async job, not yet run
    _, accepted, _ = platform.call(api_event("post_inference_async", body=ASYNC))
    # When feedback arrives before and after the worker served it
    early = platform.call(feedback_event(accepted["id"], {"rating": 4}))
    platform.drain()
    late = platform.call(feedback_event(accepted["id"], {"rating": 4}))
    # Then the first is 409 (nothing to judge yet), the second is stored with the job's outcome
    assert (early[0], early[1]["error"]["code"]) == (409, "FEEDBACK_NOT_ALLOWED")
    assert late[0] == 200
    assert late[1]["predicted_label"] == "card_arrival"
    assert late[1]["model_version"] == "fake-1"


def test_a_job_of_a_route_without_a_label_set_takes_a_rating_but_no_label(platform: Platform) -> None:
    # Given a served job of `support`, a route that keeps no input for training
    _, job, _ = platform.call(api_event("post_inference_async", body={**ASYNC, "route": "support"}))
    platform.drain("support")
    # When its caller rates it, then names a label
    rated = platform.call(feedback_event(job["id"], {"rating": 4}))
    labelled = platform.call(feedback_event(job["id"], {"rating": 1, "label": "card_arrival"}))
    # Then the rating is counted for its route; the label, real but another route's, is 422
    assert rated[0] == 200
    assert rated[1]["route"] == "support"
    assert (labelled[0], labelled[1]["error"]["code"]) == (422, "FEEDBACK_LABEL_NOT_FOR_ROUTE")


def test_labelled_feedback_is_exported_with_the_redacted_input_deduplicated(platform: Platform) -> None:
    # Given two answers to the same text (one with an email in it) and labelled feedback on both
    texts = ["my card has not arrived, I am jo@example.com", "My card  has not arrived, I am jo@example.com"]
    for text in texts:
        _, answer, _ = platform.call(api_event("post_inference_sync", body={**SYNC, "input": {"text": text}}))
        platform.call(feedback_event(answer["id"], {"rating": 1, "label": "card_delivery_estimate"}))
    # When the route's feedback is exported as training rows
    from datetime import UTC, datetime

    rows = export_labelled(store(platform).feedback_between("intent", None, datetime.now(UTC)))
    # Then one row remains (same text once folded), its text as the model saw it: redacted
    assert len(rows) == 1
    assert rows[0].label == "card_delivery_estimate"
    assert "jo@example.com" not in rows[0].text
    assert "<EMAIL_ADDRESS>" in rows[0].text


def test_the_openapi_document_declares_every_status_feedback_can_send(platform: Platform) -> None:
    # Given the document the API serves
    from openapi_spec_validator import validate

    response = platform.app.resolve(api_event("get_openapi"), None)
    document = json.loads(response["body"])
    validate(document)
    operations = document["paths"]["/v1/inferences/{job_id}/feedback"]
    # Then the POST names every status it answers, each error in the envelope, and the body's model
    post = operations["post"]
    assert set(post["responses"]) == {
        "200",
        "400",
        "403",
        "404",
        "409",
        "413",
        "415",
        "422",
        "429",
        "500",
        "503",
    }
    assert set(operations) == {"post"}
    for status, answer in post["responses"].items():
        if status.startswith(("4", "5")):
            assert answer["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorResponse"
            }
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/FeedbackSubmission"}
    submission = document["components"]["schemas"]["FeedbackSubmission"]
    assert submission["required"] == ["rating"]
    # Every label any route has, and none: a label outside them is schema-invalid (400)
    assert len(submission["properties"]["label"]["enum"]) == 77 + 1
    assert post["security"] == [{"apiKey": []}]
    # And an answer links to its feedback, sync at once, queued once it has run
    answers = document["paths"]["/v1/inferences"]["post"]["responses"]
    for status in ("200", "202"):
        link = answers[status]["links"]["LeaveFeedback"]
        assert link == {"operationId": post["operationId"], "parameters": {"job_id": "$response.body#/id"}}
