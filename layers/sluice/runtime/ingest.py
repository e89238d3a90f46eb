"""The `ingest` function: its environment and its dependencies (uploaded files become jobs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from sluice.adapters.clients import client
from sluice.config import IngestConfig
from sluice.runtime import shared
from sluice.runtime.cost_settings import CostSettings, budget_and_meter, job_admission

if TYPE_CHECKING:
    from sluice.uploads.s3_events import Ingestion


class Settings(shared.JobSettings, shared.PiiSettings, shared.EventSettings, CostSettings):
    batches_table: str = Field(alias="BATCHES_TABLE_NAME", min_length=3)
    ingest_queue_url: str = Field(alias="INGEST_QUEUE_URL", min_length=1)
    limits: IngestConfig = Field(alias="INGEST_LIMITS")

    @field_validator("limits", mode="before")
    @classmethod
    def _limits_from_json(cls, value: Any) -> Any:
        return IngestConfig.model_validate_json(value) if isinstance(value, str | bytes) else value


def build(settings: Settings, *, clients: shared.ClientFactory = client) -> Ingestion:
    from datetime import timedelta

    from sluice.adapters.dynamodb_batches import DynamoBatchStore
    from sluice.adapters.s3_objects import S3Objects
    from sluice.adapters.sqs_batches import SqsBatchSender
    from sluice.uploads.s3_events import Ingestion
    from sluice.uploads.service import IngestService

    sqs = SqsBatchSender(clients("sqs"))
    events = shared.event_publisher(settings, clients)
    service = IngestService(
        routes=shared.route_source(settings, clients),
        limits=settings.limits,
        objects=S3Objects(clients("s3")),
        batches=DynamoBatchStore(
            clients("dynamodb"),
            settings.batches_table,
            jobs_table=settings.jobs_table,
            ttl=timedelta(days=settings.job_ttl_days),
        ),
        jobs=shared.job_store(settings, clients),
        queue=sqs,
        redactor=shared.input_redactor(settings, clients),
        ledger=shared.batch_ledger(
            batches_table=settings.batches_table, jobs=settings, events=events, clients=clients
        ),
        # Uploaded records count against the upload tenant's budget (reserved as they are queued).
        budget=budget_and_meter(settings, clients)[0],
        # ... and a route whose cost alarm stopped it taking jobs takes none from files either.
        admission=job_admission(settings, clients),
    )
    return Ingestion(service=service, continuations=sqs, queue_url=settings.ingest_queue_url)
