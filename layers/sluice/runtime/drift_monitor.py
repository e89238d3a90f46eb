"""Composition root of the `drift_monitor` function: its settings and its wiring, built at init."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import Field, TypeAdapter, field_validator

from sluice.lifecycle.config import DriftPolicy
from sluice.lifecycle.monitor import DriftMonitor, MonitoredEndpoint, QualityVerdict, WindowVerdict
from sluice.lifecycle.quality import QualityPolicy
from sluice.runtime import shared


class Settings(shared.PowertoolsSettings, shared.EventSettings):
    capture_bucket: str = Field(alias="CAPTURE_BUCKET_NAME", min_length=3)
    capture_prefix: str = Field(alias="CAPTURE_PREFIX", default="datacapture")
    baseline_bucket: str = Field(alias="BASELINE_BUCKET_NAME", min_length=3)
    baseline_prefix: str = Field(alias="BASELINE_PREFIX", default="baselines")
    endpoints: list[MonitoredEndpoint] = Field(alias="MONITORED_ENDPOINTS", min_length=1)
    policy: DriftPolicy = Field(alias="DRIFT_POLICY", default_factory=DriftPolicy)
    # Feedback accuracy per window (QualityDegraded); no table: drift only.
    feedback_table: str | None = Field(None, alias="FEEDBACK_TABLE_NAME", min_length=3)
    quality: QualityPolicy = Field(alias="QUALITY_POLICY", default_factory=QualityPolicy)

    @field_validator("endpoints", "policy", "quality", mode="before")
    @classmethod
    def _structured_from_json(cls, value: Any) -> Any:
        # The environment carries structured values as JSON (FunctionSettings.environment renders them so).
        return json.loads(value) if isinstance(value, str) else value


def build(settings: Settings) -> DriftMonitor:
    from sluice.adapters.clients import client
    from sluice.adapters.dynamodb_feedback import DynamoFeedbackStore
    from sluice.adapters.eventbridge import EventBridgePublisher
    from sluice.adapters.s3_baselines import S3Baselines
    from sluice.adapters.s3_capture import S3DataCapture

    s3 = client("s3")
    return DriftMonitor(
        captures=S3DataCapture(s3, bucket=settings.capture_bucket, prefix=settings.capture_prefix),
        baselines=S3Baselines(s3, bucket=settings.baseline_bucket, prefix=settings.baseline_prefix),
        events=EventBridgePublisher(client("events"), settings.event_bus_name),
        policy=settings.policy,
        feedback=DynamoFeedbackStore(client("dynamodb"), settings.feedback_table)
        if settings.feedback_table
        else None,
        quality=settings.quality,
    )


_SCHEDULED_TIME = TypeAdapter(datetime)


def run_scheduled(
    event: dict[str, Any], settings: Settings, monitor: DriftMonitor
) -> tuple[list[WindowVerdict], list[QualityVerdict]]:
    """An EventBridge schedule event: the window ends at the event's scheduled `time`, so a retried
    invocation judges the same window as the first."""
    window_end = _SCHEDULED_TIME.validate_python(event["time"])
    correlation_id = str(event.get("id") or "") or None
    drift = monitor.run(settings.endpoints, window_end=window_end, correlation_id=correlation_id)
    quality = monitor.judge_quality(
        [endpoint.route for endpoint in settings.endpoints],
        window_end=window_end,
        correlation_id=correlation_id,
    )
    return drift, quality
