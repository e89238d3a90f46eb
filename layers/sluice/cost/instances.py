"""Instance counts of the routes' endpoints, sampled on a schedule into an EMF metric and
into the cost table's instance-time counters.

SageMaker publishes no instance-count metric for an endpoint; the `budget` function samples
DescribeEndpoint's CurrentInstanceCount every few minutes, and the instance-hours alarm sums the
samples (samples x minutes between them / 60 = instance hours). The same samples are added per
variant and UTC hour to `meter#instances#<hour>#<route>#<variant>` (instance minutes): the cost
report bills an asynchronous variant for the instance time it ran, not for wall time
(`sluice.cost.attribution`). A sample stands for the minutes until the next one, so the error
is at most one sampling interval per scale-out or scale-in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from sluice.cost.ports import UsageCounters


class InstanceCounts(Protocol):
    def running(self, endpoint_name: str) -> dict[str, int]:
        """Instances running per variant now."""
        ...


def instance_key(hour: str, route: str, variant: str) -> str:
    return f"meter#instances#{hour}#{route}#{variant}"


class InstanceSampler:
    def __init__(
        self,
        endpoints: Mapping[str, str],
        counts: InstanceCounts,
        metrics: Any,
        *,
        counters: UsageCounters | None = None,
        every_minutes: int = 5,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._endpoints = endpoints
        self._counts = counts
        self._metrics = metrics
        self._counters = counters
        self._every_minutes = every_minutes
        self._clock = clock

    def sample(self) -> dict[str, int]:
        per_route: dict[str, int] = {}
        for route, endpoint in self._endpoints.items():
            try:
                running = self._counts.running(endpoint)
            except LookupError:
                running = {}  # an endpoint still being created runs nothing billable yet
            per_route[route] = sum(running.values())
            self._metrics.emit({"route": route}, {"InstanceCount": per_route[route]}, rollups=(("route",),))
            if self._counters is not None:
                hour = self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H")
                for variant, count in running.items():
                    self._counters.add(
                        instance_key(hour, route, variant),
                        {"instance_minutes": count * self._every_minutes, "samples": 1},
                        labels={"hour": hour, "route": route, "variant": variant},
                    )
        return per_route
