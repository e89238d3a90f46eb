"""The `review_intake` function (review queue to review table): its environment and dependencies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from sluice.adapters.clients import client
from sluice.runtime import shared

if TYPE_CHECKING:
    from sluice.review.service import ReviewIntake


class Settings(shared.PowertoolsSettings):
    review_table: str = Field(alias="REVIEW_TABLE_NAME", min_length=3)


def build(settings: Settings, *, clients: shared.ClientFactory = client) -> ReviewIntake:
    from sluice.adapters.dynamodb_reviews import DynamoReviewStore
    from sluice.review.service import ReviewIntake

    return ReviewIntake(DynamoReviewStore(clients("dynamodb"), settings.review_table))
