"""The job record and the route queue's message: what every path (API, worker, uploads) shares.

These pydantic models are stored and queued; contract tests pin them down.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from sluice.config import RouteName
from sluice.guardrails.models import GuardrailReport

JobId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="Job id (32 lowercase hex digits)")]


def new_job_id() -> str:
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(UTC)


class InferenceMode(StrEnum):
    SYNC = "sync"
    ASYNC = "async"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED)


class ErrorDetail(BaseModel):
    code: str
    message: str


class Job(BaseModel):
    """The job record in DynamoDB. Holds no input: the redacted input travels in the queue message."""

    id: str
    tenant: str
    route: str
    status: JobStatus = JobStatus.QUEUED
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    correlation_id: str | None = None
    attempts: int = 0
    endpoint: str | None = None
    variant: str | None = None
    model_version: str | None = None
    output: dict[str, Any] | None = None
    # What the output guardrails found (sluice.guardrails): set with the output.
    guardrails: GuardrailReport | None = None
    error: ErrorDetail | None = None
    event_published: bool = False
    # The micro-batch whose InferenceCompleted events this job's went out with: one marker record
    # per announcement says they were published (instead of a write to each job).
    announcement: str | None = None
    # Jobs queued from an uploaded file: their batch, the caller's record id and the line.
    batch_id: str | None = None
    record_id: str | None = None
    line: int | None = None
    # The job's outcome was written to its batch's results and counters (exactly once).
    batch_recorded: bool = False
    # Handed to an asynchronous endpoint: its inference's input and output in S3, and when (the
    # sweeper finishes such a job if SageMaker's notification never arrives).
    async_input: str | None = None
    async_output: str | None = None
    handed_over_at: int | None = None


class JobMessage(BaseModel):
    """Body of a route queue message: everything the worker needs to run the job."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    job_id: JobId
    tenant: str
    route: RouteName
    input: dict[str, JsonValue]
    correlation_id: str | None = None
    # The variant assigned at submission; absent (older messages, uploads) means the worker assigns.
    variant: str | None = None
    # Set for jobs queued from an uploaded file; absent in messages from the API.
    batch_id: str | None = None
    record_id: str | None = None
    line: int | None = Field(None, ge=1)


@dataclass(frozen=True)
class Submitted:
    """An inference queued on an asynchronous endpoint: where its input is and its output will be."""

    inference_id: str
    input_location: str
    output_location: str
