"""Composition root of the `feedback_export` function: labelled feedback to the pipeline's input."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field, TypeAdapter, field_validator

from sluice.lifecycle.config import FeedbackExportPolicy
from sluice.runtime import shared

if TYPE_CHECKING:
    from sluice.lifecycle.feedback_export import ExportReport, FeedbackExporter


class Settings(shared.PowertoolsSettings, shared.EventSettings):
    feedback_table: str = Field(alias="FEEDBACK_TABLE_NAME", min_length=3)
    training_data_bucket: str = Field(alias="TRAINING_DATA_BUCKET_NAME", min_length=3)
    training_data_prefix: str = Field("data/feedback", alias="TRAINING_DATA_PREFIX", min_length=1)
    routes: list[str] = Field(alias="FEEDBACK_ROUTES", min_length=1)
    policy: FeedbackExportPolicy = Field(alias="FEEDBACK_EXPORT_POLICY", default_factory=FeedbackExportPolicy)

    @field_validator("routes", "policy", mode="before")
    @classmethod
    def _structured_from_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


def build(settings: Settings, *, clients: shared.ClientFactory | None = None) -> FeedbackExporter:
    from sluice.adapters.clients import client
    from sluice.adapters.dynamodb_feedback import DynamoFeedbackStore
    from sluice.adapters.eventbridge import EventBridgePublisher
    from sluice.adapters.s3_training_data import S3TrainingData
    from sluice.lifecycle.feedback_export import FeedbackExporter

    make = clients or client
    return FeedbackExporter(
        history=DynamoFeedbackStore(make("dynamodb"), settings.feedback_table),
        sink=S3TrainingData(
            make("s3"), bucket=settings.training_data_bucket, prefix=settings.training_data_prefix
        ),
        events=EventBridgePublisher(make("events"), settings.event_bus_name),
        policy=settings.policy,
    )


_SCHEDULED_TIME = TypeAdapter(datetime)


def run_scheduled(
    event: dict[str, Any], settings: Settings, exporter: FeedbackExporter
) -> list[ExportReport]:
    """An EventBridge schedule event: everything stored before its scheduled `time` is exported."""
    return exporter.run(
        settings.routes,
        now=_SCHEDULED_TIME.validate_python(event["time"]),
        correlation_id=str(event.get("id") or "") or None,
    )
