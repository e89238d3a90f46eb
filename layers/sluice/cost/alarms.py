"""The cost alarms from config: one spec per trigger, built by the CDK stack and the local platform.

- `tenant-spend:<tenant>` for each tenant with a monthly budget: the tenant's metered cost
  (EMF `EstimatedCostUSD`, tenant dimension) summed over a day, over its share of the budget.
- `instance-hours:<route>` for each route in `alarms.instance_hours_per_day`: the `budget`
  function's instance samples (`InstanceCount`) summed over a day, times minutes per sample / 60.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sluice.config import DeploymentConfig

NAMESPACE = "Sluice"
DAY_SECONDS = 86_400
# How often the budget function samples instance counts; the instance-hours alarm relies on it.
SAMPLE_EVERY_MINUTES = 5


@dataclass(frozen=True)
class AlarmSpec:
    trigger: str
    description: str
    metric_name: str
    dimensions: dict[str, str]
    threshold: float
    # A metric math expression over the metric (named `samples`), or None for the metric itself.
    expression: str | None = None
    statistic: str = "Sum"
    period_seconds: int = DAY_SECONDS
    extra: dict[str, str] = field(default_factory=dict)


def alarm_name(prefix: str, trigger: str) -> str:
    """Named from the stack (two stacks in one account do not clash), so the `budget` function's
    map from alarm name to trigger is plain configuration rather than deploy-time tokens."""
    return f"{prefix}-cost-{trigger.replace(':', '-')}"


def cost_alarm_specs(
    config: DeploymentConfig, tenant_ids: Mapping[str, str] | None = None
) -> list[AlarmSpec]:
    """`tenant_ids`: tenant name -> the id its requests carry (the API key id), the metric's
    `tenant` dimension; unlisted tenants (uploads) carry their name."""
    cost = config.cost
    ids = dict(tenant_ids or {})
    specs: list[AlarmSpec] = []
    for tenant in sorted(set(config.api.tenants) | {config.ingest.tenant}):
        budget = cost.budget_for(tenant).monthly_budget_usd
        if budget is None:
            continue
        specs.append(
            AlarmSpec(
                trigger=f"tenant-spend:{tenant}",
                description=f"Tenant {tenant}: metered spend today is over its share of the monthly budget",
                metric_name="EstimatedCostUSD",
                dimensions={"tenant": ids.get(tenant, tenant)},
                threshold=budget * cost.alarms.tenant_daily_spend_ratio,
            )
        )
    for route, hours in sorted(cost.alarms.instance_hours_per_day.items()):
        specs.append(
            AlarmSpec(
                trigger=f"instance-hours:{route}",
                description=f"Route {route}: its endpoint ran more instance hours today than configured",
                metric_name="InstanceCount",
                dimensions={"route": route},
                threshold=hours,
                expression=f"samples * {SAMPLE_EVERY_MINUTES} / 60",
            )
        )
    return specs
