"""Attribute each hour's instance bill to tenants by their share of model time in that hour.

The meter's hourly counters say how many milliseconds of model time each tenant, route, variant
and model version used. An endpoint's bill for an hour is its instance hours times the instance
price; splitting it by share of model time makes the figures add up to the bill. A real-time
variant runs its instances every hour, so hours without traffic are billed too: they show as
`(idle)`. An asynchronous variant that scales to zero is billed only while an instance runs;
without CloudWatch's instance counts here, that is estimated as its busy time over its
concurrency plus the scale-in cooldown after it (the endpoint's scaling policy), per hour.
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


def attribute(rows: Iterable[Mapping[str, Any]], prices: PriceList) -> list[AttributedUsage]:
    """`rows` are the meter's hourly counters (`meter#hour#...` items, as plain values)."""
    rows = list(rows)
    busy: dict[tuple[str, str, str], int] = defaultdict(int)
    for row in rows:
        busy[(row["route"], row["variant"], row["hour"])] += int(row.get("model_ms", 0))
    attributed: list[AttributedUsage] = []
    for row in rows:
        price = prices.price(row["route"], row["variant"])
        model_ms = int(row.get("model_ms", 0))
        total = busy[(row["route"], row["variant"], row["hour"])]
        bill = 0.0 if price is None else instance_hours(price, total) * price.usd_per_instance_hour
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
