"""Feedback on a served inference: a rating, an optional corrected label from the route's label
set, an optional comment (redacted like any input). One per inference and tenant: a second
replaces the first, and counts per route, variant and model version move by the difference, so a
replay counts once.

The API records what it served on a feedback route (`ServedInference`: the redacted input, who
served it, the top label) in an inference log, because a sync answer has no job record and a job
record holds no input. Feedback joins the two: labelled feedback with the redacted input is
training data (`export_labelled`, read by the pipeline's prepare step). Only the inference's own
tenant can leave or read feedback: both stores are keyed by tenant, and another tenant's id is
"not found", exactly as `GET /v1/inferences/{id}` answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from http import HTTPStatus
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from pydantic import BaseModel, ConfigDict, Field

from sluice.errors import InvalidRequest, JobNotFound, SluiceError
from sluice.jobs.models import Job, JobStatus, utc_now
from sluice.lifecycle.labels import all_labels
from sluice.observability import logger

MAX_COMMENT_CHARS = 2000


class FeedbackNotAllowed(SluiceError):
    code = "FEEDBACK_NOT_ALLOWED"
    status = HTTPStatus.CONFLICT


class UnknownLabel(InvalidRequest):
    """A label of no route's label set (the API document lists them all)."""

    code = "FEEDBACK_LABEL_UNKNOWN"


class LabelNotForRoute(SluiceError):
    """A real label, but not one of this inference's route."""

    code = "FEEDBACK_LABEL_NOT_FOR_ROUTE"
    status = HTTPStatus.UNPROCESSABLE_ENTITY


class FeedbackSubmission(BaseModel):
    """The body of `POST /v1/inferences/{id}/feedback`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rating: int = Field(ge=1, le=5, description="1 (wrong or useless) to 5 (exactly right)")
    label: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="The correct label, if the answer was wrong: one of the route's labels",
        # The document lists every route's labels: a label outside all of them is schema-invalid.
        json_schema_extra={"enum": [*sorted(all_labels()), None]},
    )
    comment: str | None = Field(
        None, max_length=MAX_COMMENT_CHARS, description="Free text; redacted before it is stored"
    )


class FeedbackReceipt(BaseModel):
    """What the API answers: the stored feedback, without the input it is about."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="The inference's id")
    route: str
    variant: str | None
    model_version: str | None
    rating: int
    label: str | None
    predicted_label: str | None
    comment: str | None
    replaced: bool = Field(description="True if this feedback replaced an earlier one")
    created_at: datetime


class ServedInference(BaseModel):
    """What the API served on a feedback route: written once per inference, read by feedback."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    job_id: str
    route: str
    # The input as the model saw it (already redacted): the text labelled feedback trains on.
    input: dict[str, Any]
    # True for a sync answer (its outcome is here); a queued job's is in its job record once it ran.
    answered: bool = False
    variant: str | None = None
    model_version: str | None = None
    predicted_label: str | None = None
    # The top label's score and the API's own time for a sync answer: the A/B report's figures.
    confidence: float | None = None
    latency_ms: float | None = None
    created_at: datetime = Field(default_factory=utc_now)


class Feedback(BaseModel):
    """What is stored: the inference's identity, serving facts and input, the rating, the label, the redacted comment."""

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
    input: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utc_now)

    @property
    def labelled(self) -> bool:
        return self.label is not None

    @property
    def correct(self) -> bool:
        """The answer was right: the label given is what the model said, or (no label) rated 4-5."""
        if self.label is not None:
            return self.label == self.predicted_label
        return self.rating >= 4


class FeedbackCounts(BaseModel):
    model_config = ConfigDict(frozen=True)

    feedback: int = 0
    labelled: int = 0
    # Feedback whose label (given, or confirmed by a rating of 4 or 5) matches what the model said.
    correct: int = 0


class JobLookup(Protocol):
    def get(self, job_id: str) -> Job | None: ...


class InferenceLog(Protocol):
    def record(self, served: ServedInference) -> None: ...

    def served(self, tenant: str, job_id: str) -> ServedInference | None: ...


class FeedbackStore(Protocol):
    def put(self, feedback: Feedback) -> Feedback | None:
        """Store (replacing) the inference's feedback; returns the feedback it replaced, if any."""
        ...

    def get(self, tenant: str, job_id: str) -> Feedback | None: ...

    def count(self, key: tuple[str, str, str], delta: FeedbackCounts) -> None:
        """Add `delta` to the counts of (route, variant, model version)."""
        ...


Redact = Callable[[str, str], str]  # (tenant, text) -> redacted text


class FeedbackService:
    def __init__(
        self,
        *,
        jobs: JobLookup,
        log: InferenceLog,
        store: FeedbackStore,
        redact: Redact,
        labels: Callable[[str], Iterable[str]],
    ) -> None:
        self._jobs = jobs
        self._log = log
        self._store = store
        self._redact = redact
        self._labels = labels

    def submit(self, tenant: str, job_id: str, submission: FeedbackSubmission) -> FeedbackReceipt:
        served = self._served(tenant, job_id)
        if submission.label is not None and submission.label not in set(self._labels(served.route)):
            # Names the field, never the value (which may be anything a caller typed).
            if submission.label in all_labels():
                raise LabelNotForRoute("label: not one of this inference's route's labels")
            raise UnknownLabel("label: not one of the route's labels")
        feedback = Feedback(
            tenant=tenant,
            job_id=job_id,
            route=served.route,
            variant=served.variant,
            model_version=served.model_version,
            rating=submission.rating,
            label=submission.label,
            predicted_label=served.predicted_label,
            comment=self._redact(tenant, submission.comment) if submission.comment else None,
            input=served.input,
        )
        replaced = self._store.put(feedback)
        delta = _difference(
            _counts(feedback), _counts(replaced) if replaced is not None else FeedbackCounts()
        )
        key = (served.route, served.variant or "", served.model_version or "")
        if delta != FeedbackCounts():
            self._store.count(key, delta)
        _emit_counts(key, delta)
        logger.info(
            "feedback stored",
            extra={
                "job_id": job_id,
                "route": served.route,
                "labelled": feedback.labelled,
                "replaced": replaced is not None,
            },
        )
        return _receipt(feedback, replaced=replaced is not None)

    def get(self, tenant: str, job_id: str) -> FeedbackReceipt:
        feedback = self._store.get(tenant, job_id)
        if feedback is None:
            raise JobNotFound("No feedback on an inference with this id for this tenant")
        return _receipt(feedback, replaced=False)

    def _served(self, tenant: str, job_id: str) -> ServedInference:
        """The inference as served, with its outcome: a queued job's comes from its job record.

        A job of a route that logs nothing for feedback (no input kept) still takes a rating: it
        counts, it is not training data."""
        served = self._log.served(tenant, job_id)
        if served is not None and served.answered:
            return served
        job = self._jobs.get(job_id)
        if job is None or job.tenant != tenant:
            raise JobNotFound("No inference with this id for this tenant")
        if job.status is not JobStatus.SUCCEEDED:
            raise FeedbackNotAllowed("Feedback is accepted once a job has succeeded")
        return ServedInference(
            tenant=tenant,
            job_id=job_id,
            route=job.route,
            input=served.input if served is not None else {},
            variant=job.variant,
            model_version=job.model_version,
            predicted_label=top_label(job.output),
        )


def top_score(output: dict[str, Any] | None) -> float | None:
    """The first label's score of a classifier's answer, if it has one."""
    intents = (output or {}).get("intents") or []
    score = intents[0].get("score") if intents and isinstance(intents[0], dict) else None
    return float(score) if isinstance(score, int | float) else None


def top_label(output: dict[str, Any] | None) -> str | None:
    """The first label of a classifier's answer (`{"intents": [{"label", "score"}, ...]}`)."""
    intents = (output or {}).get("intents") or []
    return (
        str(intents[0]["label"])
        if intents and isinstance(intents[0], dict) and "label" in intents[0]
        else None
    )


class TrainingRow(BaseModel):
    """One row of the export the pipeline's prepare step reads (`{"text", "label", "created_at"}`)."""

    model_config = ConfigDict(frozen=True)

    text: str
    label: str
    created_at: datetime
    model_version: str | None


def export_labelled(feedback: Iterable[Feedback], *, text_field: str = "text") -> list[TrainingRow]:
    """Labelled feedback as training rows: the redacted input's text and the label given,
    de-duplicated by text (case and spacing folded; the latest feedback wins), oldest first.

    The comment is never exported: it says why, it is not an example. Inputs were redacted by the
    API before the model saw them; prepare drops anything that still looks personal.
    """
    latest: dict[str, TrainingRow] = {}
    for item in sorted(feedback, key=lambda f: f.created_at):
        text = item.input.get(text_field)
        if item.label is None or not isinstance(text, str) or not text.strip():
            continue
        latest[" ".join(text.lower().split())] = TrainingRow(
            text=text.strip(), label=item.label, created_at=item.created_at, model_version=item.model_version
        )
    return sorted(latest.values(), key=lambda row: row.created_at)


def _receipt(feedback: Feedback, *, replaced: bool) -> FeedbackReceipt:
    return FeedbackReceipt(
        id=feedback.job_id,
        route=feedback.route,
        variant=feedback.variant,
        model_version=feedback.model_version,
        rating=feedback.rating,
        label=feedback.label,
        predicted_label=feedback.predicted_label,
        comment=feedback.comment,
        replaced=replaced,
        created_at=feedback.created_at,
    )


def _emit_counts(key: tuple[str, str, str], delta: FeedbackCounts) -> None:
    """EMF counts per route, variant and model version (a replacement moves them by the difference)."""
    route, variant, version = key
    for name, value in (
        ("Feedback", delta.feedback),
        ("FeedbackLabelled", delta.labelled),
        ("FeedbackCorrect", delta.correct),
    ):
        if value == 0:
            continue
        with single_metric(name=name, unit=MetricUnit.Count, value=value) as metric:
            metric.add_dimension(name="route", value=route)
            metric.add_dimension(name="variant", value=variant or "none")
            metric.add_dimension(name="model_version", value=version or "none")


def _counts(feedback: Feedback) -> FeedbackCounts:
    return FeedbackCounts(feedback=1, labelled=int(feedback.labelled), correct=int(feedback.correct))


def _difference(new: FeedbackCounts, old: FeedbackCounts) -> FeedbackCounts:
    return FeedbackCounts(
        feedback=new.feedback - old.feedback,
        labelled=new.labelled - old.labelled,
        correct=new.correct - old.correct,
    )
