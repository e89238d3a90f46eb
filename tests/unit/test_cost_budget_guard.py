"""A tenant's budget and quotas admit work up to each limit and not one request past it.

`BudgetGuard` reserves a route's estimated cost and a request against the tenant's month and day
before the work, settles the reservation to the model time the served variant cost, and gives
back work that never reached the model. The guard runs here on the real DynamoDB ledger, on
moto in process (one table per test); the guard's clock is injected, so no test depends on
the time it runs at.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sluice.adapters.dynamodb_usage import DynamoUsageLedger
from sluice.config import DeploymentConfig, TenantBudget
from sluice.cost.budgets import BudgetGuard, _monthly_quota, _soft_limits_crossed, _utc_now, limits_of
from sluice.cost.models import Limit, Limits, Period, Reservation, Usage
from sluice.cost.pricing import PriceList
from sluice.errors import BudgetExceeded, QuotaExceeded
from tests.functional.cost_harness import REGION, create_cost_table

# Fully busy instances: 3.60 USD an hour is 1,000 micro-dollars a model second. On `intent`, blue
# costs 1,000 a second and green 2,000, so a reservation (one second, the dearest variant)
# holds 2,000; `summarize` reserves 3 seconds at 1,000 a second.
INTENT_RESERVE = 2_000
SUMMARIZE_RESERVE = 3_000
ROUTES = [
    {
        "name": "intent",
        "endpoint": {
            "variants": [
                {"name": "blue", "cost_per_instance_hour": 3.6},
                {
                    "name": "green",
                    "cost_per_instance_hour": 7.2,
                    "model_data_url": "s3://models/green.tar.gz",
                },
            ]
        },
    },
    {"name": "summarize", "endpoint": {"variants": [{"name": "primary", "cost_per_instance_hour": 3.6}]}},
]
NOW = datetime(2026, 12, 1, 23, 40, tzinfo=UTC)


class Clock:
    """The guard's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name=REGION)


@dataclass(frozen=True)
class CostTable:
    """One test's cost table, made as the functional cost tests make it."""

    client: Any
    name: str

    def item(self, tenant: str, period: Period) -> dict[str, int]:
        """The tenant's month item as numbers (reserved and settled money are not in `Usage`)."""
        key = {"id": {"S": DynamoUsageLedger.item_id(tenant, period)}}
        item = self.client.get_item(TableName=self.name, Key=key).get("Item", {})
        return {name: int(value["N"]) for name, value in item.items() if "N" in value}


@pytest.fixture
def table(dynamodb: Any) -> CostTable:
    return CostTable(dynamodb, create_cost_table(dynamodb))


@pytest.fixture
def ledger(table: CostTable) -> DynamoUsageLedger:
    return DynamoUsageLedger(table.client, table.name)


def _config(budgets: dict[str, dict[str, Any]], **cost: Any) -> DeploymentConfig:
    return DeploymentConfig.model_validate(
        {
            "routes": ROUTES,
            "api": {"tenants": ["acme", "beta", "gamma"]},
            "cost": {
                "budgets": budgets,
                "expected_utilization": 1.0,
                "reserve_model_seconds": {"summarize": 3.0},
                **cost,
            },
        }
    )


def _guard(
    ledger: DynamoUsageLedger,
    budgets: dict[str, dict[str, Any]],
    *,
    clock: Clock | None = None,
    tenant_ids: dict[str, str] | None = None,
    **cost: Any,
) -> BudgetGuard:
    config = _config(budgets, **cost)
    return BudgetGuard(
        config.cost,
        ledger,
        PriceList.from_config(config),
        tenant_ids=tenant_ids,
        clock=clock or Clock(NOW),
    )


# --- the module's helpers ---------------------------------------------------------------------


def test_a_tenant_budget_becomes_limits_in_micro_dollars_with_its_own_soft_ratio() -> None:
    budget = TenantBudget(
        monthly_budget_usd=0.0125, monthly_requests=7, daily_requests=3, soft_limit_ratio=0.5
    )

    assert limits_of(budget) == Limits(
        budget_micros=12_500, monthly_requests=7, daily_requests=3, soft_ratio=0.5
    )


def test_a_tenant_budget_without_limits_leaves_every_limit_off() -> None:
    assert limits_of(TenantBudget(soft_limit_ratio=0.6)) == Limits(
        budget_micros=None, monthly_requests=None, daily_requests=None, soft_ratio=0.6
    )


@pytest.mark.parametrize(
    ("configured", "cap", "quota"),
    [(None, None, None), (5, None, 5), (None, 3, 3), (5, 3, 3), (3, 5, 3), (4, 0, 0)],
)
def test_the_monthly_quota_is_the_lower_of_the_configured_quota_and_an_actions_cap(
    configured: int | None, cap: int | None, quota: int | None
) -> None:
    assert _monthly_quota(Limits(monthly_requests=configured), Usage(quota_cap=cap)) == quota


def test_the_default_clock_tells_utc_time() -> None:
    assert _utc_now().utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("usage", "crossed"),
    [
        (Usage(spent_micros=499, month_requests=4, day_requests=1), ()),
        (Usage(spent_micros=500, month_requests=4, day_requests=1), (Limit.BUDGET,)),
        (Usage(spent_micros=499, month_requests=5, day_requests=1), (Limit.MONTHLY_REQUESTS,)),
        (Usage(spent_micros=499, month_requests=4, day_requests=2), (Limit.DAILY_REQUESTS,)),
        (
            Usage(spent_micros=1_000, month_requests=10, day_requests=4),
            (Limit.BUDGET, Limit.MONTHLY_REQUESTS, Limit.DAILY_REQUESTS),
        ),
    ],
)
def test_a_soft_limit_is_crossed_from_its_share_of_the_limit_on(
    usage: Usage, crossed: tuple[Limit, ...]
) -> None:
    # Soft limits at half of a 1,000 micro-dollar budget, 10 requests a month and 4 a day
    limits = Limits(budget_micros=1_000, monthly_requests=10, daily_requests=4, soft_ratio=0.5)

    assert _soft_limits_crossed(usage, limits) == crossed


def test_an_actions_lower_quota_moves_the_monthly_soft_limit_and_is_reported_once() -> None:
    # A configured quota of 100 lowered to 10 by a budget action: the soft limit is at 5
    limits = Limits(monthly_requests=100, soft_ratio=0.5)

    assert _soft_limits_crossed(Usage(month_requests=4, quota_cap=10), limits) == ()
    assert _soft_limits_crossed(Usage(month_requests=5, quota_cap=10), limits) == (Limit.MONTHLY_REQUESTS,)
    # And with only the cap (no configured quota)
    assert _soft_limits_crossed(Usage(month_requests=5, quota_cap=10), Limits(soft_ratio=0.5)) == (
        Limit.MONTHLY_REQUESTS,
    )


def test_without_limits_no_soft_limit_is_ever_crossed() -> None:
    usage = Usage(spent_micros=10**12, month_requests=10**6, day_requests=10**6)

    assert _soft_limits_crossed(usage, Limits()) == ()


# --- reserve: admission and refusal at the hard limits ------------------------------------------


def test_an_admission_holds_one_request_at_the_routes_estimate_in_the_current_period(
    table: CostTable,
    ledger: DynamoUsageLedger,
) -> None:
    guard = _guard(ledger, {"acme": {"monthly_requests": 100}})

    admission = guard.reserve("acme", "intent")

    assert admission.reservation == Reservation(
        tenant="acme", route="intent", period=Period("2026-12", "2026-12-01"), cost_micros=INTENT_RESERVE
    )
    assert admission.usage == Usage(spent_micros=INTENT_RESERVE, month_requests=1, day_requests=1)
    assert admission.warnings == ()
    assert table.item("acme", Period.at(NOW))["reserved_micros"] == INTENT_RESERVE


def test_several_requests_reserve_the_estimate_for_each(ledger: DynamoUsageLedger) -> None:
    guard = _guard(ledger, {})

    admission = guard.reserve("acme", "summarize", requests=3)

    assert admission.reservation.requests == 3
    assert admission.reservation.cost_micros == 3 * SUMMARIZE_RESERVE
    assert admission.usage == Usage(spent_micros=3 * SUMMARIZE_RESERVE, month_requests=3, day_requests=3)


def test_each_route_reserves_its_own_estimate_against_the_tenants_one_budget(
    ledger: DynamoUsageLedger,
) -> None:
    # Given a budget of 5,000 micro-dollars: one intent (2,000) and one summarize (3,000)
    guard = _guard(ledger, {"acme": {"monthly_budget_usd": 0.005}})

    assert guard.reserve("acme", "intent").reservation.cost_micros == INTENT_RESERVE
    assert guard.reserve("acme", "summarize").usage.spent_micros == INTENT_RESERVE + SUMMARIZE_RESERVE

    # Then the budget is exactly used: not even the cheaper route fits
    with pytest.raises(BudgetExceeded):
        guard.reserve("acme", "intent")


def test_the_monthly_budget_admits_up_to_exactly_its_amount_and_then_refuses(
    ledger: DynamoUsageLedger,
) -> None:
    # Given room for exactly 3 intent reservations (6,000 micro-dollars), late on New Year's Eve
    clock = Clock(datetime(2026, 12, 31, 23, 0, tzinfo=UTC))
    guard = _guard(ledger, {"acme": {"monthly_budget_usd": 0.006}}, clock=clock)

    spent = [guard.reserve("acme", "intent").usage.spent_micros for _ in range(3)]
    with pytest.raises(BudgetExceeded) as refused:
        guard.reserve("acme", "intent")

    assert spent == [2_000, 4_000, 6_000]
    # The refusal is a 429 BUDGET_EXCEEDED that resets with the month, an hour from now
    assert refused.value.code == "BUDGET_EXCEEDED"
    assert refused.value.status == 429
    assert refused.value.message == "the tenant's monthly budget is used up"
    assert refused.value.resets_at == datetime(2027, 1, 1, tzinfo=UTC)
    assert refused.value.retry_after_seconds == 3600
    # And the refused request holds nothing
    assert ledger.usage("acme", Period.at(clock.now)) == Usage(
        spent_micros=6_000, month_requests=3, day_requests=3
    )


def test_the_daily_quota_admits_up_to_exactly_its_count_and_resets_at_utc_midnight(
    ledger: DynamoUsageLedger,
) -> None:
    guard = _guard(ledger, {"acme": {"daily_requests": 2, "monthly_requests": 100}})

    counted = [guard.reserve("acme", "intent").usage.day_requests for _ in range(2)]
    with pytest.raises(QuotaExceeded) as refused:
        guard.reserve("acme", "intent")

    assert counted == [1, 2]
    assert refused.value.code == "QUOTA_EXCEEDED"
    assert refused.value.status == 429
    assert refused.value.message == "the tenant's daily request quota is used up"
    assert refused.value.resets_at == datetime(2026, 12, 2, tzinfo=UTC)
    assert refused.value.retry_after_seconds == 20 * 60


def test_a_daily_refusal_comes_first_when_both_quotas_are_used_up(ledger: DynamoUsageLedger) -> None:
    guard = _guard(ledger, {"acme": {"daily_requests": 2, "monthly_requests": 2}})
    guard.reserve("acme", "intent", requests=2)

    with pytest.raises(QuotaExceeded) as refused:
        guard.reserve("acme", "intent")

    assert refused.value.message == "the tenant's daily request quota is used up"
    assert refused.value.resets_at == datetime(2026, 12, 2, tzinfo=UTC)


def test_more_requests_than_the_whole_daily_quota_are_refused_as_the_daily_quota(
    ledger: DynamoUsageLedger,
) -> None:
    guard = _guard(ledger, {"acme": {"daily_requests": 2}})

    with pytest.raises(QuotaExceeded) as refused:
        guard.reserve("acme", "intent", requests=3)

    assert refused.value.message == "the tenant's daily request quota is used up"
    assert ledger.usage("acme", Period.at(NOW)) == Usage()


def test_the_monthly_quota_admits_up_to_exactly_its_count_and_resets_with_the_month(
    ledger: DynamoUsageLedger,
) -> None:
    # Given a monthly quota of 3, and a daily quota with room to spare
    guard = _guard(ledger, {"acme": {"monthly_requests": 3, "daily_requests": 10}})

    counted = [guard.reserve("acme", "intent").usage.month_requests for _ in range(3)]
    with pytest.raises(QuotaExceeded) as refused:
        guard.reserve("acme", "intent")

    assert counted == [1, 2, 3]
    assert refused.value.message == "the tenant's monthly request quota is used up"
    assert refused.value.resets_at == datetime(2027, 1, 1, tzinfo=UTC)
    assert refused.value.retry_after_seconds == int((datetime(2027, 1, 1, tzinfo=UTC) - NOW).total_seconds())


def test_an_actions_lower_quota_refuses_as_the_monthly_quota(ledger: DynamoUsageLedger) -> None:
    # Given no configured quota, and a budget action's cap of 2 this month
    guard = _guard(ledger, {"acme": {"monthly_budget_usd": 1.0}})
    ledger.set_quota_cap("acme", Period.at(NOW), 2)
    guard.reserve("acme", "intent")
    guard.reserve("acme", "intent")

    with pytest.raises(QuotaExceeded) as refused:
        guard.reserve("acme", "intent")

    assert refused.value.message == "the tenant's monthly request quota is used up"
    assert refused.value.resets_at == datetime(2027, 1, 1, tzinfo=UTC)


def test_a_request_that_would_exactly_fill_the_quotas_but_not_the_money_is_a_budget_refusal(
    ledger: DynamoUsageLedger,
) -> None:
    # Given quotas of 3 a day and 3 a month, and money for only 2 intent requests
    guard = _guard(
        ledger, {"acme": {"monthly_budget_usd": 0.004, "daily_requests": 3, "monthly_requests": 3}}
    )
    guard.reserve("acme", "intent")
    guard.reserve("acme", "intent")

    # When the third arrives: it would use the last request of each quota, but money refuses it
    with pytest.raises(BudgetExceeded) as refused:
        guard.reserve("acme", "intent")

    assert refused.value.message == "the tenant's monthly budget is used up"
    assert refused.value.resets_at == datetime(2027, 1, 1, tzinfo=UTC)


# --- reserve: whose budget, and which period ---------------------------------------------------


def test_a_budget_configured_by_name_binds_the_api_key_id_and_counts_under_the_id(
    ledger: DynamoUsageLedger,
) -> None:
    guard = _guard(ledger, {"acme": {"monthly_requests": 1}}, tenant_ids={"acme": "k1acme"})

    admission = guard.reserve("k1acme", "intent")
    with pytest.raises(QuotaExceeded):
        guard.reserve("k1acme", "intent")

    assert admission.reservation.tenant == "k1acme"
    assert ledger.usage("k1acme", Period.at(NOW)).month_requests == 1


def test_a_tenant_without_a_key_id_is_bound_by_the_budget_of_its_own_name(ledger: DynamoUsageLedger) -> None:
    # Given key ids for acme only, beta's quota of 1 and a generous default
    guard = _guard(
        ledger,
        {"acme": {"monthly_requests": 5}, "beta": {"monthly_requests": 1}},
        tenant_ids={"acme": "k1acme"},
        default_budget={"monthly_requests": 50},
    )

    guard.reserve("beta", "intent")
    with pytest.raises(QuotaExceeded):
        guard.reserve("beta", "intent")


def test_an_unlisted_tenant_gets_the_default_budget_and_tenants_do_not_share_limits(
    ledger: DynamoUsageLedger,
) -> None:
    guard = _guard(ledger, {"acme": {"monthly_requests": 1}}, default_budget={"daily_requests": 2})

    guard.reserve("acme", "intent")
    guard.reserve("gamma", "intent")
    guard.reserve("gamma", "intent")
    with pytest.raises(QuotaExceeded) as refused:
        guard.reserve("gamma", "intent")

    assert refused.value.message == "the tenant's daily request quota is used up"
    assert ledger.usage("acme", Period.at(NOW)).month_requests == 1


def test_a_new_utc_day_resets_the_daily_quota_but_not_the_monthly_one(ledger: DynamoUsageLedger) -> None:
    clock = Clock(datetime(2026, 12, 1, 23, 59, 59, tzinfo=UTC))
    guard = _guard(ledger, {"acme": {"daily_requests": 1, "monthly_requests": 2}}, clock=clock)
    guard.reserve("acme", "intent")
    with pytest.raises(QuotaExceeded):
        guard.reserve("acme", "intent")

    clock.now = datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
    admission = guard.reserve("acme", "intent")

    assert admission.reservation.period == Period("2026-12", "2026-12-02")
    assert admission.usage == Usage(spent_micros=2 * INTENT_RESERVE, month_requests=2, day_requests=1)
    # The month's quota still counts the first day's request
    clock.now = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
    with pytest.raises(QuotaExceeded) as refused:
        guard.reserve("acme", "intent")
    assert refused.value.message == "the tenant's monthly request quota is used up"


def test_a_new_utc_month_starts_the_tenant_from_nothing(ledger: DynamoUsageLedger) -> None:
    clock = Clock(datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC))
    guard = _guard(ledger, {"acme": {"monthly_budget_usd": 0.002}}, clock=clock)
    guard.reserve("acme", "intent")
    with pytest.raises(BudgetExceeded):
        guard.reserve("acme", "intent")

    clock.now = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
    admission = guard.reserve("acme", "intent")

    assert admission.reservation.period == Period("2027-01", "2027-01-01")
    assert admission.usage == Usage(spent_micros=INTENT_RESERVE, month_requests=1, day_requests=1)


def test_every_admission_past_a_soft_limit_warns_of_it_once(ledger: DynamoUsageLedger) -> None:
    # Given soft limits at half of 12,000 micro-dollars, 8 requests a month and 4 a day
    guard = _guard(
        ledger,
        {
            "acme": {
                "monthly_budget_usd": 0.012,
                "monthly_requests": 8,
                "daily_requests": 4,
                "soft_limit_ratio": 0.5,
            }
        },
    )

    # When 4 intent requests (2,000 each) are admitted
    warnings = [guard.reserve("acme", "intent").warnings for _ in range(4)]

    # Then each limit warns from the admission that reaches its half on, each named once
    assert warnings == [
        (),
        (Limit.DAILY_REQUESTS,),
        (Limit.BUDGET, Limit.DAILY_REQUESTS),
        (Limit.BUDGET, Limit.MONTHLY_REQUESTS, Limit.DAILY_REQUESTS),
    ]


# --- settle and release --------------------------------------------------------------------


def test_settling_charges_the_served_variants_model_time_for_each_request(
    table: CostTable, ledger: DynamoUsageLedger
) -> None:
    guard = _guard(ledger, {"acme": {"monthly_budget_usd": 1.0}})
    admission = guard.reserve("acme", "intent", requests=2)

    # When two requests are served by blue (1,000 a second) in 250 ms each
    charged = guard.settle(admission, variant="blue", model_ms=250)

    # Then they cost 2 x 250, and that replaces the 2 x 2,000 reserved; the requests stay counted
    assert charged == 500
    assert ledger.usage("acme", Period.at(NOW)) == Usage(spent_micros=500, month_requests=2, day_requests=2)
    item = table.item("acme", Period.at(NOW))
    assert (item["reserved_micros"], item["settled_micros"]) == (0, 500)


def test_releasing_an_admission_gives_back_its_money_and_requests(
    table: CostTable, ledger: DynamoUsageLedger
) -> None:
    guard = _guard(ledger, {"acme": {"monthly_requests": 2}})
    kept = guard.reserve("acme", "summarize")
    guard.release(guard.reserve("acme", "intent"))

    assert ledger.usage("acme", Period.at(NOW)) == Usage(
        spent_micros=SUMMARIZE_RESERVE, month_requests=1, day_requests=1
    )
    assert table.item("acme", Period.at(NOW))["reserved_micros"] == kept.reservation.cost_micros


def test_a_queued_job_is_settled_at_its_variants_price_in_the_period_it_was_accepted(
    table: CostTable,
    ledger: DynamoUsageLedger,
) -> None:
    # Given a job accepted on New Year's Eve (the API reserved for it then), finished in January
    accepted = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    _guard(ledger, {}, clock=Clock(accepted)).reserve("acme", "intent")
    worker = _guard(ledger, {}, clock=Clock(datetime(2027, 1, 1, 0, 5, tzinfo=UTC)))

    # When the worker settles it: served by blue (the cheaper variant) in 400 ms
    charged = worker.settle_job("acme", "intent", accepted, variant="blue", model_ms=400)

    # Then blue's price is charged, not the route's dearest, in December's counters
    assert charged == 400
    december = Period.at(accepted)
    assert ledger.usage("acme", december) == Usage(spent_micros=400, month_requests=1, day_requests=1)
    item = table.item("acme", december)
    assert (item["reserved_micros"], item["settled_micros"]) == (0, 400)
    assert ledger.usage("acme", Period.at(datetime(2027, 1, 1, tzinfo=UTC))) == Usage()


def test_a_queued_job_without_a_known_variant_is_charged_the_routes_dearest(
    ledger: DynamoUsageLedger,
) -> None:
    _guard(ledger, {}).reserve("acme", "intent")

    charged = _guard(ledger, {}).settle_job("acme", "intent", NOW, variant=None, model_ms=400)

    assert charged == 800
    assert ledger.usage("acme", Period.at(NOW)).spent_micros == 800


def test_a_failed_job_gives_back_exactly_its_reservation_in_the_period_it_was_accepted(
    table: CostTable,
    ledger: DynamoUsageLedger,
) -> None:
    # Given acme's job accepted on 1 December, next to other work that stays: acme's summarize
    # request that day, acme's intent request on 2 December and beta's intent request
    accepted = NOW
    clock = Clock(accepted)
    api = _guard(ledger, {}, clock=clock)
    api.reserve("acme", "intent")
    api.reserve("acme", "summarize")
    api.reserve("beta", "intent")
    clock.now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    api.reserve("acme", "intent")

    # When the job fails, and the worker releases it in January
    worker = _guard(ledger, {}, clock=Clock(datetime(2027, 1, 1, tzinfo=UTC)))
    worker.release_job("acme", "intent", accepted)

    # Then acme's 1 December holds only the summarize request, 2 December is untouched
    december = Period.at(accepted)
    assert ledger.usage("acme", december) == Usage(
        spent_micros=SUMMARIZE_RESERVE + INTENT_RESERVE, month_requests=2, day_requests=1
    )
    assert ledger.usage("acme", Period.at(clock.now)).day_requests == 1
    assert table.item("acme", december)["reserved_micros"] == SUMMARIZE_RESERVE + INTENT_RESERVE
    assert ledger.usage("beta", december) == Usage(
        spent_micros=INTENT_RESERVE, month_requests=1, day_requests=1
    )
