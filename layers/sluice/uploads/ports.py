"""What ingestion needs from the outside world: objects, the batch record, job records, queues."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol

from sluice.jobs.models import Job, JobMessage, JobStatus
from sluice.uploads.model import Batch


class ObjectStore(Protocol):
    def read(self, bucket: str, key: str, *, version_id: str | None, start: int = 0) -> Iterator[bytes]:
        """The object's bytes from `start`, in chunks, streamed (a Range request past 0)."""
        ...

    def put(self, bucket: str, key: str, body: bytes, *, content_type: str) -> None: ...

    def delete(self, bucket: str, key: str, *, version_id: str | None) -> None:
        """Delete the object (that version, for good, when given); deleting a missing one is fine."""
        ...


class CheckpointConflict(Exception):
    """Another invocation moved the batch on since we read it: it owns the file now."""


class BatchStore(Protocol):
    def start(self, batch: Batch) -> Batch:
        """Create the batch unless it exists; returns the stored one (resume from there)."""
        ...

    def get(self, batch_id: str) -> Batch | None: ...

    def checkpoint(self, batch: Batch, *, previous_line: int) -> None:
        """Save the reading side (counts, line, offset, status) if still at `previous_line`."""
        ...

    def record_outcomes(self, batch_id: str, outcomes: Sequence[tuple[str, JobStatus]]) -> int:
        """Count final jobs `(job id, status)` once each; returns how many were not counted before."""
        ...

    def claim_completion(self, batch_id: str) -> bool:
        """Move a fully read batch to `completed`; True for exactly one caller."""
        ...

    def mark_event_published(self, batch_id: str, *, now: datetime) -> None: ...


class QueuedJobs(Protocol):
    def create_all_if_absent(self, jobs: Sequence[Job]) -> int:
        """Create the jobs whose ids are new (one call for many); returns how many were."""
        ...


class JobBatchQueue(Protocol):
    def send_batch(self, queue_url: str, messages: Sequence[JobMessage]) -> None:
        """Send up to 10 messages in one call; raises unless every one was accepted."""
        ...
