"""Platform events: a versioned envelope around a pydantic-validated detail.

Consumers match on `detail-type` (the event name) and read `metadata.version` before the
detail, so a detail can evolve without breaking rules that match on the name.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Generic, TypeVar

from pydantic import BaseModel, Field, SerializeAsAny

from sluice.jobs.models import JobStatus, utc_now

EVENT_SOURCE = "sluice"


class EventDetail(BaseModel):
    """Base for event details: each names itself and carries a schema version."""

    event_name: ClassVar[str]
    event_version: ClassVar[int]


DetailT = TypeVar("DetailT", bound=EventDetail)


class EventMetadata(BaseModel):
    event_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    name: str
    version: int
    correlation_id: str | None = None
    created_at: datetime = Field(default_factory=utc_now)


class Event(BaseModel, Generic[DetailT]):
    metadata: EventMetadata
    # SerializeAsAny: the envelope is generic, the detail serializes with all of its own fields.
    detail: SerializeAsAny[DetailT]

    @classmethod
    def wrap(cls, detail: DetailT, *, correlation_id: str | None) -> Event[DetailT]:
        metadata = EventMetadata(
            name=detail.event_name, version=detail.event_version, correlation_id=correlation_id
        )
        return cls(metadata=metadata, detail=detail)


class InferenceCompleted(EventDetail):
    """A job reached a final state. Carries ids and codes only, never input or output."""

    event_name: ClassVar[str] = "InferenceCompleted"
    event_version: ClassVar[int] = 1

    job_id: str
    tenant: str
    route: str
    status: JobStatus
    endpoint: str | None = None
    variant: str | None = None
    model_version: str | None = None
    error_code: str | None = None


class BatchCompleted(EventDetail):
    """Every record of an uploaded file is final. Counts and locations only, never content."""

    event_name: ClassVar[str] = "BatchCompleted"
    event_version: ClassVar[int] = 1

    batch_id: str
    tenant: str
    route: str | None
    status: str  # "completed", or "failed" when the file itself was rejected (see error_code)
    error_code: str | None = None
    received: int
    rejected: int
    queued: int
    succeeded: int
    failed: int
    bucket: str
    report_key: str
    results_prefix: str
