"""The ingest queue's SQS batches: S3 notifications inside, one uploaded object per record.

Processed through Powertools BatchProcessor with partial batch failures. When an object needs
more than one invocation, its notification is sent to the queue again (a continuation) rather
than failed, so a long file never counts against the queue's maxReceiveCount.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sluice.observability import logger
from sluice.uploads.model import SourceObject
from sluice.uploads.service import IngestOutcome, IngestService

TEST_EVENT = "s3:TestEvent"


class S3Notification(BaseModel):
    """An S3 event notification, or the `s3:TestEvent` S3 sends on set-up (no records).

    Records are read through Powertools' `S3EventRecord` data class rather than its parser model
    (`S3RecordModel`): the parser requires fields Sluice never reads (userIdentity,
    requestParameters, responseElements, the bucket's ownerIdentity), which moto's notifications
    leave out. Records stay raw beside their parsed form: a continuation re-sends them as S3 did.
    """

    model_config = ConfigDict(populate_by_name=True)

    event: str | None = Field(None, alias="Event")
    records: list[dict[str, Any]] = Field(default_factory=list, alias="Records")

    def sources(self) -> list[tuple[dict[str, Any], SourceObject]]:
        found = []
        for raw in self.records:
            record = S3EventRecord(raw)
            if not record.event_name.startswith("ObjectCreated"):
                continue
            uploaded = record.s3.get_object
            source = SourceObject(
                bucket=record.s3.bucket.name,
                key=unquote_plus(uploaded.key),  # S3 URL-encodes keys in notifications
                version_id=uploaded.version_id or None,
                etag=uploaded.etag,
                size=uploaded.size,
            )
            found.append((raw, source))
        return found


class Continuations(Protocol):
    def send_raw(self, queue_url: str, body: str) -> None: ...


@dataclass(frozen=True)
class Ingestion:
    service: IngestService
    continuations: Continuations
    queue_url: str


def handle_ingest_batch(
    event: dict[str, Any], context: Any, ingestion: Ingestion
) -> PartialItemFailureResponse:
    def ingest(record: SQSRecord) -> None:
        try:
            notification = S3Notification.model_validate(json.loads(record.body))
            sources = notification.sources()
        except (ValueError, KeyError, TypeError, ValidationError):
            logger.error("not an S3 notification", extra={"message_id": record.message_id})
            raise
        if notification.event == TEST_EVENT:
            logger.info("S3 test event", extra={"message_id": record.message_id})
            return
        for index, (_, source) in enumerate(sources):
            outcome = ingestion.service.ingest(source, remaining_ms=context.get_remaining_time_in_millis)
            if outcome is IngestOutcome.CONTINUE:
                rest = [raw for raw, _ in sources[index:]]
                ingestion.continuations.send_raw(ingestion.queue_url, json.dumps({"Records": rest}))
                return

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=ingest, processor=processor, context=context)
