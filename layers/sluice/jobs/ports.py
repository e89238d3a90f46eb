"""What the queued path needs from outside: the job store, the route queues, the upload batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sluice.guardrails.models import GuardrailReport
from sluice.jobs.models import ErrorDetail, Job, JobMessage, Submitted
from sluice.routing.table import Served


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"  # this worker now owns the job
    FINAL = "final"  # already succeeded or failed: a redelivery, nothing to do
    BUSY = "busy"  # another worker holds an unexpired lease
    MISSING = "missing"  # no such job record


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    job: Job | None


class JobStore(Protocol):
    def create(self, job: Job) -> None: ...

    def get(self, job_id: str) -> Job | None: ...

    def get_many(self, job_ids: Sequence[str]) -> list[Job]:
        """The jobs that exist among `job_ids` (strongly consistent), in any order."""
        ...

    def claim(self, job_id: str, *, lease_seconds: int, now: datetime) -> Claim: ...

    def succeed(
        self,
        job_id: str,
        *,
        served: Served,
        output: dict[str, Any],
        announcement: str | None = None,
        guardrails: GuardrailReport | None = None,
    ) -> Job:
        """Final: succeeded. `announcement` names the micro-batch its event will go out with;
        `guardrails` is what the output guard found (the output is the guarded one)."""
        ...

    def fail(
        self,
        job_id: str,
        *,
        error: ErrorDetail,
        served: Served | None = None,
        announcement: str | None = None,
    ) -> Job: ...

    def release(self, job_id: str) -> None: ...

    def hand_over(self, job_id: str, *, served: Served, submitted: Submitted, now: datetime) -> None:
        """The job now runs on an asynchronous endpoint: keep it running, with no lease to expire,
        and remember where its result will be (for the sweeper)."""
        ...

    def handed_over_before(self, route: str, before: datetime) -> list[Job]:
        """Jobs of `route` still running on an asynchronous endpoint, handed over before `before`."""
        ...

    def mark_event_published(self, job_id: str) -> None: ...

    def mark_announced(self, announcement: str) -> None:
        """Every job of `announcement` had its InferenceCompleted published: one write for all."""
        ...

    def is_announced(self, announcement: str) -> bool: ...


class JobQueue(Protocol):
    def send(self, queue_url: str, message: JobMessage) -> str: ...


class BatchTracker(Protocol):
    """Accounts for jobs queued from uploaded files: results, batch counters, completion."""

    def record(self, jobs: Sequence[Job]) -> None: ...
