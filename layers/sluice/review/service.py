"""Review: the queue's items into the store, and an operator's resolution into labelled feedback.

Intake is idempotent (one item per inference, written if absent), so a message delivered twice
is one item. A resolution is a conditional write from `open` to `resolved`: a retry with the same
label is answered with the stored resolution (`replayed`), a different label on a resolved item
is a conflict, never an overwrite. Each resolution becomes the inference's labelled feedback (the
lifecycle feedback store, which `feedback_export` turns into training rows) and an audit record.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from http import HTTPStatus

from sluice.errors import InvalidRequest, SluiceError
from sluice.jobs.models import utc_now
from sluice.lifecycle.feedback import Feedback, FeedbackCounts, FeedbackStore
from sluice.observability import logger
from sluice.observability.audit import AuditEntry, AuditKind, AuditTrail
from sluice.review.models import (
    VERDICT_LABELS,
    Resolution,
    ResolutionReceipt,
    ResolutionSubmission,
    ReviewItem,
    ReviewPage,
    ReviewRequest,
    ReviewState,
)
from sluice.review.ports import ReviewStore

MAX_PAGE = 100


class ReviewNotFound(SluiceError):
    code = "REVIEW_NOT_FOUND"
    status = HTTPStatus.NOT_FOUND


class ReviewAlreadyResolved(SluiceError):
    code = "REVIEW_ALREADY_RESOLVED"
    status = HTTPStatus.CONFLICT


class ReviewLabelNotForRoute(SluiceError):
    code = "REVIEW_LABEL_NOT_FOR_ROUTE"
    status = HTTPStatus.UNPROCESSABLE_ENTITY


class NotAnOperator(SluiceError):
    """No IAM identity on the request: API Gateway's AWS_IAM authorization did not run."""

    code = "OPERATOR_IDENTITY_REQUIRED"
    status = HTTPStatus.FORBIDDEN


class ReviewIntake:
    def __init__(self, store: ReviewStore) -> None:
        self._store = store

    def accept(self, request: ReviewRequest) -> bool:
        """Store the item; False if it was stored before (the message came twice)."""
        created = self._store.put_if_absent(ReviewItem.of(request))
        logger.info(
            "review item stored" if created else "review item already stored",
            extra={"review_id": request.review_id, "route": request.route, "reasons": list(request.reasons)},
        )
        return created


Redact = Callable[[str, str], str]  # (tenant, text) -> redacted text


class ReviewService:
    def __init__(
        self,
        *,
        store: ReviewStore,
        feedback: FeedbackStore,
        redact: Redact,
        labels: Callable[[str], Collection[str]],
        audit: AuditTrail | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._feedback = feedback
        self._redact = redact
        self._labels = labels
        self._audit = audit
        self._clock = clock

    def labels_of(self, route: str) -> frozenset[str]:
        """What a resolution of `route` may say: its label set, or a verdict on a route without."""
        return frozenset(self._labels(route)) or VERDICT_LABELS

    def list(self, *, state: ReviewState, route: str | None, limit: int, after: str | None) -> ReviewPage:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequest(f"limit: must be between 1 and {MAX_PAGE}")
        items, following = self._store.list(state=state, route=route, limit=limit, after=after)
        return ReviewPage(items=items, next=following)

    def get(self, review_id: str) -> ReviewItem:
        item = self._store.get(review_id)
        if item is None:
            raise ReviewNotFound("No review item with this id")
        return item

    def resolve(
        self, review_id: str, submission: ResolutionSubmission, *, reviewer: str
    ) -> ResolutionReceipt:
        item = self.get(review_id)
        if submission.label not in self.labels_of(item.route):
            # Names the field, never the value.
            raise ReviewLabelNotForRoute("label: not one of this review's route's labels")
        if item.state is ReviewState.RESOLVED:
            return self._replay(item, submission, reviewer)
        resolution = Resolution(
            label=submission.label,
            reviewer=reviewer,
            note=self._redact(item.tenant, submission.note) if submission.note else None,
            agrees_with_model=submission.label == item.predicted_label,
            resolved_at=self._clock(),
        )
        resolved = self._store.resolve(review_id, resolution)
        if resolved is None:
            # Another operator resolved it between the read and the write.
            current = self.get(review_id)
            return self._replay(current, submission, reviewer)
        self._record_feedback(resolved, resolution)
        self._record_audit(resolved, resolution)
        logger.info(
            "review resolved",
            extra={"review_id": review_id, "route": item.route, "agrees": resolution.agrees_with_model},
        )
        return ResolutionReceipt(item=resolved)

    def _replay(self, item: ReviewItem, submission: ResolutionSubmission, reviewer: str) -> ResolutionReceipt:
        if item.resolution is not None and item.resolution.label == submission.label:
            # Same outcome: a retry. The feedback is written again (a put of the same feedback
            # moves no counter), in case the first call died between the two writes.
            self._record_feedback(item, item.resolution)
            return ResolutionReceipt(item=item, replayed=True)
        raise ReviewAlreadyResolved("This review item was resolved with another label")

    def _record_feedback(self, item: ReviewItem, resolution: Resolution) -> None:
        """The resolution as the inference's labelled feedback (it replaces the tenant's own, if
        any: a reviewer's label is the one training should learn). Rating: 5 when the reviewer
        agrees with the model, 1 when not."""
        feedback = Feedback(
            tenant=item.tenant,
            job_id=item.job_id,
            route=item.route,
            variant=item.variant,
            model_version=item.model_version,
            rating=5 if resolution.agrees_with_model else 1,
            label=resolution.label,
            predicted_label=item.predicted_label,
            comment=None,  # the reviewer's note stays with the review item
            input=dict(item.input),
            created_at=resolution.resolved_at,
        )
        replaced = self._feedback.put(feedback)
        new, old = _counts(feedback), _counts(replaced) if replaced is not None else FeedbackCounts()
        delta = FeedbackCounts(
            feedback=new.feedback - old.feedback,
            labelled=new.labelled - old.labelled,
            correct=new.correct - old.correct,
        )
        if delta != FeedbackCounts():
            self._feedback.count((item.route, item.variant or "", item.model_version or ""), delta)

    def _record_audit(self, item: ReviewItem, resolution: Resolution) -> None:
        if self._audit is None:
            return
        self._audit.record(
            AuditEntry(
                tenant=item.tenant,
                kind=AuditKind.ADMIN,
                action="review.resolved",
                actor=_actor(resolution.reviewer),
                outcome="resolved",
                decision="agrees" if resolution.agrees_with_model else "relabelled",
                route=item.route,
                variant=item.variant,
                model_version=item.model_version,
                subject=item.review_id,
                correlation_id=item.correlation_id,
                details={"disposition": item.disposition.value, "reasons": ",".join(item.reasons)},
            )
        )


def _counts(feedback: Feedback) -> FeedbackCounts:
    return FeedbackCounts(feedback=1, labelled=int(feedback.labelled), correct=int(feedback.correct))


def _actor(reviewer: str) -> str:
    # The audit's actor is at most 128 characters; an assumed-role ARN with a long session name
    # can be longer: its tail (role and session) is what identifies the person.
    return reviewer if len(reviewer) <= 128 else "..." + reviewer[-125:]
