"""Resolutions on their own: audited with the reviewer, no content; verdicts on unlabelled routes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sluice.guardrails.models import CheckName
from sluice.lifecycle.feedback import Feedback, FeedbackCounts
from sluice.observability.audit import AuditRecord, AuditTrail
from sluice.review.models import (
    Resolution,
    ResolutionSubmission,
    ReviewDisposition,
    ReviewItem,
    ReviewRequest,
    ReviewState,
)
from sluice.review.service import ReviewLabelNotForRoute, ReviewService


class Store:
    def __init__(self) -> None:
        self.items: dict[str, ReviewItem] = {}

    def put_if_absent(self, item: ReviewItem) -> bool:
        return self.items.setdefault(item.review_id, item) is item

    def get(self, review_id: str) -> ReviewItem | None:
        return self.items.get(review_id)

    def list(
        self, *, state: ReviewState, route: str | None, limit: int, after: str | None
    ) -> tuple[list[ReviewItem], str | None]:
        return [i for i in self.items.values() if i.state is state and route in (None, i.route)][:limit], None

    def resolve(self, review_id: str, resolution: Resolution) -> ReviewItem | None:
        item = self.items[review_id]
        if item.state is not ReviewState.OPEN:
            return None
        self.items[review_id] = item.model_copy(
            update={"state": ReviewState.RESOLVED, "resolution": resolution}
        )
        return self.items[review_id]


class FeedbackStore:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Feedback] = {}
        self.counts: dict[tuple[str, str, str], FeedbackCounts] = {}

    def put(self, feedback: Feedback) -> Feedback | None:
        old = self.items.get((feedback.tenant, feedback.job_id))
        self.items[(feedback.tenant, feedback.job_id)] = feedback
        return old

    def get(self, tenant: str, job_id: str) -> Feedback | None:
        return self.items.get((tenant, job_id))

    def count(self, key: tuple[str, str, str], delta: FeedbackCounts) -> None:
        old = self.counts.get(key, FeedbackCounts())
        self.counts[key] = FeedbackCounts(
            feedback=old.feedback + delta.feedback,
            labelled=old.labelled + delta.labelled,
            correct=old.correct + delta.correct,
        )


class AuditStore:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def append(self, record: AuditRecord) -> None:
        self.records.append(record)

    def query(self, tenant: str, *, since: datetime, until: datetime | None = None) -> list[AuditRecord]:
        return [r for r in self.records if r.tenant == tenant]


def request(route: str = "chat", label: str | None = None) -> ReviewRequest:
    return ReviewRequest(
        review_id="b" * 32,
        job_id="b" * 32,
        tenant="acme",
        route=route,
        disposition=ReviewDisposition.BLOCKED,
        reasons=(CheckName.MODERATION,),
        moderation_categories=("threat",),
        predicted_label=label,
        input={"inputs": "hello"},
        output={"generated_text": "I know where you live"},
    )


def service(store: Store, feedback: FeedbackStore, audit: AuditStore) -> ReviewService:
    return ReviewService(
        store=store,
        feedback=feedback,
        redact=lambda tenant, text: text.replace("jo@example.com", "<EMAIL_ADDRESS>"),
        labels=lambda route: {"card_arrival"} if route == "intent" else set(),
        audit=AuditTrail(audit),
        clock=lambda: datetime(2026, 12, 2, 7, 0, tzinfo=UTC),
    )


def test_a_route_without_a_label_set_is_resolved_with_a_verdict_and_audited() -> None:
    store, feedback, audit = Store(), FeedbackStore(), AuditStore()
    store.put_if_absent(ReviewItem.of(request()))
    reviews = service(store, feedback, audit)
    with pytest.raises(ReviewLabelNotForRoute):
        reviews.resolve(
            "b" * 32, ResolutionSubmission(label="card_arrival"), reviewer="arn:aws:iam::1:user/a"
        )
    receipt = reviews.resolve(
        "b" * 32,
        ResolutionSubmission(label="unacceptable", note="mail jo@example.com"),
        reviewer="arn:aws:iam::1:user/a",
    )
    assert receipt.item.resolution is not None
    assert receipt.item.resolution.note == "mail <EMAIL_ADDRESS>"
    assert feedback.get("acme", "b" * 32) is not None
    [record] = audit.records
    assert (record.action, record.actor, record.kind, record.subject) == (
        "review.resolved",
        "arn:aws:iam::1:user/a",
        "admin",
        "b" * 32,
    )
    # The audit record holds ids and codes: neither the note, the label nor the output
    assert "jo@example.com" not in record.model_dump_json()
    assert "where you live" not in record.model_dump_json()


def test_a_long_assumed_role_arn_is_kept_to_its_identifying_tail_in_the_audit() -> None:
    store, feedback, audit = Store(), FeedbackStore(), AuditStore()
    store.put_if_absent(ReviewItem.of(request(route="intent", label="card_arrival")))
    arn = "arn:aws:sts::123456789012:assumed-role/" + "Operators" * 12 + "/alice@example.org"
    service(store, feedback, audit).resolve(
        "b" * 32, ResolutionSubmission(label="card_arrival"), reviewer=arn
    )
    [record] = audit.records
    assert len(record.actor) <= 128
    assert record.actor.endswith("/alice@example.org")
    # Agreeing with the model: rated 5, counted correct
    assert feedback.counts[("intent", "", "")] == FeedbackCounts(feedback=1, labelled=1, correct=1)
