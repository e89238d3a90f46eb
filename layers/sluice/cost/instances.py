"""Instance counts of the routes' endpoints, sampled on a schedule into an EMF metric.

SageMaker publishes no instance-count metric for an endpoint; the `budget` function samples
DescribeEndpoint's CurrentInstanceCount every few minutes, and the instance-hours alarm sums the
samples (samples x minutes between them / 60 = instance hours).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class InstanceCounts(Protocol):
    def running(self, endpoint_name: str) -> dict[str, int]:
        """Instances running per variant now."""
        ...


class InstanceSampler:
    def __init__(self, endpoints: Mapping[str, str], counts: InstanceCounts, metrics: Any) -> None:
        self._endpoints = endpoints
        self._counts = counts
        self._metrics = metrics

    def sample(self) -> dict[str, int]:
        per_route: dict[str, int] = {}
        for route, endpoint in self._endpoints.items():
            try:
                running = self._counts.running(endpoint)
            except LookupError:
                running = {}  # an endpoint still being created runs nothing billable yet
            per_route[route] = sum(running.values())
            self._metrics.emit({"route": route}, {"InstanceCount": per_route[route]}, rollups=(("route",),))
        return per_route
