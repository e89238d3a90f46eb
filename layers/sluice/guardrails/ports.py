"""What the guardrails need from outside: a moderation classifier (optional) and a review sink."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sluice.review.models import ReviewRequest


class ModerationClassifier(Protocol):
    """A second opinion on generated text, e.g. a moderation model on its own endpoint.

    One mapping per text, in order: category name (a short closed-set token such as `violence`)
    to a score in [0, 1]. Raising fails the check closed. The default is no classifier.
    """

    def classify(self, texts: Sequence[str]) -> Sequence[Mapping[str, float]]: ...


class ReviewSink(Protocol):
    """Where outputs that need a person go (the review queue)."""

    def submit(self, request: ReviewRequest) -> None: ...
