"""The review queue's batches into the review store, with partial batch failures."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from sluice.observability.correlation import correlated
from sluice.review.models import ReviewRequest
from sluice.review.service import ReviewIntake


def handle_review_batch(
    event: dict[str, Any], context: Any, intake: ReviewIntake
) -> PartialItemFailureResponse:
    def record_handler(record: SQSRecord) -> None:
        # A malformed message raises: it is retried, then kept in the DLQ (alarmed), never dropped.
        request = ReviewRequest.model_validate_json(record.body)
        with correlated(request.correlation_id):
            intake.accept(request)

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
