"""The `api` function: its environment and its dependencies (the request path)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from sluice.adapters.clients import client
from sluice.runtime import shared
from sluice.runtime.cost_settings import CostSettings, budget_and_meter, job_admission
from sluice.runtime.observability_settings import AuditSettings, SignalSettings, audit_trail, signals

if TYPE_CHECKING:
    from sluice.routing.ports import ModelEndpoint
    from sluice.serving.api import ApiDependencies


class Settings(
    shared.JobSettings,
    shared.BreakerSettings,
    shared.PiiSettings,
    CostSettings,
    SignalSettings,
    AuditSettings,
):
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE_NAME", min_length=3)
    max_request_bytes: int = Field(512 * 1024, alias="MAX_REQUEST_BYTES", ge=1024)
    idempotency_ttl_seconds: int = Field(3600, alias="IDEMPOTENCY_TTL_SECONDS", ge=60)
    # API key ids (tenants) allowed to re-identify pseudonyms; comma-separated.
    reveal_tenants: str | None = Field(None, alias="REVEAL_TENANTS")

    @property
    def reveal_tenant_ids(self) -> frozenset[str]:
        listed = (self.reveal_tenants or "").split(",")
        return frozenset(tenant.strip() for tenant in listed if tenant.strip())


def build(
    settings: Settings,
    *,
    clients: shared.ClientFactory = client,
    endpoint: ModelEndpoint | None = None,
    clock: shared.Clock | None = None,
) -> ApiDependencies:
    """`endpoint` and `clock` are for tests: SageMaker and time are the only parts they replace."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from sluice.adapters.sqs_queue import SqsJobQueue
    from sluice.serving.api import ApiDependencies
    from sluice.serving.idempotency import IdempotentSubmit
    from sluice.serving.service import InferenceService

    budget, meter = budget_and_meter(settings, clients)
    operational, audit = signals(settings), audit_trail(settings, clients)
    service = InferenceService(
        signals=operational,
        audit=audit,
        routes=shared.route_source(settings, clients),
        invoker=shared.invoker(settings, clock or shared.Clock.real(), clients),
        jobs=shared.job_store(settings, clients),
        queue=SqsJobQueue(clients("sqs")),
        endpoint=endpoint or shared.sagemaker_endpoint(settings.routes),
        redactor=shared.input_redactor(settings, clients),
        reveal_tenants=settings.reveal_tenant_ids,
        budget=budget,
        meter=meter,
        admission=job_admission(settings, clients),
    )
    store = DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=clients("dynamodb"))
    return ApiDependencies(
        service=service,
        idempotent_submit=IdempotentSubmit(store, ttl_seconds=settings.idempotency_ttl_seconds),
        max_request_bytes=settings.max_request_bytes,
        signals=operational,
        audit=audit,
    )
