"""The route queues' SQS batches: partial batch failures from the worker's outcomes.

Powertools' BatchProcessor is not used here: it calls a handler once per record, and the worker
must see the whole SQS batch at once to send same-route jobs to the model in one call (the
micro-batch). So the records are parsed with Powertools' `SqsRecordModel`, the worker runs them
together, and the response lists the records to retry, in the shape Lambda's
ReportBatchItemFailures expects. A record that does not parse is reported failed: it is retried
until the queue's redrive policy moves it to the dead-letter queue, whose alarm notifies.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json, ValidationError

from sluice.jobs.models import JobMessage
from sluice.jobs.worker import Delivery, JobWorker
from sluice.observability import logger
from sluice.observability.correlation import correlated


class JobQueueRecord(SqsRecordModel):
    body: Json[JobMessage]


def handle_job_batch(event: dict[str, Any], context: Any, worker: JobWorker) -> PartialItemFailureResponse:
    deliveries = []
    unparseable = []
    ages: dict[str, list[float]] = defaultdict(list)
    received_at_ms = time.time() * 1000
    for raw in event.get("Records", []):
        try:
            record = JobQueueRecord.model_validate(raw)
        except ValidationError:
            logger.error("unparseable job message", extra={"message_id": raw.get("messageId")})
            unparseable.append(str(raw.get("messageId", "")))
            continue
        receive_count = int(record.attributes.ApproximateReceiveCount)
        delivery = Delivery(record.messageId, receive_count, record.body)
        deliveries.append(delivery)
        with correlated(delivery.message.correlation_id):
            logger.info("job received", extra=_job_keys(delivery, receive_count=receive_count))
        # How long the job waited on its queue, from SQS's own send time (milliseconds).
        sent_at_ms = record.attributes.SentTimestamp.timestamp() * 1000
        ages[delivery.message.route].append(max(0.0, received_at_ms - sent_at_ms))
    if worker.signals is not None:
        for route, waited in ages.items():
            worker.signals.queue_age(route, waited)
    # The batch's own lines carry its one correlation id when every job shares it (one request
    # or one uploaded file); each job's own lines (received, settled) always carry its own.
    shared = {d.message.correlation_id for d in deliveries}
    with correlated(shared.pop() if len(shared) == 1 else None):
        outcomes = worker.run(deliveries)
    # A delivery the worker gave no outcome for is retried, never dropped.
    retried = [
        d.message_id for d in deliveries if d.message_id not in outcomes or outcomes[d.message_id].retry
    ]
    for delivery in deliveries:
        outcome = outcomes.get(delivery.message_id)
        with correlated(delivery.message.correlation_id):
            if outcome is None or outcome.retry:
                reason = outcome.reason if outcome is not None else "NO_OUTCOME"
                logger.info("job retried", extra={**_job_keys(delivery), "reason": reason})
            else:
                logger.info("job settled", extra=_job_keys(delivery))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in unparseable + retried]}


def _job_keys(delivery: Delivery, **more: Any) -> dict[str, Any]:
    """What a job's log line says: ids only, never its input."""
    message = delivery.message
    return {"message_id": delivery.message_id, "job_id": message.job_id, "route": message.route, **more}
