"""Run-time settings of each function, validated from its environment once per cold start."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, Json

from sluice.config import BreakerConfig, IngestConfig
from sluice.routing import RouteTable


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> _Settings:
        return cls.model_validate(dict(environ))


class RoutingSettings(_Settings):
    """Where the live route table and the shared circuit breakers are (unset: fixed table, local breaker)."""

    route_table_parameter: str | None = Field(None, alias="ROUTE_TABLE_PARAMETER", min_length=1)
    route_table_max_age_seconds: int = Field(30, alias="ROUTE_TABLE_MAX_AGE_SECONDS", ge=1)
    breakers_table: str | None = Field(None, alias="BREAKERS_TABLE_NAME", min_length=3)
    breaker: Json[BreakerConfig] = Field(BreakerConfig(), alias="BREAKER_POLICY")


class PiiSettings(_Settings):
    """Key material and vault of the redactor: every function that redacts input has them."""

    pii_key_secret_arn: str | None = Field(None, alias="PII_KEY_SECRET_ARN")
    pii_key_file: str | None = Field(None, alias="PII_KEY_FILE")
    pii_vault_table: str | None = Field(None, alias="PII_VAULT_TABLE_NAME")


class ApiSettings(PiiSettings):
    jobs_table: str = Field(alias="JOBS_TABLE_NAME", min_length=3)
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE_NAME", min_length=3)
    routes: Json[RouteTable] = Field(alias="ROUTES")
    max_request_bytes: int = Field(512 * 1024, alias="MAX_REQUEST_BYTES", ge=1024)
    idempotency_ttl_seconds: int = Field(3600, alias="IDEMPOTENCY_TTL_SECONDS", ge=60)
    job_ttl_days: int = Field(30, alias="JOB_TTL_DAYS", ge=1)
    # API key ids (tenants) allowed to re-identify pseudonyms; comma-separated.
    reveal_tenants: str = Field("", alias="REVEAL_TENANTS")

    @property
    def reveal_tenant_ids(self) -> frozenset[str]:
        return frozenset(tenant.strip() for tenant in self.reveal_tenants.split(",") if tenant.strip())


class WorkerSettings(_Settings):
    jobs_table: str = Field(alias="JOBS_TABLE_NAME", min_length=3)
    routes: Json[RouteTable] = Field(alias="ROUTES")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)
    # How long a claimed job is ours: the queue's visibility timeout.
    lease_seconds: int = Field(alias="JOB_LEASE_SECONDS", ge=1)
    job_ttl_days: int = Field(30, alias="JOB_TTL_DAYS", ge=1)
    # Set when uploads are ingested: batch jobs then count towards their batch.
    batches_table: str | None = Field(None, alias="BATCHES_TABLE_NAME", min_length=3)
    # Where inputs for asynchronous endpoints are written (set when a route is asynchronous).
    async_bucket: str | None = Field(None, alias="ASYNC_BUCKET_NAME", min_length=3)


class AsyncResultSettings(_Settings):
    jobs_table: str = Field(alias="JOBS_TABLE_NAME", min_length=3)
    routes: Json[RouteTable] = Field(alias="ROUTES")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)
    job_ttl_days: int = Field(30, alias="JOB_TTL_DAYS", ge=1)
    batches_table: str | None = Field(None, alias="BATCHES_TABLE_NAME", min_length=3)


class IngestSettings(PiiSettings):
    jobs_table: str = Field(alias="JOBS_TABLE_NAME", min_length=3)
    batches_table: str = Field(alias="BATCHES_TABLE_NAME", min_length=3)
    routes: Json[RouteTable] = Field(alias="ROUTES")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)
    ingest_queue_url: str = Field(alias="INGEST_QUEUE_URL", min_length=1)
    limits: Json[IngestConfig] = Field(alias="INGEST_LIMITS")
    job_ttl_days: int = Field(30, alias="JOB_TTL_DAYS", ge=1)
