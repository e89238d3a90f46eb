"""Feedback on a served job: a rating, an optional corrected label from the route's label set, an
optional comment (redacted like any input). One per job and tenant: a second replaces the first,
and counts per route, variant and model version move by the difference, so a replay counts once.

Labelled feedback is training data (the pipeline's prepare step reads its export). Only the
job's own tenant can leave or read it: the store is keyed by tenant, and a job of another tenant
is "not found", exactly as `GET /v1/inferences/{id}` answers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from http import HTTPStatus
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from sluice.errors import InvalidRequest, JobNotFound, SluiceError
from sluice.jobs.models import Job, JobStatus, utc_now
from sluice.observability import logger

MAX_COMMENT_CHARS = 2000


class FeedbackNotAllowed(SluiceError):
    code = "FEEDBACK_NOT_ALLOWED"
    status = HTTPStatus.CONFLICT


class FeedbackSubmission(BaseModel):
    """The body of `POST /v1/inferences/{id}/feedback`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rating: int = Field(ge=1, le=5, description="1 (wrong or useless) to 5 (exactly right)")
    label: str | None = Field(
        None, min_length=1, max_length=128, description="the correct label, if the answer was wrong"
    )
    comment: str | None = Field(None, max_length=MAX_COMMENT_CHARS)


class Feedback(BaseModel):
    """What is stored: the job's identity and serving facts, the rating, the label, the redacted comment."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    job_id: str
    route: str
    variant: str | None
    model_version: str | None
    rating: int
    label: str | None
    predicted_label: str | None
    comment: str | None
    created_at: datetime = Field(default_factory=utc_now)

    @property
    def labelled(self) -> bool:
        return self.label is not None


class FeedbackCounts(BaseModel):
    model_config = ConfigDict(frozen=True)

    feedback: int = 0
    labelled: int = 0
    # Feedback whose label (given, or confirmed by a rating of 4 or 5) matches what the model said.
    correct: int = 0


class JobLookup(Protocol):
    def get(self, job_id: str) -> Job | None: ...


class FeedbackStore(Protocol):
    def put(self, feedback: Feedback) -> Feedback | None:
        """Store (replacing) the job's feedback; returns the feedback it replaced, if any."""
        ...

    def get(self, tenant: str, job_id: str) -> Feedback | None: ...

    def count(self, key: tuple[str, str, str], delta: FeedbackCounts) -> None:
        """Add `delta` to the counts of (route, variant, model version)."""
        ...


Redact = Callable[[str, str], str]  # (tenant, text) -> redacted text


class FeedbackService:
    def __init__(
        self, *, jobs: JobLookup, store: FeedbackStore, redact: Redact, labels: Callable[[str], Sequence[str]]
    ) -> None:
        self._jobs = jobs
        self._store = store
        self._redact = redact
        self._labels = labels

    def submit(self, tenant: str, job_id: str, submission: FeedbackSubmission) -> Feedback:
        job = self._jobs.get(job_id)
        if job is None or job.tenant != tenant:
            raise JobNotFound("No job with this id for this tenant")
        if job.status is not JobStatus.SUCCEEDED:
            raise FeedbackNotAllowed("Feedback is accepted once a job has succeeded")
        if submission.label is not None and submission.label not in set(self._labels(job.route)):
            raise InvalidRequest("label: not one of the route's labels")
        feedback = Feedback(
            tenant=tenant,
            job_id=job_id,
            route=job.route,
            variant=job.variant,
            model_version=job.model_version,
            rating=submission.rating,
            label=submission.label,
            predicted_label=_top_label(job),
            comment=self._redact(tenant, submission.comment) if submission.comment else None,
        )
        replaced = self._store.put(feedback)
        delta = _difference(
            _counts(feedback), _counts(replaced) if replaced is not None else FeedbackCounts()
        )
        if delta != FeedbackCounts():
            self._store.count((job.route, job.variant or "", job.model_version or ""), delta)
        logger.info(
            "feedback stored",
            extra={
                "job_id": job_id,
                "route": job.route,
                "labelled": feedback.labelled,
                "replaced": replaced is not None,
            },
        )
        return feedback

    def get(self, tenant: str, job_id: str) -> Feedback:
        feedback = self._store.get(tenant, job_id)
        if feedback is None:
            raise JobNotFound("No feedback on a job with this id for this tenant")
        return feedback


def _top_label(job: Job) -> str | None:
    intents = (job.output or {}).get("intents") or []
    return (
        str(intents[0]["label"])
        if intents and isinstance(intents[0], dict) and "label" in intents[0]
        else None
    )


def _counts(feedback: Feedback) -> FeedbackCounts:
    if feedback.label is not None:
        correct = feedback.label == feedback.predicted_label
    else:
        correct = feedback.rating >= 4
    return FeedbackCounts(feedback=1, labelled=int(feedback.labelled), correct=int(correct))


def _difference(new: FeedbackCounts, old: FeedbackCounts) -> FeedbackCounts:
    return FeedbackCounts(
        feedback=new.feedback - old.feedback,
        labelled=new.labelled - old.labelled,
        correct=new.correct - old.correct,
    )
