"""The `worker` function: its environment and its dependencies (the queued path)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from sluice.adapters.clients import client
from sluice.runtime import shared
from sluice.runtime.cost_settings import CostSettings, budget_and_meter
from sluice.runtime.observability_settings import SignalSettings, signals

if TYPE_CHECKING:
    from sluice.jobs.worker import JobWorker
    from sluice.routing.ports import AsyncModelEndpoint, ModelEndpoint


class Settings(
    shared.JobSettings,
    shared.BreakerSettings,
    shared.EventSettings,
    shared.GuardrailSettings,
    CostSettings,
    SignalSettings,
):
    # How long a claimed job is ours: the queue's visibility timeout.
    lease_seconds: int = Field(alias="JOB_LEASE_SECONDS", ge=1)
    # Set when uploads are ingested: batch jobs then count towards their batch.
    batches_table: str | None = Field(None, alias="BATCHES_TABLE_NAME", min_length=3)
    # Where inputs for asynchronous endpoints are written (set when a route is asynchronous).
    async_bucket: str | None = Field(None, alias="ASYNC_BUCKET_NAME", min_length=3)


def build(
    settings: Settings,
    *,
    clients: shared.ClientFactory = client,
    endpoint: ModelEndpoint | None = None,
    async_endpoint: AsyncModelEndpoint | None = None,
    clock: shared.Clock | None = None,
) -> JobWorker:
    """`endpoint`, `async_endpoint` and `clock` are for tests: they replace SageMaker and time."""
    from sluice.jobs.worker import JobWorker

    events = shared.event_publisher(settings, clients)
    if endpoint is None or async_endpoint is None:
        sagemaker = shared.sagemaker_endpoint(settings.routes)
        endpoint, async_endpoint = endpoint or sagemaker, async_endpoint or sagemaker
    async_inference = None
    if settings.async_bucket:
        from sluice.adapters.s3_objects import S3Objects
        from sluice.jobs.async_endpoint import AsyncInference

        async_inference = AsyncInference(
            endpoint=async_endpoint,
            objects=S3Objects(clients("s3")),
            bucket=settings.async_bucket,
        )
    time = clock or shared.Clock.real()
    budget, meter = budget_and_meter(settings, clients)
    operational = signals(settings)
    return JobWorker(
        signals=operational,
        guard=shared.output_guard(settings, clients, signals=operational),
        budget=budget,
        meter=meter,
        routes=shared.route_source(settings, clients),
        invoker=shared.invoker(settings, time, clients),
        clock=time.now,
        async_inference=async_inference,
        jobs=shared.job_store(settings, clients),
        endpoint=endpoint,
        events=events,
        lease_seconds=settings.lease_seconds,
        batches=shared.batch_ledger(
            batches_table=settings.batches_table, jobs=settings, events=events, clients=clients
        )
        if settings.batches_table
        else None,
    )
