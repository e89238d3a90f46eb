"""Composition root: builds each function's dependencies from its settings, once per cold start."""

from __future__ import annotations

import os
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING

from sluice.adapters.clients import client, sagemaker_runtime_client

if TYPE_CHECKING:
    from sluice.api import ApiDependencies
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
    from sluice.privacy import PiiInputRedactor
    from sluice.settings import ApiSettings

    settings = ApiSettings.model_validate(dict(os.environ))
    dynamodb = client("dynamodb")
    budget_s = max(route.time_budget_ms for route in settings.routes.routes.values()) / 1000
    sagemaker = sagemaker_runtime_client(time_budget_s=budget_s, max_attempts=2)
    service = InferenceService(
        routes=settings.routes,
        jobs=DynamoJobStore(dynamodb, settings.jobs_table, ttl=timedelta(days=settings.job_ttl_days)),
        queue=SqsJobQueue(client("sqs")),
        endpoint=SageMakerEndpoint(sagemaker),
        redactor=PiiInputRedactor(),
    )
    store = DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=dynamodb)
    return ApiDependencies(
        service=service,
        idempotent_submit=IdempotentSubmit(store, ttl_seconds=settings.idempotency_ttl_seconds),
        max_request_bytes=settings.max_request_bytes,
    )


@cache
def job_worker() -> JobWorker:
    from sluice.adapters.dynamodb_jobs import DynamoJobStore
    from sluice.adapters.eventbridge import EventBridgePublisher
    from sluice.adapters.sagemaker_runtime import SageMakerEndpoint
    from sluice.settings import WorkerSettings
    from sluice.worker import JobWorker

    settings = WorkerSettings.model_validate(dict(os.environ))
    budget_s = max(route.time_budget_ms for route in settings.routes.routes.values()) / 1000
    return JobWorker(
        routes=settings.routes,
        jobs=DynamoJobStore(
            client("dynamodb"), settings.jobs_table, ttl=timedelta(days=settings.job_ttl_days)
        ),
        endpoint=SageMakerEndpoint(sagemaker_runtime_client(time_budget_s=budget_s, max_attempts=3)),
        events=EventBridgePublisher(client("events"), settings.event_bus_name),
        lease_seconds=settings.lease_seconds,
    )
