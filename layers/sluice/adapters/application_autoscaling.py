"""An endpoint variant's scaling range, through Application Auto Scaling.

RegisterScalableTarget on a registered target updates its range; when the current capacity is
outside the new range, Application Auto Scaling scales it into it, which is how a lower maximum
caps a fleet and a maximum of 0 takes an async endpoint to zero:
https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_DIMENSION = "sagemaker:variant:DesiredInstanceCount"


class AutoscalingControl:
    def __init__(self, client: Any, endpoints: Mapping[str, str]) -> None:
        self._client = client
        self._endpoints = endpoints

    def _resource(self, route: str, variant: str) -> str:
        return f"endpoint/{self._endpoints[route]}/variant/{variant}"

    def capacity(self, route: str, variant: str) -> tuple[int, int]:
        targets = self._client.describe_scalable_targets(
            ServiceNamespace="sagemaker",
            ResourceIds=[self._resource(route, variant)],
            ScalableDimension=_DIMENSION,
        )["ScalableTargets"]
        if not targets:
            raise LookupError(f"route {route} variant {variant} has no scalable target")
        return int(targets[0]["MinCapacity"]), int(targets[0]["MaxCapacity"])

    def set_capacity(self, route: str, variant: str, *, minimum: int, maximum: int) -> None:
        self._client.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=self._resource(route, variant),
            ScalableDimension=_DIMENSION,
            MinCapacity=min(minimum, maximum),
            MaxCapacity=maximum,
        )
