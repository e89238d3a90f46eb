"""The `api` function: its environment and its dependencies (the request path)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import Field

from sluice.adapters.clients import client
from sluice.runtime import shared
from sluice.runtime.cost_settings import CostSettings, budget_and_meter, job_admission
from sluice.runtime.observability_settings import AuditSettings, SignalSettings, audit_trail, signals

if TYPE_CHECKING:
    from sluice.pii.ports import InputRedactor
    from sluice.routing.ports import ModelEndpoint
    from sluice.serving.api import ApiDependencies


class Settings(
    shared.JobSettings,
    shared.BreakerSettings,
    shared.GuardrailSettings,
    CostSettings,
    SignalSettings,
    AuditSettings,
):
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE_NAME", min_length=3)
    max_request_bytes: int = Field(512 * 1024, alias="MAX_REQUEST_BYTES", ge=1024)
    idempotency_ttl_seconds: int = Field(3600, alias="IDEMPOTENCY_TTL_SECONDS", ge=60)
    # API key ids (tenants) allowed to re-identify pseudonyms; comma-separated.
    reveal_tenants: str | None = Field(None, alias="REVEAL_TENANTS")
    # Feedback (sluice.lifecycle.feedback): its table, and the routes whose answers take it.
    feedback_table: str | None = Field(None, alias="FEEDBACK_TABLE_NAME", min_length=3)
    feedback_routes: str | None = Field(None, alias="FEEDBACK_ROUTES")

    @property
    def feedback_route_names(self) -> frozenset[str]:
        listed = (self.feedback_routes or "").split(",")
        return frozenset(route.strip() for route in listed if route.strip())

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

    from sluice.adapters.dynamodb_feedback import DynamoFeedbackStore
    from sluice.adapters.sqs_queue import SqsJobQueue
    from sluice.lifecycle.feedback import FeedbackService
    from sluice.lifecycle.labels import route_labels
    from sluice.serving.api import ApiDependencies
    from sluice.serving.idempotency import IdempotentSubmit
    from sluice.serving.service import InferenceService

    budget, meter = budget_and_meter(settings, clients)
    redactor = shared.input_redactor(settings, clients)
    jobs = shared.job_store(settings, clients)
    feedback_store = (
        DynamoFeedbackStore(
            clients("dynamodb"), settings.feedback_table, log_ttl=timedelta(days=settings.job_ttl_days)
        )
        if settings.feedback_table
        else None
    )
    operational, audit = signals(settings), audit_trail(settings, clients)
    service = InferenceService(
        signals=operational,
        audit=audit,
        routes=shared.route_source(settings, clients),
        invoker=shared.invoker(settings, clock or shared.Clock.real(), clients),
        jobs=jobs,
        queue=SqsJobQueue(clients("sqs")),
        endpoint=endpoint or shared.sagemaker_endpoint(settings.routes),
        redactor=redactor,
        reveal_tenants=settings.reveal_tenant_ids,
        budget=budget,
        meter=meter,
        admission=job_admission(settings, clients),
        inference_log=feedback_store,
        feedback_routes=settings.feedback_route_names,
        guard=shared.output_guard(settings, clients, redactor=redactor, signals=operational),
    )
    store = DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=clients("dynamodb"))
    return ApiDependencies(
        service=service,
        idempotent_submit=IdempotentSubmit(store, ttl_seconds=settings.idempotency_ttl_seconds),
        max_request_bytes=settings.max_request_bytes,
        feedback=(
            FeedbackService(
                jobs=jobs,
                log=feedback_store,
                store=feedback_store,
                redact=comment_redactor(redactor),
                labels=route_labels,
            )
            if feedback_store is not None
            else None
        ),
        signals=operational,
        audit=audit,
    )


def comment_redactor(redactor: InputRedactor) -> Callable[[str, str], str]:
    """A feedback comment is redacted as an input is, with every entity type masked."""

    def redact(tenant: str, text: str) -> str:
        return str(redactor.redact({"comment": text}, tenant=tenant, allow=()).input["comment"])

    return redact
