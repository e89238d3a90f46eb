"""Human review on moto: a low-confidence answer lands in review; an operator (IAM identity)
lists and resolves it; the resolution becomes labelled feedback that the export turns into a
training row; a second resolution is idempotent or a conflict, never an overwrite."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

from sluice.adapters.dynamodb_feedback import DynamoFeedbackStore
from sluice.lifecycle.feedback import FeedbackCounts, export_labelled
from sluice.review.api import build_operator_app
from sluice.review.sqs_handler import handle_review_batch
from sluice.runtime import review_intake as intake_runtime
from sluice.runtime import reviews as reviews_runtime
from sluice_local.lambda_events import api_gateway_event, sqs_event
from sluice_local.provision import function_settings
from sluice_local.runtime import LocalContext
from tests.functional.conftest import Platform
from tests.sample_events import api_event

OPERATOR = "arn:aws:iam::123456789012:user/ops-alice"
LOW = {"intents": [{"label": "card_arrival", "score": 0.31}, {"label": "lost_or_stolen_card", "score": 0.29}]}


@pytest.fixture
def operators(platform: Platform) -> tuple[Any, Any]:
    """The `reviews` and `review_intake` functions, built by their own wiring on the platform's moto."""
    settings = function_settings(platform.config, platform.resources)
    assert settings.reviews is not None
    assert settings.review_intake is not None
    reviews_settings = settings.reviews.model_copy(
        update={"pii_key_file": str(Path(tempfile.mkdtemp()) / "pii.key")}
    )
    return (
        build_operator_app(reviews_runtime.build(reviews_settings, clients=_client_of(platform))),
        intake_runtime.build(settings.review_intake, clients=_client_of(platform)),
    )


def _client_of(platform: Platform) -> Any:
    clients = {"dynamodb": platform.dynamodb, "sqs": platform.sqs}
    return lambda name: clients[name]


def operator_call(
    app: Any,
    method: str,
    path: str,
    *,
    body: Any = None,
    query: dict[str, str] | None = None,
    user_arn: str | None = OPERATOR,
    content_type: str = "application/json",
) -> tuple[int, Any]:
    parts = path.strip("/").split("/")
    resource = "/v1/reviews" + ("/{id}" if len(parts) > 2 else "") + ("/resolution" if len(parts) > 3 else "")
    event = api_gateway_event(
        method=method,
        path=path,
        resource=resource,
        headers={"content-type": content_type} if body is not None else {},
        query=query or {},
        body=json.dumps(body).encode() if body is not None else None,
        path_parameters={"id": parts[2]} if len(parts) > 2 else None,
        api_key=None,
        api_key_id=None,
        source_ip="10.0.0.1",
        stage="dev",
        # What API Gateway's AWS_IAM authorization puts there (absent: the call was not signed).
        iam_identity={"userArn": user_arn, "accountId": "123456789012"} if user_arn else None,
    )
    response = app.resolve(event, LocalContext(function_name="reviews", timeout_seconds=29))
    return response["statusCode"], json.loads(response["body"])


def file_reviews(platform: Platform, intake: Any) -> int:
    """What the review queue's event source does: deliver its messages to `review_intake`."""
    queue = platform.resources.review_queue_url
    messages = platform.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    if not messages:
        return 0
    event = sqs_event(messages, queue_arn=platform.resources.review_queue_arn, region="us-east-1")
    response = handle_review_batch(
        event, LocalContext(function_name="review_intake", timeout_seconds=60), intake
    )
    assert response["batchItemFailures"] == []
    for message in messages:
        platform.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return len(messages)


def test_a_low_confidence_answer_lands_in_review_and_its_resolution_becomes_feedback(
    platform: Platform, operators: tuple[Any, Any]
) -> None:
    app, intake = operators
    # Given a sync answer the model is unsure of, on a text with personal data
    platform.endpoint.answer = lambda item: LOW
    body = {
        "route": "intent",
        "input": {"text": "my card never came, Jo Bloggs, jo@example.com"},
        "mode": "sync",
    }
    status, answer, _ = platform.call(api_event("post_inference_sync", body=body))
    # Then it is returned, flagged low-confidence and in review
    assert status == 200
    assert answer["guardrails"]["flagged"] == ["confidence"]
    assert answer["guardrails"]["in_review"] is True

    # When the review queue is delivered to intake (twice: at least once, as SQS does)
    assert file_reviews(platform, intake) == 1
    # And an operator lists the open items of the route
    status, page = operator_call(app, "GET", "/v1/reviews", query={"state": "open", "route": "intent"})
    assert status == 200
    [item] = page["items"]
    # Then the item names the inference and why, with the redacted input (never the email)
    assert (item["review_id"], item["job_id"], item["reasons"]) == (
        answer["id"],
        answer["id"],
        ["confidence"],
    )
    assert item["predicted_label"] == "card_arrival"
    assert item["confidence"] == pytest.approx(0.31)
    assert "jo@example.com" not in json.dumps(item)
    assert "<EMAIL_ADDRESS>" in item["input"]["text"]

    # When the operator resolves it with the right label and a note with an email in it
    status, receipt = operator_call(
        app,
        "POST",
        f"/v1/reviews/{answer['id']}/resolution",
        body={"label": "lost_or_stolen_card", "note": "customer wrote from jo@example.com"},
    )
    # Then it is resolved by that IAM identity, the note redacted
    assert status == 200, receipt
    resolution = receipt["item"]["resolution"]
    assert (resolution["label"], resolution["reviewer"], resolution["agrees_with_model"]) == (
        "lost_or_stolen_card",
        OPERATOR,
        False,
    )
    assert "jo@example.com" not in resolution["note"]
    assert receipt["replayed"] is False
    # And it is labelled feedback on the inference, counted once, exported as a training row
    store = DynamoFeedbackStore(platform.dynamodb, platform.resources.feedback_table)
    feedback = store.get("tenant-acme", answer["id"])
    assert feedback is not None
    assert (feedback.label, feedback.predicted_label, feedback.model_version) == (
        "lost_or_stolen_card",
        "card_arrival",
        "fake-1",
    )
    assert store.counts("intent", "AllTraffic", "fake-1") == FeedbackCounts(feedback=1, labelled=1, correct=0)
    [row] = export_labelled(store.feedback_between("intent", None, feedback.created_at.replace(year=2100)))
    assert row.label == "lost_or_stolen_card"
    assert "jo@example.com" not in row.text
    assert "<EMAIL_ADDRESS>" in row.text
    # And it is no longer open
    _, still_open = operator_call(app, "GET", "/v1/reviews", query={"route": "intent"})
    assert still_open["items"] == []
    _, resolved = operator_call(app, "GET", "/v1/reviews", query={"state": "resolved"})
    assert [i["review_id"] for i in resolved["items"]] == [answer["id"]]

    # When the same resolution is sent again (a retry): the stored one, counted once
    status, again = operator_call(
        app, "POST", f"/v1/reviews/{answer['id']}/resolution", body={"label": "lost_or_stolen_card"}
    )
    assert (status, again["replayed"]) == (200, True)
    assert store.counts("intent", "AllTraffic", "fake-1") == FeedbackCounts(feedback=1, labelled=1, correct=0)
    # And another label is a conflict, not an overwrite
    status, conflict = operator_call(
        app, "POST", f"/v1/reviews/{answer['id']}/resolution", body={"label": "card_arrival"}
    )
    assert (status, conflict["error"]["code"]) == (409, "REVIEW_ALREADY_RESOLVED")


def test_a_message_delivered_twice_is_one_item(platform: Platform, operators: tuple[Any, Any]) -> None:
    app, intake = operators
    platform.endpoint.answer = lambda item: LOW
    body = {"route": "intent", "input": {"text": "where is my card"}, "mode": "async"}
    _, accepted, _ = platform.call(api_event("post_inference_async", body=body))
    platform.drain()
    [message] = platform.sqs.receive_message(QueueUrl=platform.resources.review_queue_url).get("Messages", [])
    platform.sqs.send_message(QueueUrl=platform.resources.review_queue_url, MessageBody=message["Body"])
    platform.sqs.change_message_visibility(
        QueueUrl=platform.resources.review_queue_url,
        ReceiptHandle=message["ReceiptHandle"],
        VisibilityTimeout=0,
    )
    while file_reviews(platform, intake):
        pass
    _, page = operator_call(app, "GET", "/v1/reviews")
    assert [item["review_id"] for item in page["items"]] == [accepted["id"]]
    # The queued job says it is in review too
    assert platform.job(accepted["id"])["guardrails"]["in_review"] is True


def _low_confidence_answer_in_review(platform: Platform, intake: Any) -> str:
    """A sync answer the model was unsure of, filed for review; its id is the review item's."""
    platform.endpoint.answer = lambda item: LOW
    _, answer, _ = platform.call(
        api_event("post_inference_sync", body={"route": "intent", "input": {"text": "card?"}, "mode": "sync"})
    )
    file_reviews(platform, intake)
    return str(answer["id"])


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"label": "not-a-label"}, 422, "REVIEW_LABEL_NOT_FOR_ROUTE"),
        ({"label": "acceptable"}, 422, "REVIEW_LABEL_NOT_FOR_ROUTE"),  # a verdict, not an intent
        ({"label": ""}, 400, "INVALID_REQUEST"),
        ({"label": "card_arrival", "extra": 1}, 400, "INVALID_REQUEST"),
    ],
)
def test_a_resolution_names_a_label_of_the_route(
    platform: Platform, operators: tuple[Any, Any], body: dict[str, Any], status: int, code: str
) -> None:
    app, intake = operators
    item = _low_confidence_answer_in_review(platform, intake)
    answered, refused = operator_call(app, "POST", f"/v1/reviews/{item}/resolution", body=body)
    assert (answered, refused["error"]["code"]) == (status, code)
    assert "not-a-label" not in json.dumps(refused)


def test_a_resolution_sent_with_an_empty_content_type_is_read_as_json_not_failed(
    platform: Platform, operators: tuple[Any, Any]
) -> None:
    # The operator API has no media-type guard of its own: Powertools reads a body whose
    # Content-Type is empty as JSON, and the resolver must not turn that header into another type
    app, intake = operators
    item = _low_confidence_answer_in_review(platform, intake)

    status, receipt = operator_call(
        app, "POST", f"/v1/reviews/{item}/resolution", body={"label": "card_arrival"}, content_type=""
    )

    assert status == 200, receipt
    assert receipt["item"]["resolution"]["label"] == "card_arrival"


def test_operator_calls_need_an_iam_identity_and_unknown_items_are_404(operators: tuple[Any, Any]) -> None:
    app, _ = operators
    status, body = operator_call(app, "GET", "/v1/reviews", user_arn=None)
    assert (status, body["error"]["code"]) == (403, "OPERATOR_IDENTITY_REQUIRED")
    status, body = operator_call(app, "GET", f"/v1/reviews/{'0' * 32}")
    assert (status, body["error"]["code"]) == (404, "REVIEW_NOT_FOUND")
    status, body = operator_call(app, "GET", "/v1/reviews", query={"next": "!!not-a-token"})
    assert (status, body["error"]["code"]) == (400, "INVALID_REQUEST")


def test_the_operator_api_describes_itself_in_a_valid_openapi_document(operators: tuple[Any, Any]) -> None:
    from openapi_spec_validator import validate

    app, _ = operators
    status, document = operator_call(app, "GET", "/v1/reviews/openapi.json")
    assert status == 200
    validate(document)
    assert set(document["paths"]) == {
        "/v1/reviews",
        "/v1/reviews/{review_id}",
        "/v1/reviews/{review_id}/resolution",
    }
    assert document["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    resolution = document["paths"]["/v1/reviews/{review_id}/resolution"]["post"]["responses"]
    assert {"200", "400", "403", "404", "409", "422", "500"} <= set(resolution)
