"""Budgets and quotas hold under concurrency: 50 callers at once, room for 10, exactly 10 in.

Each caller has its own boto3 client (as each Lambda instance has its own) and all of them call
at the same moment (a barrier). The same runs on moto in process and on a threaded moto server
over HTTP, 20 times each.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sluice.adapters.dynamodb_usage import DynamoUsageLedger
from sluice.config import DeploymentConfig
from sluice.cost.budgets import BudgetGuard
from sluice.cost.models import Period
from sluice.cost.pricing import PriceList
from sluice.errors import BudgetExceeded, QuotaExceeded, SluiceError
from tests.functional.cost_harness import REGION, create_cost_table, item_writes_in_order, lambda_like_client

CALLERS = 50
ROOM = 10
REPEATS = 20
NOW = datetime(2026, 12, 1, 23, 40, tzinfo=UTC)

# 3.60 USD an hour, fully busy: one model second costs 1,000 micro-dollars, and one request
# reserves one second, so a budget of 0.01 USD has room for exactly 10 requests.
ROUTES = [
    {
        "name": "intent",
        "endpoint": {"variants": [{"name": "primary", "cost_per_instance_hour": 3.6, "model_version": "v1"}]},
    }
]
LIMITS = {
    "budget": ({"monthly_budget_usd": 0.01}, BudgetExceeded),
    "monthly quota": ({"monthly_requests": ROOM}, QuotaExceeded),
    "daily quota": ({"daily_requests": ROOM, "monthly_requests": 1000}, QuotaExceeded),
}


def _config(tenants: list[str], budget: dict[str, Any]) -> DeploymentConfig:
    return DeploymentConfig.model_validate(
        {
            "routes": ROUTES,
            "api": {"tenants": tenants},
            "cost": {
                "budgets": {tenant: budget for tenant in tenants},
                "expected_utilization": 1.0,
                "default_reserve_model_seconds": 1.0,
            },
        }
    )


@pytest.fixture(params=["in-process", "server"])
def dynamodb_endpoint(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "in-process":
        with mock_aws():
            yield None
        return
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _race(callers: list[Callable[[], Any]]) -> list[Any]:
    """Run every caller at the same instant; each returns its outcome or the error it raised."""
    barrier = threading.Barrier(len(callers))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        try:
            return call()
        except Exception as error:  # the outcome under test, or an unexpected error to fail on
            return error

    with ThreadPoolExecutor(max_workers=len(callers)) as pool:
        return list(pool.map(run, callers))


@pytest.mark.parametrize("limit", list(LIMITS))
def test_fifty_concurrent_requests_against_room_for_ten_admit_exactly_ten(
    dynamodb_endpoint: str | None, limit: str
) -> None:
    # Given a tenant per repetition whose limit leaves room for exactly 10 requests
    budget, refusal = LIMITS[limit]
    tenants = [f"tenant-{n}" for n in range(REPEATS)]
    config = _config(tenants, budget)
    clients = [lambda_like_client(dynamodb_endpoint) for _ in range(CALLERS)]
    table = create_cost_table(clients[0])
    guards = [
        BudgetGuard(
            config.cost, DynamoUsageLedger(client, table), PriceList.from_config(config), clock=lambda: NOW
        )
        for client in clients
    ]
    with item_writes_in_order():
        for tenant in tenants:
            # When 50 functions reserve for that tenant at the same instant
            outcomes = _race(
                [lambda guard=guard, tenant=tenant: guard.reserve(tenant, "intent") for guard in guards]
            )

            # Then exactly 10 are admitted and 40 refused with the limit's code, and nothing else
            errors = [o for o in outcomes if isinstance(o, Exception)]
            unexpected = [e for e in errors if not isinstance(e, refusal)]
            assert not unexpected, unexpected[:3]
            assert len(outcomes) - len(errors) == ROOM, tenant
            # And the counters say so: 10 requests, 10 reservations of money
            usage = DynamoUsageLedger(clients[0], table).usage(tenant, Period.at(NOW))
            assert usage.month_requests == ROOM
            assert usage.day_requests == ROOM
            assert usage.spent_micros == ROOM * 1000


def test_a_refusal_names_its_limit_and_the_time_it_resets(dynamodb_endpoint: str | None) -> None:
    # Given a tenant with room for 10 a day, who used them
    config = _config(["acme"], {"daily_requests": ROOM, "monthly_budget_usd": 1.0})
    client = lambda_like_client(dynamodb_endpoint)
    guard = BudgetGuard(
        config.cost,
        DynamoUsageLedger(client, create_cost_table(client)),
        PriceList.from_config(config),
        clock=lambda: NOW,
    )
    for _ in range(ROOM):
        guard.reserve("acme", "intent")

    # When the 11th arrives
    with pytest.raises(QuotaExceeded) as refused:
        guard.reserve("acme", "intent")

    # Then it is a 429 with QUOTA_EXCEEDED, resetting at the next UTC midnight
    assert refused.value.code == "QUOTA_EXCEEDED"
    assert refused.value.status == 429
    assert refused.value.resets_at == datetime(2026, 12, 2, tzinfo=UTC)
    assert refused.value.retry_after_seconds == 20 * 60
    assert "acme" not in refused.value.message


def _read_then_write_reserve(client: Any, table: str, tenant: str, barrier: threading.Barrier) -> bool:
    """What a guard without a condition expression does: read the counter, decide, then add."""
    item = client.get_item(TableName=table, Key={"id": {"S": tenant}}, ConsistentRead=True).get("Item", {})
    admitted = int(item.get("requests", {"N": "0"})["N"]) < ROOM
    barrier.wait()  # the interleaving concurrency allows: every read before any write
    if admitted:
        client.update_item(
            TableName=table,
            Key={"id": {"S": tenant}},
            UpdateExpression="ADD requests :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    return admitted


def test_a_read_then_write_guard_over_admits_under_the_same_lock(dynamodb_endpoint: str | None) -> None:
    # Given the same 50 clients and the same serialized item writes, but no condition expression
    clients = [lambda_like_client(dynamodb_endpoint) for _ in range(CALLERS)]
    table = create_cost_table(clients[0])
    barrier = threading.Barrier(CALLERS)
    # When all 50 read before any writes (a legal interleaving of concurrent functions)
    with item_writes_in_order(), ThreadPoolExecutor(max_workers=CALLERS) as pool:
        admitted = list(pool.map(lambda c: _read_then_write_reserve(c, table, "acme", barrier), clients))
    # Then all 50 are admitted: it is the condition, not the lock, that holds the limit
    assert sum(admitted) == CALLERS


def test_with_the_same_interleaving_the_conditional_update_still_admits_ten(
    dynamodb_endpoint: str | None,
) -> None:
    # Given 50 functions that have all read the tenant's usage (nothing used yet) before reserving
    config = _config(["acme"], {"monthly_requests": ROOM})
    clients = [lambda_like_client(dynamodb_endpoint) for _ in range(CALLERS)]
    table = create_cost_table(clients[0])
    guards = [
        BudgetGuard(
            config.cost, DynamoUsageLedger(c, table), PriceList.from_config(config), clock=lambda: NOW
        )
        for c in clients
    ]
    barrier = threading.Barrier(CALLERS)

    def read_then_reserve(guard: BudgetGuard, client: Any) -> bool:
        assert DynamoUsageLedger(client, table).usage("acme", Period.at(NOW)).month_requests == 0
        barrier.wait()
        try:
            guard.reserve("acme", "intent")
        except SluiceError:
            return False
        return True

    with item_writes_in_order(), ThreadPoolExecutor(max_workers=CALLERS) as pool:
        admitted = list(pool.map(read_then_reserve, guards, clients))
    # Then the condition, evaluated by the table at write time, admits exactly 10
    assert sum(admitted) == ROOM


def test_settling_charges_the_model_time_and_releasing_gives_everything_back() -> None:
    with mock_aws():
        # Given a tenant with a budget, and two admitted requests
        config = _config(["acme"], {"monthly_budget_usd": 1.0, "monthly_requests": 100})
        client = boto3.client("dynamodb", region_name=REGION)
        table = create_cost_table(client)
        ledger = DynamoUsageLedger(client, table)
        guard = BudgetGuard(config.cost, ledger, PriceList.from_config(config), clock=lambda: NOW)
        served, failed = guard.reserve("acme", "intent"), guard.reserve("acme", "intent")

        # When one is served in 250 ms of model time and the other never reaches the model
        charged = guard.settle(served, variant="primary", model_ms=250)
        guard.release(failed)

        # Then the tenant pays 250 ms (250 micro-dollars) and one request, and nothing is reserved
        usage = ledger.usage("acme", Period.at(NOW))
        assert charged == 250
        assert usage.spent_micros == 250
        assert usage.month_requests == 1
        item = client.get_item(TableName=table, Key={"id": {"S": "usage#acme#2026-12"}})["Item"]
        assert item["reserved_micros"] == {"N": "0"}


def test_soft_limit_warns_before_the_hard_limit_refuses() -> None:
    with mock_aws():
        # Given a quota of 10 with the soft limit at 80 %
        config = _config(["acme"], {"monthly_requests": ROOM, "soft_limit_ratio": 0.8})
        client = boto3.client("dynamodb", region_name=REGION)
        guard = BudgetGuard(
            config.cost,
            DynamoUsageLedger(client, create_cost_table(client)),
            PriceList.from_config(config),
            clock=lambda: NOW,
        )

        # When 10 requests are reserved
        warnings = [guard.reserve("acme", "intent").warnings for _ in range(ROOM)]

        # Then the first 7 carry no warning, the 8th to 10th warn of the monthly quota
        assert [bool(w) for w in warnings] == [False] * 7 + [True] * 3
        assert {str(limit) for w in warnings for limit in w} == {"monthly_requests"}


def test_a_budget_actions_lower_quota_binds_until_it_is_lifted() -> None:
    with mock_aws():
        # Given a tenant with a quota of 100 whose quota an alarm lowered to 2
        config = _config(["acme"], {"monthly_requests": 100})
        client = boto3.client("dynamodb", region_name=REGION)
        ledger = DynamoUsageLedger(client, create_cost_table(client))
        guard = BudgetGuard(config.cost, ledger, PriceList.from_config(config), clock=lambda: NOW)
        ledger.set_quota_cap("acme", Period.at(NOW), 2)

        # When 3 requests arrive, then the cap is lifted and one more arrives
        guard.reserve("acme", "intent")
        guard.reserve("acme", "intent")
        with pytest.raises(QuotaExceeded):
            guard.reserve("acme", "intent")
        ledger.set_quota_cap("acme", Period.at(NOW), None)

        # Then the third is refused and the fourth admitted
        assert guard.reserve("acme", "intent").usage.month_requests == 3


def test_a_budget_named_in_config_binds_the_api_key_id_requests_carry() -> None:
    with mock_aws():
        # Given acme's quota of 2, configured by name, and acme's API key id "k1acme"
        config = _config(["acme"], {"monthly_requests": 2})
        client = boto3.client("dynamodb", region_name=REGION)
        ledger = DynamoUsageLedger(client, create_cost_table(client))
        guard = BudgetGuard(
            config.cost,
            ledger,
            PriceList.from_config(config),
            tenant_ids={"acme": "k1acme"},
            clock=lambda: NOW,
        )
        # When requests carrying the key id arrive
        guard.reserve("k1acme", "intent")
        guard.reserve("k1acme", "intent")
        # Then the third is refused, counted under the key id
        with pytest.raises(QuotaExceeded):
            guard.reserve("k1acme", "intent")
        assert ledger.usage("k1acme", Period.at(NOW)).month_requests == 2
