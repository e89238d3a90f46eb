"""Instance prices from config, per route and variant, turned into the cost of model time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict

from sluice.config import CostAlarmConfig, CostConfig, DeploymentConfig, RouteConfig
from sluice.cost.models import MICROS_PER_USD


class VariantPrice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    route: str
    variant: str
    mode: Literal["realtime", "async"]  # real-time bills around the clock, async while running
    usd_per_instance_hour: float
    instances: int  # real-time: the always-on count; async: the most that may run
    concurrency: int  # inferences one instance serves at once


def _variant_prices(route: RouteConfig) -> list[VariantPrice]:
    hosting = route.endpoint
    asynchronous = hosting.mode == "async"
    return [
        VariantPrice(
            route=route.name,
            variant=variant.name,
            mode=hosting.mode,
            usd_per_instance_hour=variant.cost_per_instance_hour or hosting.cost_per_instance_hour,
            instances=hosting.async_inference.max_capacity
            if asynchronous
            else (variant.initial_instance_count or hosting.initial_instance_count),
            concurrency=hosting.async_inference.max_concurrent_invocations_per_instance
            if asynchronous
            else 1,
        )
        for variant in hosting.production_variants
    ]


class PriceList:
    """What a second of model time costs on each route's variants.

    The request path cannot know the hour's total model time, so it charges model time at the
    instance price divided by the expected utilization: an instance busy half the time costs
    twice its busy seconds. The cost report later attributes each hour's instance bill by the
    measured share of model time (`sluice.cost.attribution`), which adds up to the bill.
    """

    def __init__(self, cost: CostConfig, prices: Iterable[VariantPrice]) -> None:
        self._cost = cost
        self._prices = {(price.route, price.variant): price for price in prices}

    @classmethod
    def from_config(cls, config: DeploymentConfig) -> PriceList:
        return cls(config.cost, [price for route in config.routes for price in _variant_prices(route)])

    def policy(self, tenant_ids: Mapping[str, str] | None = None) -> CostPolicy:
        """What the request path needs (not the alarms' actions: Lambda's environment is 4 KB)."""
        return CostPolicy(
            cost=self._cost.model_copy(update={"alarms": CostAlarmConfig()}),
            prices=tuple(self._prices.values()),
            tenant_ids=dict(tenant_ids or {}),
        )

    def variants(self) -> list[VariantPrice]:
        return list(self._prices.values())

    def price(self, route: str, variant: str) -> VariantPrice | None:
        return self._prices.get((route, variant))

    def model_time_micros(self, route: str, variant: str | None, model_ms: float) -> int:
        of_route = [p for (r, _), p in self._prices.items() if r == route]
        # A variant not named (a reservation) or unknown to the price list (a variant added to
        # the live route table since) is charged as the dearest of the route: never under-charge.
        prices = [p for p in of_route if p.variant == variant] or of_route
        if not prices:
            return 0
        hourly = max(price.usd_per_instance_hour / price.concurrency for price in prices)
        busy_share = self._cost.expected_utilization
        return round(hourly * MICROS_PER_USD * model_ms / 3_600_000 / busy_share)

    def reserve_model_seconds(self, route: str) -> float:
        return self._cost.reserve_model_seconds.get(route, self._cost.default_reserve_model_seconds)

    def reservation_micros(self, route: str) -> int:
        return self.model_time_micros(route, None, self.reserve_model_seconds(route) * 1000)


class CostPolicy(BaseModel):
    """What a function needs to reserve and settle: the budgets and the prices (COST_POLICY)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cost: CostConfig
    prices: tuple[VariantPrice, ...]
    # Tenant name (cdk.json) -> the id requests carry (the API key id); unlisted: the same.
    tenant_ids: dict[str, str] = {}

    def price_list(self) -> PriceList:
        return PriceList(self.cost, self.prices)
