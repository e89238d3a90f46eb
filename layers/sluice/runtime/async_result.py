"""The `async_result` function: its environment and its dependencies (SageMaker async notifications)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from sluice.adapters.clients import client
from sluice.runtime import shared
from sluice.runtime.cost_settings import CostSettings, job_accounting
from sluice.runtime.observability_settings import SignalSettings, signals

if TYPE_CHECKING:
    from sluice.jobs.async_results import AsyncResults


class Settings(
    shared.JobSettings, shared.EventSettings, shared.GuardrailSettings, CostSettings, SignalSettings
):
    batches_table: str | None = Field(None, alias="BATCHES_TABLE_NAME", min_length=3)


def build(settings: Settings, *, clients: shared.ClientFactory = client) -> AsyncResults:
    from sluice.adapters.s3_objects import S3Objects
    from sluice.jobs.async_results import AsyncResults

    events = shared.event_publisher(settings, clients)
    return AsyncResults(
        routes=shared.route_source(settings, clients),
        jobs=shared.job_store(settings, clients),
        objects=S3Objects(clients("s3")),
        events=events,
        batches=shared.batch_ledger(
            batches_table=settings.batches_table, jobs=settings, events=events, clients=clients
        )
        if settings.batches_table
        else None,
        accounting=job_accounting(settings, clients),
        guard=shared.output_guard(settings, clients, signals=signals(settings)),
    )
