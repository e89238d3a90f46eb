"""The `reviews` function (the operator API of human review): its environment and dependencies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from sluice.adapters.clients import client
from sluice.runtime import shared
from sluice.runtime.observability_settings import AuditSettings, audit_trail

if TYPE_CHECKING:
    from sluice.review.api import OperatorApiDependencies


class Settings(AuditSettings, shared.PiiSettings):
    review_table: str = Field(alias="REVIEW_TABLE_NAME", min_length=3)
    # Resolutions become labelled feedback in the lifecycle's feedback table.
    feedback_table: str = Field(alias="FEEDBACK_TABLE_NAME", min_length=3)


def build(settings: Settings, *, clients: shared.ClientFactory = client) -> OperatorApiDependencies:
    from sluice.adapters.dynamodb_feedback import DynamoFeedbackStore
    from sluice.adapters.dynamodb_reviews import DynamoReviewStore
    from sluice.lifecycle.labels import route_labels
    from sluice.review.api import OperatorApiDependencies
    from sluice.review.service import ReviewService
    from sluice.runtime.api import comment_redactor

    return OperatorApiDependencies(
        service=ReviewService(
            store=DynamoReviewStore(clients("dynamodb"), settings.review_table),
            feedback=DynamoFeedbackStore(clients("dynamodb"), settings.feedback_table),
            # A reviewer's note is redacted as a feedback comment is: every entity type masked.
            redact=comment_redactor(shared.input_redactor(settings, clients)),
            labels=route_labels,
            audit=audit_trail(settings, clients),
        )
    )
