"""An async endpoint that scales to zero is billed for the instance time the `budget` function
sampled, not for wall time: the sampler's counters, then the attribution that reads them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from sluice.adapters.dynamodb_meter import DynamoUsageCounters
from sluice.cost.attribution import IDLE, attribute
from sluice.cost.instances import InstanceSampler
from sluice.cost.metering import Meter
from sluice.cost.pricing import PriceList
from tests.functional.cost_harness import REGION, create_cost_table
from tests.functional.test_cost_metering import CONFIG, _usage

PRICE = 1.5  # the chat variant's USD per instance hour in CONFIG


class Running:
    """DescribeEndpoint's CurrentInstanceCount, as the test sets it."""

    def __init__(self) -> None:
        self.count = 0

    def running(self, endpoint_name: str) -> dict[str, int]:
        return {"llm": self.count}


class NoMetrics:
    def emit(self, *args: object, **kwargs: object) -> None:
        return None


@pytest.fixture
def counters() -> Iterator[DynamoUsageCounters]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        yield DynamoUsageCounters(client, create_cost_table(client))


def _sample(counters: DynamoUsageCounters, running: Running, counts: list[int], start: datetime) -> None:
    """One sample every 5 minutes from `start`, with these instance counts."""
    moments = iter(start + timedelta(minutes=5 * i) for i in range(len(counts)))
    sampler = InstanceSampler(
        {"chat": "sluice-chat"},
        running,
        NoMetrics(),
        counters=counters,
        every_minutes=5,
        clock=lambda: next(moments),
    )
    for count in counts:
        running.count = count
        sampler.sample()


def test_the_sampled_instance_time_is_billed_and_shared_by_model_time(counters: DynamoUsageCounters) -> None:
    # Given an hour (23:00) in which the chat endpoint ran 1 instance for 20 minutes, then none
    _sample(counters, Running(), [1, 1, 1, 1] + [0] * 8, datetime(2026, 12, 1, 23, 0, tzinfo=UTC))
    # And acme used 3 minutes of model time and globex 1 in it
    meter = Meter(counters, PriceList.from_config(CONFIG))
    meter.record_all(
        [
            _usage("acme", "llm", route="chat", model_ms=180_000),
            _usage("globex", "llm", route="chat", model_ms=60_000),
        ]
    )

    # When the hour is attributed with the instance samples
    rows = attribute(
        counters.scan_prefix("meter#hour#"),
        PriceList.from_config(CONFIG),
        counters.scan_prefix("meter#instances#"),
    )

    # Then the bill is 20 instance-minutes, not the hour nor busy time plus a cooldown, split 3:1
    chat = {r.tenant: r for r in rows if r.route == "chat"}
    assert sum(r.attributed_usd for r in chat.values()) == pytest.approx(PRICE * 20 / 60)
    assert chat["acme"].attributed_usd == pytest.approx(3 * chat["globex"].attributed_usd)
    assert {r.instance_time for r in chat.values()} == {"sampled"}


def test_instance_time_nobody_used_is_billed_as_idle(counters: DynamoUsageCounters) -> None:
    # Given the chat endpoint kept one instance for 10 minutes after midnight with no inference
    _sample(counters, Running(), [1, 1, 0], datetime(2026, 12, 2, 0, 0, tzinfo=UTC))
    Meter(counters, PriceList.from_config(CONFIG)).record(_usage("acme", "llm", route="chat", model_ms=1000))

    rows = attribute(
        counters.scan_prefix("meter#hour#"),
        PriceList.from_config(CONFIG),
        counters.scan_prefix("meter#instances#"),
    )

    # Then those 10 minutes show as idle in their hour
    idle = [r for r in rows if r.route == "chat" and r.tenant == IDLE]
    assert [(r.hour, round(r.attributed_usd, 6)) for r in idle] == [
        ("2026-12-02T00", round(PRICE * 10 / 60, 6))
    ]


def test_an_hour_without_samples_falls_back_to_the_estimate_and_says_so(
    counters: DynamoUsageCounters,
) -> None:
    # Given model time on chat and no instance samples at all (the sampler not deployed)
    Meter(counters, PriceList.from_config(CONFIG)).record(
        _usage("acme", "llm", route="chat", model_ms=60_000)
    )

    rows = attribute(counters.scan_prefix("meter#hour#"), PriceList.from_config(CONFIG), [])

    # Then the busy time over the concurrency plus the cooldown is billed, marked as estimated
    (chat,) = [r for r in rows if r.route == "chat"]
    assert chat.instance_time == "estimated"
    assert chat.attributed_usd == pytest.approx(PRICE * (1 / 60 / 4 + 10 / 60))
