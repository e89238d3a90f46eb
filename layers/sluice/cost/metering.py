"""Metering: what each inference used (model time, bytes, tokens) and cost, per tenant, route,
variant and model version, as DynamoDB counters and EMF metrics.

The request path and the worker call `Meter.record` (or `record_all` for a micro-batch, which
adds each group once) after the model answered. The cost recorded here is model time at the
instance price over the expected utilization (`PriceList`); the cost report attributes each
hour's instance bill by the measured share of model time instead (`sluice.cost.attribution`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from sluice.cost.ports import UsageCounters
from sluice.cost.pricing import PriceList

COUNTED = (
    "requests",
    "model_ms",
    "bytes_in",
    "bytes_out",
    "tokens_in",
    "tokens_out",
    # Requests whose tokens were counted from text length, not reported by the model.
    "tokens_estimated",
    "cost_micros",
)


@dataclass(frozen=True)
class InferenceUsage:
    """One inference as the meter sees it: identifiers and amounts, never input or output."""

    tenant: str
    route: str
    variant: str
    model_version: str
    model_ms: float
    bytes_in: int
    bytes_out: int
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_estimated: bool = False
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


class MeterMetrics(Protocol):
    """EMF metrics: one set of values under one set of dimensions."""

    def emit(
        self,
        dimensions: Mapping[str, str],
        values: Mapping[str, float],
        *,
        rollups: tuple[tuple[str, ...], ...],
    ) -> None:
        """`rollups`: subsets of the dimensions under which the same values are also aggregated."""
        ...


@dataclass(frozen=True)
class UsageGroup:
    """One counter row: a tenant's use of one route, variant and model version in one UTC hour."""

    tenant: str
    route: str
    variant: str
    model_version: str
    hour: str  # "2026-12-01T23"

    @property
    def key(self) -> str:
        return f"meter#hour#{self.hour}#{self.tenant}#{self.route}#{self.variant}#{self.model_version}"

    def labels(self) -> dict[str, str]:
        return {
            "tenant": self.tenant,
            "route": self.route,
            "variant": self.variant,
            "model_version": self.model_version,
            "hour": self.hour,
        }


class Meter:
    def __init__(
        self, counters: UsageCounters, prices: PriceList, metrics: MeterMetrics | None = None
    ) -> None:
        self._counters = counters
        self._prices = prices
        self._metrics = metrics

    def cost_micros(self, usage: InferenceUsage) -> int:
        return self._prices.model_time_micros(usage.route, usage.variant, usage.model_ms)

    def record(self, usage: InferenceUsage) -> int:
        return self.record_all([usage])

    def record_all(self, usages: Iterable[InferenceUsage]) -> int:
        """Add a batch's usage: one counter update per group and period, not one per inference."""
        by_group: dict[UsageGroup, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTED, 0))
        total_cost = 0
        for usage in usages:
            group = UsageGroup(
                tenant=usage.tenant,
                route=usage.route,
                variant=usage.variant,
                model_version=usage.model_version or "unknown",
                hour=usage.at.astimezone(UTC).strftime("%Y-%m-%dT%H"),
            )
            cost = self.cost_micros(usage)
            total_cost += cost
            amounts = by_group[group]
            amounts["requests"] += 1
            # Whole milliseconds in the counters; sub-millisecond model calls still count as one.
            amounts["model_ms"] += max(1, round(usage.model_ms))
            amounts["bytes_in"] += usage.bytes_in
            amounts["bytes_out"] += usage.bytes_out
            amounts["tokens_in"] += usage.tokens_in
            amounts["tokens_out"] += usage.tokens_out
            amounts["tokens_estimated"] += int(usage.tokens_estimated)
            amounts["cost_micros"] += cost
        by_tenant_period: dict[tuple[str, str], dict[str, int]] = defaultdict(
            lambda: dict.fromkeys(COUNTED, 0)
        )
        for group, amounts in by_group.items():
            self._counters.add(group.key, amounts, labels=group.labels())
            for period in (group.hour[:7], group.hour[:10]):  # the month, the day
                totals = by_tenant_period[(group.tenant, period)]
                for name, amount in amounts.items():
                    totals[name] += amount
            self._emit(group, amounts)
        for (tenant, period), amounts in by_tenant_period.items():
            self._counters.add(
                f"meter#tenant#{tenant}#{period}", amounts, labels={"tenant": tenant, "period": period}
            )
        return total_cost

    def _emit(self, group: UsageGroup, amounts: Mapping[str, int]) -> None:
        if self._metrics is None:
            return
        values = {
            "Requests": amounts["requests"],
            "ModelTimeMs": amounts["model_ms"],
            "BytesIn": amounts["bytes_in"],
            "BytesOut": amounts["bytes_out"],
            "EstimatedCostUSD": amounts["cost_micros"] / 1_000_000,
        }
        if amounts["tokens_in"] or amounts["tokens_out"]:
            values |= {"TokensIn": amounts["tokens_in"], "TokensOut": amounts["tokens_out"]}
        # The per-tenant spend alarm reads the metric with the tenant as its only dimension.
        self._metrics.emit(
            {"tenant": group.tenant, "route": group.route, "variant": group.variant},
            values,
            rollups=(("tenant",),),
        )
