"""The REST API's request and responses: the platform's public shape, pinned by contract tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from sluice.config import RouteName, VariantName
from sluice.guardrails.models import GuardrailReport
from sluice.jobs.models import ErrorDetail, InferenceMode, Job, JobStatus
from sluice.routing.table import Served


class InferenceRequest(BaseModel):
    """Body of `POST /v1/inferences`."""

    model_config = ConfigDict(extra="forbid")

    route: RouteName = Field(description="Named route, e.g. `intent`")
    input: dict[str, JsonValue] = Field(description="Model input; the route defines the fields")
    mode: InferenceMode = Field(InferenceMode.SYNC, description="`sync` answers now, `async` queues a job")
    variant: VariantName | None = Field(
        None, description="Serve on this production variant (SageMaker TargetVariant) instead of the weights"
    )


class ErrorResponse(BaseModel):
    error: ErrorDetail


class SyncInferenceResponse(Served):
    id: str
    status: JobStatus = JobStatus.SUCCEEDED
    output: dict[str, Any]
    pii: dict[str, int] = Field(default_factory=dict, description="Redacted entities, counts per type")
    latency_ms: float
    guardrails: GuardrailReport | None = Field(
        None, description="What the route's output checks found; `flagged` names the checks the answer failed"
    )


class AcceptedJob(BaseModel):
    id: str
    status: JobStatus = JobStatus.QUEUED
    route: str
    pii: dict[str, int] = Field(default_factory=dict)


class JobView(BaseModel):
    """Body of `GET /v1/inferences/{id}`."""

    id: str
    route: str
    status: JobStatus
    created_at: datetime
    updated_at: datetime
    endpoint: str | None = None
    variant: str | None = None
    model_version: str | None = None
    output: dict[str, Any] | None = None
    guardrails: GuardrailReport | None = None
    error: ErrorDetail | None = None

    @classmethod
    def of(cls, job: Job) -> JobView:
        """What a tenant may see of its job: never the tenant, attempts or correlation id."""
        return cls.model_validate(job.model_dump(exclude={"tenant", "attempts", "correlation_id"}))
