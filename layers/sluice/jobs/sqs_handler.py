"""SQS batches of jobs through Powertools BatchProcessor, with partial batch failures.

The batch is served in two steps: the worker first runs every parseable job (so it can send
same-route jobs to the model in one call), then BatchProcessor settles each record from
those outcomes. Records that do not parse fail in BatchProcessor and reach the DLQ.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json, ValidationError

from sluice.jobs.models import JobMessage
from sluice.jobs.worker import Delivery, JobWorker, Outcome
from sluice.observability import logger


class JobQueueRecord(SqsRecordModel):
    body: Json[JobMessage]


class RetryLater(Exception):
    """Leaves the message on the queue; SQS redelivers it after the visibility timeout."""


def handle_job_batch(event: dict[str, Any], context: Any, worker: JobWorker) -> PartialItemFailureResponse:
    deliveries = []
    for raw in event.get("Records", []):
        try:
            record = JobQueueRecord.model_validate(raw)
        except ValidationError:
            logger.error("unparseable job message", extra={"message_id": raw.get("messageId")})
            continue
        receive_count = int(record.attributes.ApproximateReceiveCount)
        deliveries.append(Delivery(record.messageId, receive_count, record.body))
    outcomes = worker.run(deliveries)

    def settle(record: JobQueueRecord) -> None:
        outcome = outcomes.get(record.messageId, Outcome(retry=True, reason="not processed"))
        if outcome.retry:
            raise RetryLater(outcome.reason)

    processor = BatchProcessor(
        event_type=EventType.SQS, model=JobQueueRecord, raise_on_entire_batch_failure=False
    )
    return process_partial_response(event=event, record_handler=settle, processor=processor, context=context)
