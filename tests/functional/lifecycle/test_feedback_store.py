"""Feedback on moto DynamoDB: one per inference, replaced idempotently, counted once, visible only
to its tenant; a queued job's feedback waits for its outcome."""

from __future__ import annotations

import re
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from sluice.adapters.dynamodb_feedback import DynamoFeedbackStore
from sluice.errors import JobNotFound
from sluice.jobs.models import Job, JobStatus
from sluice.lifecycle.feedback import (
    FeedbackCounts,
    FeedbackNotAllowed,
    FeedbackService,
    FeedbackSubmission,
    ServedInference,
    UnknownLabel,
)
from sluice_local.feedback import provision_feedback_table

TABLE = "feedback"
LABELS = {"intent": ["card_arrival", "lost_or_stolen_card", "exchange_rate"]}


class Jobs:
    def __init__(self, *jobs: Job) -> None:
        self._jobs = {job.id: job for job in jobs}

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)


def job(job_id: str, tenant: str, status: JobStatus = JobStatus.SUCCEEDED) -> Job:
    return Job(
        id=job_id,
        tenant=tenant,
        route="intent",
        status=status,
        variant="primary",
        model_version="v1",
        output={"intents": [{"label": "card_arrival", "score": 0.9}]},
    )


def redact(_tenant: str, text: str) -> str:
    return re.sub(r"[\w.]+@[\w.]+", "<EMAIL_ADDRESS>", text)


@pytest.fixture
def store() -> Iterator[DynamoFeedbackStore]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        provision_feedback_table(client, TABLE)
        yield DynamoFeedbackStore(client, TABLE)


def service(store: DynamoFeedbackStore, *jobs: Job) -> FeedbackService:
    """Each job was queued through the API, which logged what it served (the redacted input)."""
    for queued in jobs:
        store.record(
            ServedInference(
                tenant=queued.tenant,
                job_id=queued.id,
                route=queued.route,
                input={"text": "where is my card"},
                variant=queued.variant,
            )
        )
    return FeedbackService(
        jobs=Jobs(*jobs), log=store, store=store, redact=redact, labels=lambda route: LABELS[route]
    )


def test_a_second_feedback_replaces_the_first_and_counts_once(store: DynamoFeedbackStore) -> None:
    # Given a succeeded job of tenant a
    feedback = service(store, job("j1", "a"))
    # When tenant a rates it 2 with a corrected label, then sends the same again, then changes its mind
    first = FeedbackSubmission(rating=2, label="lost_or_stolen_card", comment="mail me at jo@example.com")
    feedback.submit("a", "j1", first)
    feedback.submit("a", "j1", first)
    feedback.submit("a", "j1", FeedbackSubmission(rating=5))
    # Then one feedback is stored (the last), and the counts moved as for one submission
    stored = feedback.get("a", "j1")
    assert (stored.rating, stored.label, stored.comment) == (5, None, None)
    assert store.counts("intent", "primary", "v1") == FeedbackCounts(feedback=1, labelled=0, correct=1)


def test_the_comment_is_stored_redacted_and_the_label_counts_as_training_data(
    store: DynamoFeedbackStore,
) -> None:
    feedback = service(store, job("j1", "a"))
    stored = feedback.submit(
        "a", "j1", FeedbackSubmission(rating=1, label="exchange_rate", comment="I am jo@example.com")
    )
    assert stored.comment == "I am <EMAIL_ADDRESS>"
    assert stored.label == "exchange_rate"
    assert stored.predicted_label == "card_arrival"
    assert store.counts("intent", "primary", "v1") == FeedbackCounts(feedback=1, labelled=1, correct=0)


def test_another_tenant_can_neither_leave_nor_read_it(store: DynamoFeedbackStore) -> None:
    # Given tenant a's job with tenant a's feedback
    feedback = service(store, job("j1", "a"))
    feedback.submit("a", "j1", FeedbackSubmission(rating=4))
    # When tenant b tries to leave feedback on it, or to read it
    with pytest.raises(JobNotFound):
        feedback.submit("b", "j1", FeedbackSubmission(rating=1, label="exchange_rate"))
    with pytest.raises(JobNotFound):
        feedback.get("b", "j1")
    # Then tenant a's feedback is untouched
    assert feedback.get("a", "j1").rating == 4


@pytest.mark.parametrize(
    ("jobs", "job_id", "submission", "error"),
    [
        pytest.param([], "missing", FeedbackSubmission(rating=3), JobNotFound, id="no-such-job"),
        pytest.param(
            [job("j2", "a", JobStatus.QUEUED)],
            "j2",
            FeedbackSubmission(rating=3),
            FeedbackNotAllowed,
            id="not-final",
        ),
        pytest.param(
            [job("j1", "a")], "j1", FeedbackSubmission(rating=3, label="nope"), UnknownLabel, id="bad-label"
        ),
    ],
)
def test_feedback_that_cannot_be_taken_is_a_clear_client_error(
    store: DynamoFeedbackStore,
    jobs: list[Job],
    job_id: str,
    submission: FeedbackSubmission,
    error: type[Exception],
) -> None:
    with pytest.raises(error) as raised:
        service(store, *jobs).submit("a", job_id, submission)
    assert 400 <= int(raised.value.status) < 500  # type: ignore[attr-defined]
    assert "nope" not in str(raised.value)


def test_a_submission_with_unknown_fields_or_a_bad_rating_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        FeedbackSubmission.model_validate({"rating": 6})
    with pytest.raises(ValidationError):
        FeedbackSubmission.model_validate({"rating": 3, "extra": True})


def test_the_bad_label_error_is_a_400_invalid_request_with_its_own_code() -> None:
    error = UnknownLabel("label: not one of the route's labels")
    assert (int(error.status), error.code) == (400, "FEEDBACK_LABEL_UNKNOWN")


def test_the_intent_routes_label_set_is_banking77s_whatever_the_model_in_service_knows() -> None:
    # A model trained without some intents must still take feedback that names them.
    import json
    from pathlib import Path

    from sluice.lifecycle.labels import route_labels

    categories = json.loads(
        (Path(__file__).resolve().parents[3] / "data/banking77/categories.json").read_text()
    )
    assert route_labels("intent") == frozenset(categories)
    assert route_labels("chat") == frozenset()
