"""Run-time settings of each function, validated from its environment once per cold start."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, Json

from sluice.routing import RouteTable


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> _Settings:
        return cls.model_validate(dict(environ))


class ApiSettings(_Settings):
    jobs_table: str = Field(alias="JOBS_TABLE_NAME", min_length=3)
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE_NAME", min_length=3)
    routes: Json[RouteTable] = Field(alias="ROUTES")
    max_request_bytes: int = Field(512 * 1024, alias="MAX_REQUEST_BYTES", ge=1024)
    idempotency_ttl_seconds: int = Field(3600, alias="IDEMPOTENCY_TTL_SECONDS", ge=60)
    job_ttl_days: int = Field(30, alias="JOB_TTL_DAYS", ge=1)
    pii_key_secret_arn: str | None = Field(None, alias="PII_KEY_SECRET_ARN")
    pii_key_file: str | None = Field(None, alias="PII_KEY_FILE")


class WorkerSettings(_Settings):
    jobs_table: str = Field(alias="JOBS_TABLE_NAME", min_length=3)
    routes: Json[RouteTable] = Field(alias="ROUTES")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)
    # How long a claimed job is ours: the queue's visibility timeout.
    lease_seconds: int = Field(alias="JOB_LEASE_SECONDS", ge=1)
    job_ttl_days: int = Field(30, alias="JOB_TTL_DAYS", ge=1)
