"""Settings and builders for the functions that hold budgets and meter (api, worker, ingest,
async_result, sweeper)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from sluice.cost.pricing import CostPolicy
from sluice.runtime.settings import FunctionSettings

if TYPE_CHECKING:
    from sluice.cost.budgets import BudgetGuard
    from sluice.cost.job_accounting import JobAccounting
    from sluice.cost.metering import Meter
    from sluice.cost.ports import JobAdmission
    from sluice.runtime.shared import ClientFactory


class CostSettings(FunctionSettings):
    """Tenant budgets and metering (sluice.cost); unset: no budgets, nothing metered."""

    cost_table: str | None = Field(None, alias="COST_TABLE_NAME", min_length=3)
    cost_policy: CostPolicy | None = Field(None, alias="COST_POLICY")

    @field_validator("cost_policy", mode="before")
    @classmethod
    def _cost_policy_from_json(cls, value: object) -> object:
        return CostPolicy.model_validate_json(value) if isinstance(value, str | bytes) else value


def job_admission(settings: CostSettings, clients: ClientFactory) -> JobAdmission | None:
    """Whether a route takes jobs: the flag the `budget` function's `stop_jobs` sets."""
    if not settings.cost_table:
        return None
    from sluice.adapters.dynamodb_cost_actions import DynamoJobAdmission

    return DynamoJobAdmission(clients("dynamodb"), settings.cost_table)


def budget_and_meter(
    settings: CostSettings, clients: ClientFactory
) -> tuple[BudgetGuard | None, Meter | None]:
    if not (settings.cost_table and settings.cost_policy):
        return None, None
    from sluice.adapters.dynamodb_meter import DynamoUsageCounters
    from sluice.adapters.dynamodb_usage import DynamoUsageLedger
    from sluice.adapters.emf_metrics import EmfMeterMetrics
    from sluice.cost.budgets import BudgetGuard
    from sluice.cost.metering import Meter

    dynamodb = clients("dynamodb")
    policy = settings.cost_policy
    prices = policy.price_list()
    budget = BudgetGuard(
        policy.cost, DynamoUsageLedger(dynamodb, settings.cost_table), prices, tenant_ids=policy.tenant_ids
    )
    return budget, Meter(DynamoUsageCounters(dynamodb, settings.cost_table), prices, EmfMeterMetrics())


def job_accounting(settings: CostSettings, clients: ClientFactory) -> JobAccounting | None:
    """Metering and settling of jobs finished outside the worker (async_result, sweeper)."""
    budget, meter = budget_and_meter(settings, clients)
    if not (settings.cost_table and settings.cost_policy):
        return None
    from sluice.adapters.dynamodb_meter import DynamoUsageCounters
    from sluice.cost.job_accounting import JobAccounting

    return JobAccounting(
        counters=DynamoUsageCounters(clients("dynamodb"), settings.cost_table),
        prices=settings.cost_policy.price_list(),
        meter=meter,
        budget=budget,
    )
