"""Review items: what the queue carries, what the table stores, what an operator sends back.

An item holds ids, the route's serving facts, why it is there (the checks it failed), and the
redacted input and output a person needs to judge it; never unredacted personal data (inputs are
redacted before the model sees them, outputs by the guard before they are queued).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from sluice.guardrails.models import CheckName

MAX_NOTE_CHARS = 2000
# The resolutions of a route without a label set (a generative route): is the answer acceptable?
VERDICT_LABELS = frozenset({"acceptable", "unacceptable"})


def _utc_now() -> datetime:
    from sluice.jobs.models import utc_now

    return utc_now()


class ReviewDisposition(StrEnum):
    FLAGGED = "flagged"  # returned to the caller, flagged
    BLOCKED = "blocked"  # withheld from the caller


class ReviewState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class ReviewRequest(BaseModel):
    """The review queue's message: one per inference (its id is the inference's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    review_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    job_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    tenant: str = Field(min_length=1, max_length=128)
    route: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")
    variant: str | None = None
    model_version: str | None = None
    disposition: ReviewDisposition
    reasons: tuple[CheckName, ...] = Field(min_length=1)
    # Moderation categories that tripped (closed-set tokens such as `threat`), never the phrase.
    moderation_categories: tuple[str, ...] = ()
    confidence: float | None = None
    predicted_label: str | None = None
    input: dict[str, JsonValue]
    output: dict[str, JsonValue]
    correlation_id: str | None = None
    created_at: datetime = Field(default_factory=_utc_now)


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    # The IAM identity that resolved it (API Gateway's requestContext.identity.userArn).
    reviewer: str
    note: str | None = None  # redacted
    agrees_with_model: bool
    resolved_at: datetime


class ReviewItem(ReviewRequest):
    """A stored item: the request, its state and, once resolved, the resolution."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    state: ReviewState = ReviewState.OPEN
    resolution: Resolution | None = None

    @classmethod
    def of(cls, request: ReviewRequest) -> ReviewItem:
        return cls.model_validate(request.model_dump())


class ResolutionSubmission(BaseModel):
    """Body of `POST /v1/reviews/{id}/resolution`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(
        min_length=1,
        max_length=128,
        description="The correct label: one of the route's labels, or acceptable/unacceptable on a route without",
    )
    note: str | None = Field(
        None, max_length=MAX_NOTE_CHARS, description="Free text; redacted before it is stored"
    )


class ResolutionReceipt(BaseModel):
    model_config = ConfigDict(frozen=True)

    item: ReviewItem
    # True when this call found the item already resolved the same way (a retry): nothing changed.
    replayed: bool = False


class ReviewPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[ReviewItem]
    # Pass as `next` to get the following page; absent on the last.
    next: str | None = None
