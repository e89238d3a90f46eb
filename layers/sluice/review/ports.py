"""What human review needs from outside: the review queue and the review store."""

from __future__ import annotations

from typing import Protocol

from sluice.review.models import Resolution, ReviewItem, ReviewRequest, ReviewState


class ReviewQueue(Protocol):
    def submit(self, request: ReviewRequest) -> None: ...


class ReviewStore(Protocol):
    def put_if_absent(self, item: ReviewItem) -> bool:
        """Store a new item; False if one with its id exists (a redelivered message)."""
        ...

    def get(self, review_id: str) -> ReviewItem | None: ...

    def list(
        self, *, state: ReviewState, route: str | None, limit: int, after: str | None
    ) -> tuple[list[ReviewItem], str | None]:
        """Items in `state` (of `route`, if given), oldest first; the token of the next page."""
        ...

    def resolve(self, review_id: str, resolution: Resolution) -> ReviewItem | None:
        """Resolve an open item (a conditional write); None if it was not open."""
        ...
