"""Composition root: builds each function's dependencies from its settings, once per cold start."""

from __future__ import annotations

import os
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING

from sluice.adapters.clients import client, sagemaker_runtime_client

if TYPE_CHECKING:
    from sluice.api import ApiDependencies
    from sluice.async_results import AsyncResults
    from sluice.ingest.batches import BatchLedger
    from sluice.ingest.s3_events import Ingestion
    from sluice.invocation import ResilientInvoker
    from sluice.ports import EventPublisher
    from sluice.privacy import PiiInputRedactor
    from sluice.routing import RouteSource, RouteTable
    from sluice.settings import PiiSettings
    from sluice.worker import JobWorker


@cache
def api_dependencies() -> ApiDependencies:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from sluice.adapters.dynamodb_jobs import DynamoJobStore
    from sluice.adapters.sagemaker_runtime import SageMakerEndpoint
    from sluice.adapters.sqs_queue import SqsJobQueue
    from sluice.api import ApiDependencies
    from sluice.idempotency import IdempotentSubmit
    from sluice.inference import InferenceService
    from sluice.settings import ApiSettings

    settings = ApiSettings.model_validate(dict(os.environ))
    dynamodb = client("dynamodb")
    budget_s = max(route.time_budget_ms for route in settings.routes.routes.values()) / 1000
    # One attempt: sluice.invocation retries, including the 424/429/530 botocore does not.
    sagemaker = sagemaker_runtime_client(time_budget_s=budget_s, max_attempts=1)
    service = InferenceService(
        routes=_route_source(settings.routes),
        invoker=_invoker(),
        jobs=DynamoJobStore(dynamodb, settings.jobs_table, ttl=timedelta(days=settings.job_ttl_days)),
        queue=SqsJobQueue(client("sqs")),
        endpoint=SageMakerEndpoint(sagemaker),
        redactor=_input_redactor(settings),
        reveal_tenants=settings.reveal_tenant_ids,
    )
    store = DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=dynamodb)
    return ApiDependencies(
        service=service,
        idempotent_submit=IdempotentSubmit(store, ttl_seconds=settings.idempotency_ttl_seconds),
        max_request_bytes=settings.max_request_bytes,
    )


def _input_redactor(settings: PiiSettings) -> PiiInputRedactor:
    """One construction for every function that redacts input: the same keys give the same hashes."""
    from sluice import pii
    from sluice.privacy import PiiInputRedactor

    key_provider: pii.KeyProvider | None = None
    if settings.pii_key_secret_arn:
        from sluice.adapters.pii_keys import SecretsManagerKeyProvider

        key_provider = SecretsManagerKeyProvider(settings.pii_key_secret_arn, client("secretsmanager"))
    elif settings.pii_key_file:
        key_provider = pii.LocalKeyFile(settings.pii_key_file)
    vault = None
    if settings.pii_vault_table:
        from sluice.adapters.pii_vault import DynamoPseudonymVault

        vault = DynamoPseudonymVault(settings.pii_vault_table, client("dynamodb"))
    # Load the detector's word lists now, during init, not on the first request's clock.
    pii.warm()
    return PiiInputRedactor(key_provider=key_provider, vault=vault)


@cache
def job_worker() -> JobWorker:
    from sluice.adapters.dynamodb_jobs import DynamoJobStore
    from sluice.adapters.eventbridge import EventBridgePublisher
    from sluice.adapters.sagemaker_runtime import SageMakerEndpoint
    from sluice.settings import WorkerSettings
    from sluice.worker import JobWorker

    settings = WorkerSettings.model_validate(dict(os.environ))
    budget_s = max(route.time_budget_ms for route in settings.routes.routes.values()) / 1000
    events = EventBridgePublisher(client("events"), settings.event_bus_name)
    endpoint = SageMakerEndpoint(sagemaker_runtime_client(time_budget_s=budget_s, max_attempts=1))
    async_inference = None
    if settings.async_bucket:
        from sluice.adapters.s3_objects import S3Objects
        from sluice.async_inference import AsyncInference

        async_inference = AsyncInference(
            endpoint=endpoint, objects=S3Objects(client("s3")), bucket=settings.async_bucket
        )
    return JobWorker(
        routes=_route_source(settings.routes),
        invoker=_invoker(),
        async_inference=async_inference,
        jobs=DynamoJobStore(
            client("dynamodb"), settings.jobs_table, ttl=timedelta(days=settings.job_ttl_days)
        ),
        endpoint=endpoint,
        events=events,
        lease_seconds=settings.lease_seconds,
        batches=_batch_ledger(settings.batches_table, settings.jobs_table, settings.job_ttl_days, events)
        if settings.batches_table
        else None,
    )


def _route_source(deployed: RouteTable) -> RouteSource:
    from sluice.settings import RoutingSettings

    settings = RoutingSettings.model_validate(dict(os.environ))
    if not settings.route_table_parameter:
        return deployed
    from sluice.adapters.route_config import ParameterRouteSource

    return ParameterRouteSource(
        settings.route_table_parameter,
        deployed=deployed,
        max_age_seconds=settings.route_table_max_age_seconds,
        client=client("ssm"),
    )


def _invoker() -> ResilientInvoker:
    from sluice.breaker import BreakerStore, CircuitBreaker, InMemoryBreakerStore
    from sluice.invocation import ResilientInvoker
    from sluice.settings import RoutingSettings

    settings = RoutingSettings.model_validate(dict(os.environ))
    store: BreakerStore = InMemoryBreakerStore()
    if settings.breakers_table:
        from sluice.adapters.dynamodb_breaker import DynamoBreakerStore

        store = DynamoBreakerStore(client("dynamodb"), settings.breakers_table)
    return ResilientInvoker(CircuitBreaker(store, settings.breaker))


@cache
def async_results() -> AsyncResults:
    from sluice.adapters.dynamodb_jobs import DynamoJobStore
    from sluice.adapters.eventbridge import EventBridgePublisher
    from sluice.adapters.s3_objects import S3Objects
    from sluice.async_results import AsyncResults
    from sluice.settings import AsyncResultSettings

    settings = AsyncResultSettings.model_validate(dict(os.environ))
    events = EventBridgePublisher(client("events"), settings.event_bus_name)
    return AsyncResults(
        routes=_route_source(settings.routes),
        jobs=DynamoJobStore(
            client("dynamodb"), settings.jobs_table, ttl=timedelta(days=settings.job_ttl_days)
        ),
        objects=S3Objects(client("s3")),
        events=events,
        batches=_batch_ledger(settings.batches_table, settings.jobs_table, settings.job_ttl_days, events)
        if settings.batches_table
        else None,
    )


def _batch_ledger(batches_table: str, jobs_table: str, ttl_days: int, events: EventPublisher) -> BatchLedger:
    from sluice.adapters.dynamodb_batches import DynamoBatchStore
    from sluice.adapters.s3_objects import S3Objects
    from sluice.ingest.batches import BatchLedger

    return BatchLedger(
        batches=DynamoBatchStore(
            client("dynamodb"), batches_table, jobs_table=jobs_table, ttl=timedelta(days=ttl_days)
        ),
        objects=S3Objects(client("s3")),
        events=events,
    )


@cache
def ingestion() -> Ingestion:
    from sluice.adapters.dynamodb_batches import DynamoBatchStore
    from sluice.adapters.dynamodb_jobs import DynamoJobStore
    from sluice.adapters.eventbridge import EventBridgePublisher
    from sluice.adapters.s3_objects import S3Objects
    from sluice.adapters.sqs_batches import SqsBatchSender
    from sluice.ingest.s3_events import Ingestion
    from sluice.ingest.service import IngestService
    from sluice.settings import IngestSettings

    settings = IngestSettings.model_validate(dict(os.environ))
    dynamodb = client("dynamodb")
    sqs = SqsBatchSender(client("sqs"))
    events = EventBridgePublisher(client("events"), settings.event_bus_name)
    ledger = _batch_ledger(settings.batches_table, settings.jobs_table, settings.job_ttl_days, events)
    service = IngestService(
        routes=settings.routes,
        limits=settings.limits,
        objects=S3Objects(client("s3")),
        batches=DynamoBatchStore(
            dynamodb,
            settings.batches_table,
            jobs_table=settings.jobs_table,
            ttl=timedelta(days=settings.job_ttl_days),
        ),
        jobs=DynamoJobStore(dynamodb, settings.jobs_table, ttl=timedelta(days=settings.job_ttl_days)),
        queue=sqs,
        redactor=_input_redactor(settings),
        ledger=ledger,
    )
    return Ingestion(service=service, continuations=sqs, queue_url=settings.ingest_queue_url)
