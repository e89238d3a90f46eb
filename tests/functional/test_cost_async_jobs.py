"""Async jobs are metered and settled where they finish: `async_result` (from SageMaker's
notification) or the sweeper (when it was lost), once per job however often either sees it."""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from sluice.adapters.dynamodb_meter import DynamoUsageCounters
from sluice.adapters.dynamodb_usage import DynamoUsageLedger
from sluice.config import DeploymentConfig, EndpointConfig, RouteConfig
from sluice.cost.models import Period
from sluice.cost.pricing import PriceList
from sluice.jobs.async_results import AsyncResults
from sluice.jobs.sweeper import AsyncSweeper
from sluice.jobs.worker import JobWorker
from sluice.runtime import api as api_runtime
from sluice.runtime import async_result as async_result_runtime
from sluice.runtime import sweeper as sweeper_runtime
from sluice.runtime import worker as worker_runtime
from sluice.runtime.shared import Clock
from sluice.serving.api import build_app
from sluice_local.provision import function_settings
from tests.functional.conftest import REGION, Platform, start_platform
from tests.functional.cost_harness import create_cost_table
from tests.sample_events import api_event

TENANT = "tenant-acme"
# 3.60 USD an instance hour and one inference at a time: one model second costs 1,000 micro-dollars.
CHAT = EndpointConfig.model_validate(
    {
        "mode": "async",
        "wire_format": "hf-tgi",
        "accepts_batches": False,
        "variant_name": "llm",
        "cost_per_instance_hour": 3.6,
        "async_inference": {"max_concurrent_invocations_per_instance": 1},
    }
)
CONFIG = DeploymentConfig.model_validate(
    {
        "routes": [
            RouteConfig(name="intent").model_dump(),
            RouteConfig(name="chat", endpoint=CHAT, required_text_fields=("inputs",)).model_dump(),
        ],
        "cost": {
            "budgets": {},
            "default_budget": {"monthly_requests": 100},
            "expected_utilization": 1.0,
            "reserve_model_seconds": {"chat": 20},
        },
    }
)
RESERVED = 20_000  # the chat route's reserve: 20 model seconds


@pytest.fixture
def chat() -> Iterator[tuple[Platform, str]]:
    key_file = Path(tempfile.mkdtemp()) / "pii.key"
    with start_platform(CONFIG, key_file=key_file) as platform:
        clients = functools.cache(lambda name: boto3.client(name, region_name=REGION))
        table = create_cost_table(clients("dynamodb"))
        cost = {"cost_table": table, "cost_policy": PriceList.from_config(CONFIG).policy()}
        settings = function_settings(CONFIG, platform.resources)
        assert settings.async_result is not None
        assert settings.sweeper is not None
        # Every function as the stack configures it: the same cost table and policy, rendered
        # into its environment and read back.
        api = api_runtime.Settings.from_environment(
            settings.api.model_copy(update={"pii_key_file": str(key_file), **cost}).environment()
        )
        worker = worker_runtime.Settings.from_environment(
            settings.worker.model_copy(update=cost).environment()
        )
        results = async_result_runtime.Settings.from_environment(
            settings.async_result.model_copy(update=cost).environment()
        )
        sweeper = sweeper_runtime.Settings.from_environment(
            settings.sweeper.model_copy(update=cost).environment()
        )
        clock = platform.clock
        time = Clock(wall=clock, monotonic=clock, sleep=clock.sleep, breaker_cache_seconds=0)

        def wire() -> tuple[Any, JobWorker, AsyncResults, AsyncSweeper]:
            return (
                build_app(api_runtime.build(api, clients=clients, endpoint=platform.endpoint, clock=time)),
                worker_runtime.build(
                    worker,
                    clients=clients,
                    endpoint=platform.endpoint,
                    async_endpoint=platform.async_endpoint,
                    clock=time,
                ),
                async_result_runtime.build(results, clients=clients),
                sweeper_runtime.build(sweeper, clients=clients, clock=time),
            )

        platform.wire = wire
        platform.restart()
        yield platform, table


def _submit(platform: Platform, prompt: str) -> str:
    body = {
        "route": "chat",
        "input": {"inputs": prompt, "parameters": {"max_new_tokens": 64}},
        "mode": "async",
    }
    status, answer, _ = platform.call(api_event("post_inference_async", body=body))
    assert status == 202, answer
    return str(answer["id"])


def _usage(table: str) -> Any:
    return DynamoUsageLedger(boto3.client("dynamodb", region_name=REGION), table).usage(
        TENANT, Period.at(datetime.now(UTC))
    )


def _meter_rows(table: str) -> list[dict[str, Any]]:
    return DynamoUsageCounters(boto3.client("dynamodb", region_name=REGION), table).scan_prefix("meter#hour#")


def test_a_finished_chat_job_is_metered_with_its_tokens_and_settled_once(chat: tuple[Platform, str]) -> None:
    platform, table = chat
    # Given an accepted chat job: its estimate reserved (20 model seconds)
    prompt = "Summarise my last three card payments"
    _submit(platform, prompt)
    assert _usage(table).spent_micros == RESERVED
    # When the worker hands it over, the endpoint runs it for 2 s (receivedTime to eventTime),
    # and SNS delivers the notification twice
    platform.drain("chat")
    queued = list(platform.async_endpoint.queued)
    platform.async_endpoint.model_seconds = 2.0
    platform.async_endpoint.run_queued()
    platform.async_endpoint.queued = queued
    platform.async_endpoint.received = {inference_id: datetime.now(UTC) for _, _, inference_id in queued}
    platform.async_endpoint.run_queued()
    assert platform.deliver_async_results() == set()

    # Then the job is metered once: tenant, route, variant, model time from SageMaker's timestamps,
    # bytes, and tokens estimated (the stand-in reports no usage) from the prompt and the reply
    rows = _meter_rows(table)
    assert len(rows) == 1
    row = rows[0]
    assert (row["tenant"], row["route"], row["variant"], row["requests"]) == (TENANT, "chat", "llm", 1)
    assert row["model_ms"] == 2000
    assert row["bytes_in"] > len(prompt)
    assert row["bytes_out"] > 0
    assert row["tokens_in"] == -(-len(prompt.encode()) // 4)
    assert row["tokens_out"] > 0
    assert row["tokens_estimated"] == 1
    # And the reservation is settled to what 2 s cost, the request counted once
    usage = _usage(table)
    assert (usage.month_requests, usage.spent_micros) == (1, 2000)


def test_a_failed_chat_job_gives_its_reservation_back(chat: tuple[Platform, str]) -> None:
    platform, table = chat
    # Given an accepted chat job whose inference fails on the endpoint
    _submit(platform, "Explain my statement")
    platform.drain("chat")
    platform.async_endpoint.run_queued(fail=True)

    # When its error notification arrives
    assert platform.deliver_async_results() == set()

    # Then nothing is metered and nothing is charged: money and request released
    assert _meter_rows(table) == []
    usage = _usage(table)
    assert (usage.month_requests, usage.spent_micros) == (0, 0)


def test_a_job_the_sweeper_finishes_is_charged_its_estimate_and_not_again_by_a_late_notification(
    chat: tuple[Platform, str],
) -> None:
    platform, table = chat
    # Given a chat job whose inference ran but whose notification is late
    _submit(platform, "Translate this")
    platform.drain("chat")
    queued = list(platform.async_endpoint.queued)
    platform.async_endpoint.run_queued(lose_notifications=True)

    # When the sweeper finishes it from its output (no SageMaker timestamps: the reserve estimate)
    platform.clock.advance(301)
    assert platform.sweeper.sweep().completed == 1
    # and the notification arrives after all
    platform.async_endpoint.queued = queued
    platform.async_endpoint.received = {inference_id: datetime.now(UTC) for _, _, inference_id in queued}
    platform.async_endpoint.run_queued()
    assert platform.deliver_async_results() == set()

    # Then it was metered and settled once, at the 20 s it reserved
    rows = _meter_rows(table)
    assert [(r["requests"], r["model_ms"]) for r in rows] == [(1, 20_000)]
    usage = _usage(table)
    assert (usage.month_requests, usage.spent_micros) == (1, RESERVED)
