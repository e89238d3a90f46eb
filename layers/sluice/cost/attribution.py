"""Attribute each hour's instance bill to tenants by their share of model time in that hour.

The meter's hourly counters say how many milliseconds of model time each tenant, route, variant
and model version used. An endpoint's bill for an hour is its instance hours times the instance
price; splitting it by share of model time makes the figures add up to the bill. A real-time
variant runs its instances every hour, so hours without traffic are billed too: they show as
`(idle)`. An asynchronous variant that scales to zero is billed only while an instance runs:
its instance time in an hour is the `budget` function's instance samples for that hour (the
`meter#instances#...` counters, `sluice.cost.instances`), instance minutes / 60; instance time
nobody's model time used (scale-out ahead of work, the cooldown before scale-in) shows as
`(idle)`. For an hour without samples (the sampler not deployed, or data from before it) the
instance time is estimated instead, as the variant's busy time over its concurrency plus the
scale-in cooldown after it (the endpoint's scaling policy), and the row says so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sluice.cost.pricing import PriceList, VariantPrice

# EndpointScaling's scale-in cooldown for async variants: an instance outlives its last job by it.
ASYNC_SCALE_IN_COOLDOWN_HOURS = 10 / 60
IDLE = "(idle)"


@dataclass(frozen=True)
class AttributedUsage:
    tenant: str
    route: str
    variant: str
    model_version: str
    hour: str
    requests: int
    model_ms: int
    bytes_in: int
    bytes_out: int
    metered_usd: float  # the request path's estimate (model time over expected utilization)
    attributed_usd: float  # the share of the hour's bill
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_estimated: int = 0  # requests whose tokens were counted from text length
    # How the hour's instance time was known: "always-on" (real-time), "sampled" or "estimated".
    instance_time: str = "always-on"


def instance_hours(price: VariantPrice, busy_model_ms: int) -> float:
    if price.mode == "realtime":
        return float(price.instances)
    if busy_model_ms <= 0:
        return 0.0
    busy_hours = busy_model_ms / 3_600_000 / price.concurrency
    return min(float(price.instances), busy_hours + ASYNC_SCALE_IN_COOLDOWN_HOURS, 1.0 * price.instances)


def _hours_between(first: str, last: str) -> list[str]:
    start, end = (datetime.strptime(h, "%Y-%m-%dT%H") for h in (first, last))
    hours = []
    while start <= end:
        hours.append(start.strftime("%Y-%m-%dT%H"))
        start += timedelta(hours=1)
    return hours


def attribute(
    rows: Iterable[Mapping[str, Any]],
    prices: PriceList,
    instance_rows: Iterable[Mapping[str, Any]] = (),
) -> list[AttributedUsage]:
    """`rows` are the meter's hourly counters (`meter#hour#...` items, as plain values);
    `instance_rows` the sampled instance time (`meter#instances#...` items)."""
    rows = list(rows)
    sampled: dict[tuple[str, str, str], int] = defaultdict(int)
    for row in instance_rows:
        sampled[(row["route"], row["variant"], row["hour"])] += int(row.get("instance_minutes", 0))
    busy: dict[tuple[str, str, str], int] = defaultdict(int)
    for row in rows:
        busy[(row["route"], row["variant"], row["hour"])] += int(row.get("model_ms", 0))

    def hours_billed(price: VariantPrice, key: tuple[str, str, str]) -> tuple[float, str]:
        if price.mode == "realtime":
            return float(price.instances), "always-on"
        if key in sampled:
            return sampled[key] / 60, "sampled"
        return instance_hours(price, busy[key]), "estimated"

    attributed: list[AttributedUsage] = []
    for row in rows:
        key = (row["route"], row["variant"], row["hour"])
        price = prices.price(row["route"], row["variant"])
        model_ms = int(row.get("model_ms", 0))
        total = busy[key]
        billed, how = (0.0, "estimated") if price is None else hours_billed(price, key)
        bill = 0.0 if price is None else billed * price.usd_per_instance_hour
        attributed.append(
            AttributedUsage(
                tenant=row["tenant"],
                route=row["route"],
                variant=row["variant"],
                model_version=row.get("model_version", ""),
                hour=row["hour"],
                requests=int(row.get("requests", 0)),
                model_ms=model_ms,
                bytes_in=int(row.get("bytes_in", 0)),
                bytes_out=int(row.get("bytes_out", 0)),
                metered_usd=int(row.get("cost_micros", 0)) / 1_000_000,
                attributed_usd=bill * model_ms / total if total else 0.0,
                tokens_in=int(row.get("tokens_in", 0)),
                tokens_out=int(row.get("tokens_out", 0)),
                tokens_estimated=int(row.get("tokens_estimated", 0)),
                instance_time=how,
            )
        )
    # Sampled async instance time in hours without model time: billed, used by nobody.
    for (route, variant, hour), minutes in sampled.items():
        price = prices.price(route, variant)
        if price is None or minutes <= 0 or busy.get((route, variant, hour)):
            continue
        attributed.append(
            AttributedUsage(
                tenant=IDLE,
                route=route,
                variant=variant,
                model_version="",
                hour=hour,
                requests=0,
                model_ms=0,
                bytes_in=0,
                bytes_out=0,
                metered_usd=0.0,
                attributed_usd=minutes / 60 * price.usd_per_instance_hour,
                instance_time="sampled",
            )
        )
    if rows:
        # Real-time fleets bill every hour of the window, used or not.
        window = _hours_between(min(r["hour"] for r in rows), max(r["hour"] for r in rows))
        for price in prices.variants():
            if price.mode != "realtime":
                continue
            for hour in window:
                if (price.route, price.variant, hour) not in busy:
                    attributed.append(
                        AttributedUsage(
                            tenant=IDLE,
                            route=price.route,
                            variant=price.variant,
                            model_version="",
                            hour=hour,
                            requests=0,
                            model_ms=0,
                            bytes_in=0,
                            bytes_out=0,
                            metered_usd=0.0,
                            attributed_usd=price.instances * price.usd_per_instance_hour,
                        )
                    )
    return attributed
