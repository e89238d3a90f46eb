"""Batch accounting: results parts, counters, the per-file report and `BatchCompleted`.

Used by the worker (as its `BatchTracker`) when batch jobs finish, and by ingestion when it
stops reading. Reports are rendered from the batch record alone, so any writer can rewrite
them; the last write always carries the final counts (see `publish_report`).
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from sluice.events import BatchCompleted, Event
from sluice.jobs.models import Job, utc_now
from sluice.observability import logger, metrics
from sluice.ports import EventPublisher
from sluice.uploads.model import Batch, BatchStatus
from sluice.uploads.ports import BatchStore, ObjectStore


class BatchLedger:
    def __init__(
        self,
        *,
        batches: BatchStore,
        objects: ObjectStore,
        events: EventPublisher,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._batches = batches
        self._objects = objects
        self._events = events
        self._clock = clock

    def record(self, jobs: Sequence[Job]) -> None:
        """Write the results of final batch jobs and count them, once each; then settle."""
        by_batch: dict[str, list[Job]] = defaultdict(list)
        for job in jobs:
            if job.batch_id:
                by_batch[job.batch_id].append(job)
        for batch_id, group in by_batch.items():
            batch = self._batches.get(batch_id)
            if batch is None:
                logger.error("job of an unknown batch", extra={"batch_id": batch_id, "jobs": len(group)})
                continue
            new = [job for job in group if not job.batch_recorded]
            if new:
                # S3 has no append: each invocation writes its own part. Results come before
                # counts, so a counted job always has its line (a crash in between may repeat
                # a line in a later part; `job_id` tells them apart).
                part = f"{batch.results_prefix}part-{uuid.uuid4().hex}.jsonl"
                body = "".join(json.dumps(_result_line(job), separators=(",", ":")) + "\n" for job in new)
                self._objects.put(batch.bucket, part, body.encode(), content_type="application/x-ndjson")
                counted = self._batches.record_outcomes(batch_id, [(job.id, job.status) for job in new])
                metrics.add_metric(name="BatchJobsRecorded", unit=MetricUnit.Count, value=counted)
            # Redeliveries settle too: they retry a completion whose event failed to publish.
            self.settle(batch_id)

    def settle(self, batch_id: str) -> Batch | None:
        """Rewrite the report; when every record is final, complete the batch exactly once."""
        batch = self._batches.get(batch_id)
        if batch is None:
            return None
        if batch.status is BatchStatus.READ and batch.is_done and self._batches.claim_completion(batch_id):
            batch = batch.model_copy(update={"status": BatchStatus.COMPLETED})
        if batch.status is BatchStatus.COMPLETED and not batch.event_published:
            self.publish_report(batch)
            # The raw upload holds personal data that only its redacted jobs needed: once every
            # record is final it goes, before the completion is announced (so a failed delete is
            # retried with the settle). The bucket's lifecycle expires what never completes.
            self._objects.delete(batch.bucket, batch.key, version_id=batch.version_id)
            self._publish_completed(batch)
            return batch
        self.publish_report(batch)
        return batch

    def publish_report(self, batch: Batch) -> None:
        self._put_report(batch)
        if batch.status is BatchStatus.COMPLETED:
            return
        # A report rendered from older counts may land after the final one; whoever sees the
        # batch completed after writing puts the final report back (completion is set first).
        current = self._batches.get(batch.id)
        if current is not None and current.status is BatchStatus.COMPLETED:
            self._put_report(current)

    def _put_report(self, batch: Batch) -> None:
        body = json.dumps(batch.report(), indent=2).encode()
        self._objects.put(batch.bucket, batch.report_key, body, content_type="application/json")

    def _publish_completed(self, batch: Batch) -> None:
        detail = BatchCompleted(
            batch_id=batch.id,
            tenant=batch.tenant,
            route=batch.route,
            status="failed" if batch.error else "completed",
            error_code=batch.error.code if batch.error else None,
            received=batch.received,
            rejected=batch.rejected,
            queued=batch.queued,
            succeeded=batch.succeeded,
            failed=batch.failed,
            bucket=batch.bucket,
            report_key=batch.report_key,
            results_prefix=batch.results_prefix,
        )
        self._events.publish(Event.wrap(detail, correlation_id=batch.id))
        self._batches.mark_event_published(batch.id, now=self._clock())
        metrics.add_metric(name="BatchesCompleted", unit=MetricUnit.Count, value=1)
        logger.info("batch completed", extra={"batch_id": batch.id, "received": batch.received})


def _result_line(job: Job) -> dict[str, Any]:
    line: dict[str, Any] = {"id": job.record_id, "line": job.line, "job_id": job.id, "status": job.status}
    if job.error is not None:
        line["error"] = job.error.model_dump()  # a blocked output: its OUTPUT_* code
    else:
        line["output"] = job.output
    if job.guardrails is not None:
        # What the output guardrails found, as on `GET /v1/inferences/{id}`.
        line["guardrails"] = job.guardrails.model_dump(mode="json")
    return line
