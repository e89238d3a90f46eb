"""Ingest one uploaded object: stream it, validate and redact each record, queue jobs.

Uploaded records count against the upload tenant's budget and quotas like API requests: each
group of records is reserved (one conditional update for the group, the API's) before its jobs
are created and queued, and each job is settled by whoever finishes it (released if it fails).
A file stops at the first group the budget or a quota has no room for: the records before it
are served and charged, that group's records are rejected with BUDGET_EXCEEDED or
QUOTA_EXCEEDED, the rest of the file is not read, and the report gives the code, the reset time
and the first line not queued (re-upload from there after the reset). A tenant already over
its limit therefore has its file refused whole, with nothing queued or charged. A route a cost
action stopped taking jobs (`stop_jobs`) stops a file the same way, at the first group queued
while the pause holds, with ROUTE_PAUSED and the first line not queued (the API answers 503
ROUTE_PAUSED then).

Progress is checkpointed in the batch record (line, byte offset, counts) before the
invocation's time runs out; a later run resumes there. Lines after the last checkpoint may be
read twice, which is harmless: job ids derive from (bucket, key, version, line), job records
are created only if absent, and the worker's claim makes a repeated message a no-op.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from sluice.config import IngestConfig
from sluice.cost.budgets import BudgetGuard
from sluice.cost.models import Admission
from sluice.cost.ports import JobAdmission
from sluice.errors import (
    EMPTY_FILE,
    FILE_NOT_UTF8,
    FILE_TOO_LARGE,
    NO_RECORDS,
    BudgetExceeded,
    FileRejected,
    InvalidUtf8,
    LineTooLong,
    QuotaExceeded,
    RoutePaused,
    SluiceError,
    UnknownRoute,
)
from sluice.jobs.models import ErrorDetail, Job, JobMessage, utc_now
from sluice.observability import logger, metrics
from sluice.observability.correlation import correlated
from sluice.pii.ports import InputRedactor
from sluice.routing.table import RouteSource, RouteTarget, check_input
from sluice.uploads.batches import BatchLedger
from sluice.uploads.model import Batch, BatchStatus, Rejection, SourceObject, batch_id_for, job_id_for
from sluice.uploads.ports import BatchStore, JobBatchQueue, ObjectStore, QueuedJobs
from sluice.uploads.reader import Line, gunzip, is_gzip, split_lines
from sluice.uploads.records import (
    FileFormat,
    ParsedRecord,
    check_jsonl_shape,
    csv_columns,
    decode,
    format_of,
    parse_csv,
    parse_jsonl,
)

INCOMING_PREFIX = "incoming/"


class FileStopped(FileRejected):
    """The next records may not be queued (a limit, a paused route): the file stops there."""


class LimitReached(FileStopped):
    """The upload tenant's budget or a quota has no room for the next records: the file stops."""

    def __init__(self, code: str, message: str, *, resets_at: datetime) -> None:
        super().__init__(code, message)
        self.resets_at = resets_at


class IngestOutcome(StrEnum):
    DONE = "done"  # the file is fully accounted for (read to the end, or rejected)
    CONTINUE = "continue"  # time ran out: checkpointed, to be resumed by another invocation


def route_of(key: str) -> str | None:
    """`incoming/<route>/<file>` names the route; anything else has none."""
    if not key.startswith(INCOMING_PREFIX):
        return None
    route, separator, name = key.removeprefix(INCOMING_PREFIX).partition("/")
    return route if separator and name and route else None


@dataclass(frozen=True)
class _Parts:
    """What one ingestion uses; the service and each run of it share one set."""

    routes: RouteSource
    limits: IngestConfig
    objects: ObjectStore
    batches: BatchStore
    jobs: QueuedJobs
    queue: JobBatchQueue
    redactor: InputRedactor
    ledger: BatchLedger
    budget: BudgetGuard | None = None
    admission: JobAdmission | None = None

    def route(self, batch: Batch) -> RouteTarget:
        table = self.routes.current()
        try:
            return table.resolve(batch.route or "")
        except UnknownRoute:
            raise FileRejected(
                UnknownRoute.code,
                f"the key must start with incoming/<route>/; routes: {sorted(table.routes)}",
            ) from None


class IngestService:
    def __init__(
        self,
        *,
        routes: RouteSource,
        limits: IngestConfig,
        objects: ObjectStore,
        batches: BatchStore,
        jobs: QueuedJobs,
        queue: JobBatchQueue,
        redactor: InputRedactor,
        ledger: BatchLedger,
        budget: BudgetGuard | None = None,
        admission: JobAdmission | None = None,
    ) -> None:
        self._parts = _Parts(
            routes, limits, objects, batches, jobs, queue, redactor, ledger, budget, admission
        )

    def ingest(self, source: SourceObject, *, remaining_ms: Callable[[], int]) -> IngestOutcome:
        fresh = Batch(
            id=batch_id_for(source.bucket, source.key, source.version),
            bucket=source.bucket,
            key=source.key,
            version_id=source.version_id,
            version=source.version,
            tenant=self._parts.limits.tenant,
            route=route_of(source.key),
        )
        # A file's correlation id is its batch id: its jobs, their log lines and BatchCompleted carry it.
        with correlated(fresh.id):
            batch = self._parts.batches.start(fresh)
            if batch.status is not BatchStatus.READING:
                # A repeated event for a file already read: only make sure it completes.
                self._parts.ledger.settle(batch.id)
                return IngestOutcome.DONE
            return _Run(self._parts, source, batch, remaining_ms).execute()


@dataclass
class _Pending:
    line: int
    record: ParsedRecord
    input: dict[str, Any]


class _Run:
    """One invocation's pass over the file, from the batch's checkpoint."""

    def __init__(
        self, parts: _Parts, source: SourceObject, batch: Batch, remaining_ms: Callable[[], int]
    ) -> None:
        self._s = parts
        self._limits = parts.limits
        self._source = source
        self.batch = batch
        self._remaining_ms = remaining_ms
        self._checkpointed_line = batch.line
        self._since_checkpoint = 0
        self._pending: list[_Pending] = []
        self._route: RouteTarget | None = None
        self._format = FileFormat.JSONL

    def execute(self) -> IngestOutcome:
        try:
            if not self._read():
                self._flush()
                self._checkpoint()
                logger.info("ingest paused", extra={"batch_id": self.batch.id, "line": self.batch.line})
                return IngestOutcome.CONTINUE
            self._flush()
            if self.batch.received == 0:
                code = NO_RECORDS if self.batch.columns is not None else EMPTY_FILE
                raise FileRejected(code, "the file has no records")
        except FileRejected as rejected:
            # Records read before the error stay queued and accounted for; the report says why
            # the rest of the file was not read.
            stopped: FileRejected = rejected
            try:
                self._flush()
            except FileStopped as later:
                # Those records could not be queued either: the report says so (with the limit).
                stopped = later
            self.batch.error = ErrorDetail(code=stopped.code, message=stopped.message)
            if isinstance(stopped, LimitReached):
                self.batch.limit_resets_at = stopped.resets_at
            metrics.add_metric(name="FilesRejected", unit=MetricUnit.Count, value=1)
        self.batch.status = BatchStatus.READ
        self._checkpoint(report=False)
        self._s.ledger.settle(self.batch.id)
        logger.info(
            "ingest finished",
            extra={
                "batch_id": self.batch.id,
                "received": self.batch.received,
                "rejected": self.batch.rejected,
                "queued": self.batch.queued,
                "error_code": self.batch.error.code if self.batch.error else None,
            },
        )
        return IngestOutcome.DONE

    def _read(self) -> bool:
        """Take every line after the checkpoint; False when time ran short first."""
        if self.batch.line == 0 and self._source.size > self._limits.max_file_bytes:
            raise FileRejected(FILE_TOO_LARGE, f"the file is over {self._limits.max_file_bytes} bytes")
        self._route = self._s.route(self.batch)
        self._format = format_of(self.batch.key)
        for line in self._lines():
            if line.number <= self.batch.line:
                continue  # gzip resumes by decompressing again and skipping what is accounted for
            self._take(line)
            if self._since_checkpoint >= self._limits.checkpoint_every_records:
                self._flush()
                self._checkpoint()
            if self._remaining_ms() < self._limits.time_reserve_ms:
                return False
        return True

    def _lines(self) -> Iterator[Line]:
        resume_plain = self.batch.compressed is False and self.batch.offset > 0
        start = self.batch.offset if resume_plain else 0
        chunks = self._s.objects.read(
            self._source.bucket, self._source.key, version_id=self._source.version_id, start=start
        )
        first = next(chunks, b"")
        if self.batch.compressed is None:
            self.batch.compressed = is_gzip(first)
        stream: Iterator[bytes] = itertools.chain([first], chunks)
        if self.batch.compressed:
            stream = gunzip(
                stream,
                max_ratio=self._limits.max_decompression_ratio,
                max_bytes=self._limits.max_decompressed_bytes,
            )
        return split_lines(
            stream,
            max_line_bytes=self._limits.max_line_bytes,
            first_number=self.batch.line + 1 if resume_plain else 1,
            start=start,
        )

    def _take(self, line: Line) -> None:
        try:
            record = self._parse(line)
        except FileRejected:
            raise
        except SluiceError as error:
            self._reject(line.number, error.code)
        else:
            if record is not None:
                self._queue_record(line.number, record)
        self._advance(line)

    def _parse(self, line: Line) -> ParsedRecord | None:
        """The line's record; None for a blank line or the CSV header."""
        if line.data is None:
            raise LineTooLong(f"the line is over {self._limits.max_line_bytes} bytes")
        if not line.data.strip():
            return None
        started = self.batch.received > 0 or self.batch.columns is not None
        try:
            text = decode(line.data, first=not started)
        except InvalidUtf8:
            if not started:
                raise FileRejected(FILE_NOT_UTF8, "the file is not UTF-8 text") from None
            raise
        if self._format is FileFormat.JSONL:
            if not started:
                check_jsonl_shape(text)
            return parse_jsonl(text)
        if self.batch.columns is None:
            assert self._route is not None
            self.batch.columns = csv_columns(text, self._route.required_text_fields)
            return None
        return parse_csv(text, self.batch.columns)

    def _queue_record(self, number: int, record: ParsedRecord) -> None:
        assert self._route is not None
        try:
            check_input(self._route, record.input)
            redacted = self._s.redactor.redact(
                record.input,
                tenant=self.batch.tenant,
                allow=self._route.pii_allow,
                operators=self._route.pii_operators,
                max_input_bytes=self._route.max_input_bytes,
            )
        except SluiceError as error:
            self._reject(number, error.code)
            return
        self.batch.received += 1
        self._since_checkpoint += 1
        self._pending.append(_Pending(number, record, redacted.input))
        if len(self._pending) >= self._limits.send_batch_size:
            self._flush()

    def _reject(self, number: int, code: str) -> None:
        self.batch.received += 1
        self.batch.rejected += 1
        self._since_checkpoint += 1
        self.batch.rejected_by_code[code] = self.batch.rejected_by_code.get(code, 0) + 1
        if len(self.batch.rejections) < self._limits.max_reported_rejections:
            self.batch.rejections.append(Rejection(line=number, code=code))

    def _advance(self, line: Line) -> None:
        self.batch.line = line.number
        self.batch.offset = line.end

    def _flush(self) -> None:
        if not self._pending:
            return
        assert self._route is not None
        batch, source = self.batch, self._source
        jobs, messages = [], []
        for pending in self._pending:
            job_id = job_id_for(source.bucket, source.key, source.version, pending.line)
            jobs.append(
                Job(
                    id=job_id,
                    tenant=batch.tenant,
                    route=self._route.name,
                    correlation_id=batch.id,
                    batch_id=batch.id,
                    record_id=pending.record.record_id,
                    line=pending.line,
                )
            )
            messages.append(
                JobMessage(
                    job_id=job_id,
                    tenant=batch.tenant,
                    route=self._route.name,
                    input=pending.input,
                    correlation_id=batch.id,
                    batch_id=batch.id,
                    record_id=pending.record.record_id,
                    line=pending.line,
                )
            )
        self._stop_if_paused()
        admission = self._reserve(len(jobs))
        # Records before messages, so a queued job always has its record. A job an earlier
        # attempt created keeps its record, and its message is sent again anyway (that attempt
        # may have died before sending): the worker's claim absorbs the repeat.
        try:
            created = self._s.jobs.create_all_if_absent(jobs)
        except BaseException:
            # Whether any was created is unknown: the lines are read again on the retry, which
            # reserves again (a job created here then holds none: settled below its estimate).
            self._release(admission, len(jobs))
            raise
        # A job an earlier attempt created holds the reservation that attempt made.
        self._release(admission, len(jobs) - created)
        self._s.queue.send_batch(self._route.queue_url, messages)
        batch.queued += len(messages)
        metrics.add_metric(name="BatchRecordsQueued", unit=MetricUnit.Count, value=len(messages))
        self._pending.clear()

    def _reserve(self, records: int) -> Admission | None:
        """Hold the records' estimated cost and requests, or reject them and stop the file."""
        if self._s.budget is None:
            return None
        assert self._route is not None
        try:
            return self._s.budget.reserve(self.batch.tenant, self._route.name, requests=records)
        except (BudgetExceeded, QuotaExceeded) as refusal:
            first_line = self._stop_file(refusal.code, metric="FilesStoppedByBudget")
            raise LimitReached(
                refusal.code,
                f"{refusal.message}: records from line {first_line} on were not queued; "
                f"it resets at {refusal.resets_at.isoformat()}",
                resets_at=refusal.resets_at,
            ) from None

    def _stop_if_paused(self) -> None:
        assert self._route is not None
        if self._s.admission is None or not self._s.admission.paused(self._route.name):
            return
        first_line = self._stop_file(RoutePaused.code, metric="FilesStoppedByPause")
        raise FileStopped(
            RoutePaused.code,
            f"the route takes no new jobs while its cost alarm is raised: records from line "
            f"{first_line} on were not queued; upload them again once it takes jobs",
        )

    def _stop_file(self, code: str, *, metric: str) -> int:
        """Reject the records waiting to be queued with `code` (the file stops there); the first
        one's line."""
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
        first_line = self._pending[0].line
        for pending in self._pending:
            # Already counted as received: now rejected, so the batch can still complete.
            self.batch.rejected += 1
            self.batch.rejected_by_code[code] = self.batch.rejected_by_code.get(code, 0) + 1
            if len(self.batch.rejections) < self._limits.max_reported_rejections:
                self.batch.rejections.append(Rejection(line=pending.line, code=code))
        self._pending.clear()
        return first_line

    def _release(self, admission: Admission | None, records: int) -> None:
        if admission is None or records <= 0 or self._s.budget is None:
            return
        reservation = admission.reservation
        share = reservation.cost_micros // reservation.requests
        self._s.budget.release(
            Admission(
                reservation=replace(reservation, cost_micros=share * records, requests=records),
                usage=admission.usage,
            )
        )

    def _checkpoint(self, *, report: bool = True) -> None:
        self.batch.updated_at = utc_now()
        self._s.batches.checkpoint(self.batch, previous_line=self._checkpointed_line)
        self._checkpointed_line = self.batch.line
        self._since_checkpoint = 0
        if report:
            self._s.ledger.publish_report(self.batch)
