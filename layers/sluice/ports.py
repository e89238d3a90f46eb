"""Ports: what the platform logic needs from the outside world. Adapters implement them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sluice.contracts import ErrorDetail, Job, JobMessage, Served
from sluice.events import Event


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
        self, job_id: str, *, served: Served, output: dict[str, Any], announcement: str | None = None
    ) -> Job:
        """Final: succeeded. `announcement` names the micro-batch its event will go out with."""
        ...

    def fail(self, job_id: str, *, error: ErrorDetail, served: Served | None = None) -> Job: ...

    def release(self, job_id: str) -> None: ...

    def hand_over(self, job_id: str, *, served: Served) -> None:
        """The job now runs on an asynchronous endpoint: keep it running, with no lease to expire."""
        ...

    def mark_event_published(self, job_id: str) -> None: ...

    def mark_announced(self, announcement: str) -> None:
        """Every job of `announcement` had its InferenceCompleted published: one write for all."""
        ...

    def is_announced(self, announcement: str) -> bool: ...


class JobQueue(Protocol):
    def send(self, queue_url: str, message: JobMessage) -> str: ...


@dataclass(frozen=True)
class Invocation:
    body: dict[str, Any]
    variant: str


class ModelEndpoint(Protocol):
    def invoke(
        self, endpoint_name: str, payload: dict[str, Any], *, target_variant: str | None = None
    ) -> Invocation: ...


class AsyncModelEndpoint(Protocol):
    def invoke_async(
        self,
        endpoint_name: str,
        *,
        input_location: str,
        inference_id: str,
        invocation_timeout_seconds: int | None = None,
    ) -> str:
        """Queue an inference on an asynchronous endpoint; returns the output's S3 location."""
        ...


class Objects(Protocol):
    def put(self, bucket: str, key: str, body: bytes, *, content_type: str) -> None: ...

    def get(self, bucket: str, key: str) -> bytes: ...


class EventPublisher(Protocol):
    def publish(self, event: Event[Any]) -> None: ...

    def publish_all(self, events: Sequence[Event[Any]]) -> list[bool]:
        """Publish in as few calls as the bus allows; True for each event that was accepted."""
        ...


@dataclass(frozen=True)
class RedactedInput:
    input: dict[str, Any]
    counts: dict[str, int]


class InputRedactor(Protocol):
    """Strips personal data from a request input before it is routed anywhere."""

    def redact(
        self,
        value: dict[str, Any],
        *,
        tenant: str,
        allow: tuple[str, ...],
        operators: Mapping[str, str] | None = None,
        max_input_bytes: int | None = None,
    ) -> RedactedInput:
        """`max_input_bytes`: the route's input limit, from which the time budget follows."""
        ...

    def reveal(self, value: dict[str, Any], *, tenant: str, can_reveal: bool) -> dict[str, Any]:
        """Puts back the values behind pseudonyms; refuses callers without the permission."""
        ...


class BatchTracker(Protocol):
    """Accounts for jobs queued from uploaded files: results, batch counters, completion."""

    def record(self, jobs: Sequence[Job]) -> None: ...
