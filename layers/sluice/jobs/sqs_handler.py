"""The route queues' SQS batches: partial batch failures from the worker's outcomes.

Powertools' BatchProcessor is not used here: it calls a handler once per record, and the worker
must see the whole SQS batch at once to send same-route jobs to the model in one call (the
micro-batch). So the records are parsed with Powertools' `SqsRecordModel`, the worker runs them
together, and the response lists the records to retry, in the shape Lambda's
ReportBatchItemFailures expects. A record that does not parse is reported failed: it is retried
until the queue's redrive policy moves it to the dead-letter queue, whose alarm notifies.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json, ValidationError

from sluice.jobs.models import JobMessage
from sluice.jobs.worker import Delivery, JobWorker
from sluice.observability import logger


class JobQueueRecord(SqsRecordModel):
    body: Json[JobMessage]


def handle_job_batch(event: dict[str, Any], context: Any, worker: JobWorker) -> PartialItemFailureResponse:
    deliveries = []
    unparseable = []
    for raw in event.get("Records", []):
        try:
            record = JobQueueRecord.model_validate(raw)
        except ValidationError:
            logger.error("unparseable job message", extra={"message_id": raw.get("messageId")})
            unparseable.append(str(raw.get("messageId", "")))
            continue
        receive_count = int(record.attributes.ApproximateReceiveCount)
        deliveries.append(Delivery(record.messageId, receive_count, record.body))
    outcomes = worker.run(deliveries)
    # A delivery the worker gave no outcome for is retried, never dropped.
    retried = [
        d.message_id for d in deliveries if d.message_id not in outcomes or outcomes[d.message_id].retry
    ]
    for delivery in deliveries:
        outcome = outcomes.get(delivery.message_id)
        if outcome is not None and outcome.retry:
            logger.info("job retried", extra={"message_id": delivery.message_id, "reason": outcome.reason})
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in unparseable + retried]}
