"""The batch record: one per uploaded object version, with its counts and resume checkpoint.

Ingestion owns the reading side (received, rejected, queued, offset, line); workers own the
outcome counters (succeeded, failed). Each side writes only its own attributes, so neither can
clobber the other.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from sluice.jobs.models import ErrorDetail, utc_now

# Fixed namespace: batch and job ids must come out the same in every invocation and region.
_NAMESPACE = uuid.UUID("5a1c3e0e-9b7f-4d52-8a55-2f3b6c1d9e41")


def batch_id_for(bucket: str, key: str, version: str) -> str:
    """One batch per object version: an S3 event delivered twice resumes the same batch."""
    return uuid.uuid5(_NAMESPACE, f"batch\0{bucket}\0{key}\0{version}").hex


def job_id_for(bucket: str, key: str, version: str, line: int) -> str:
    """Record-level idempotency: a line queued twice maps to one job (32 hex digits)."""
    return uuid.uuid5(_NAMESPACE, f"job\0{bucket}\0{key}\0{version}\0{line}").hex


class BatchStatus(StrEnum):
    READING = "reading"  # lines are still being read and queued
    READ = "read"  # nothing more will be queued (end of file, or the file was rejected)
    COMPLETED = "completed"  # every received record is final


class Rejection(BaseModel):
    """A rejected line: its number and a stable code, never its content."""

    line: int
    code: str


class SourceObject(BaseModel):
    """The uploaded object, as the S3 event names it."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int = 0

    @property
    def version(self) -> str:
        # Versioned buckets give a version id; otherwise the ETag tells uploads apart.
        return self.version_id or self.etag or "unversioned"


class Batch(BaseModel):
    id: str
    bucket: str
    key: str
    version_id: str | None = None
    version: str
    tenant: str
    route: str | None = None
    status: BatchStatus = BatchStatus.READING
    received: int = 0
    rejected: int = 0
    queued: int = 0
    succeeded: int = 0
    failed: int = 0
    # Checkpoint: the last line whose record is fully accounted for, and the byte offset
    # just after it in the stored object (plain files resume there with a Range request).
    line: int = 0
    offset: int = 0
    compressed: bool | None = None
    columns: tuple[str, ...] | None = None
    rejections: list[Rejection] = Field(default_factory=list)
    rejected_by_code: dict[str, int] = Field(default_factory=dict)
    error: ErrorDetail | None = None
    # A budget or quota stopped the file (error BUDGET_EXCEEDED / QUOTA_EXCEEDED): when it resets.
    limit_resets_at: datetime | None = None
    event_published: bool = False
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)

    @property
    def is_done(self) -> bool:
        """Every record is final: nothing more will be read, and every queued job finished."""
        return self.status is not BatchStatus.READING and (
            self.succeeded + self.failed + self.rejected >= self.received
        )

    @property
    def report_key(self) -> str:
        return f"reports/{self.id}.json"

    @property
    def results_prefix(self) -> str:
        return f"results/{self.id}/"

    def report(self) -> dict[str, Any]:
        """The per-file report: counts, rejected lines by number and code, never content."""
        return {
            "batch_id": self.id,
            "source": {"bucket": self.bucket, "key": self.key, "version_id": self.version_id},
            "route": self.route,
            "status": self.status,
            "error": self.error.model_dump() if self.error else None,
            "limit_resets_at": self.limit_resets_at.isoformat() if self.limit_resets_at else None,
            "received": self.received,
            "rejected": self.rejected,
            "queued": self.queued,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "rejected_lines": [r.model_dump() for r in self.rejections],
            # The list is capped; the counts per code always cover every rejected line.
            "rejected_lines_truncated": len(self.rejections) < self.rejected,
            "rejected_by_code": self.rejected_by_code,
            "results_prefix": self.results_prefix,
            "updated_at": self.updated_at.isoformat(),
        }
