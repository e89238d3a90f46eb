"""The `sweeper` function: its environment and its dependencies (lost async notifications)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import Field

from sluice.adapters.clients import client
from sluice.runtime import shared
from sluice.runtime.cost_settings import CostSettings, job_accounting
from sluice.runtime.observability_settings import SignalSettings, signals

if TYPE_CHECKING:
    from sluice.jobs.sweeper import AsyncSweeper


class Settings(
    shared.JobSettings, shared.EventSettings, shared.GuardrailSettings, CostSettings, SignalSettings
):
    batches_table: str | None = Field(None, alias="BATCHES_TABLE_NAME", min_length=3)
    # How long after the hand-over a missing notification counts as lost.
    grace_seconds: int = Field(300, alias="SWEEP_GRACE_SECONDS", ge=60)


def build(
    settings: Settings, *, clients: shared.ClientFactory = client, clock: shared.Clock | None = None
) -> AsyncSweeper:
    from sluice.adapters.s3_objects import S3Objects
    from sluice.jobs.async_results import AsyncResults
    from sluice.jobs.sweeper import AsyncSweeper

    time = clock or shared.Clock.real()
    events = shared.event_publisher(settings, clients)
    routes = shared.route_source(settings, clients)
    jobs = shared.job_store(settings, clients)
    objects = S3Objects(clients("s3"))
    results = AsyncResults(
        routes=routes,
        jobs=jobs,
        objects=objects,
        events=events,
        batches=shared.batch_ledger(
            batches_table=settings.batches_table, jobs=settings, events=events, clients=clients
        )
        if settings.batches_table
        else None,
        accounting=job_accounting(settings, clients),
        guard=shared.output_guard(settings, clients, signals=signals(settings)),
    )
    return AsyncSweeper(
        routes=routes,
        jobs=jobs,
        objects=objects,
        results=results,
        clock=time.now,
        grace=timedelta(seconds=settings.grace_seconds),
    )
