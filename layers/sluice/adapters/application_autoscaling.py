"""An endpoint variant's scaling range, through Application Auto Scaling.

RegisterScalableTarget on a registered target updates its range; when the current capacity is
outside the new range, Application Auto Scaling scales it into it, which is how a lower maximum
caps a fleet: https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html
A SageMaker variant's maximum is at least 1 (sagemaker/latest/dg/endpoint-auto-scaling-add-policy.html),
so an async endpoint goes to zero by a minimum of 0 with scaling out suspended: its policies
can then only scale in, and with no jobs admitted its backlog drains to nothing.
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

    def capacity(self, route: str, variant: str) -> tuple[int, int, bool]:
        targets = self._client.describe_scalable_targets(
            ServiceNamespace="sagemaker",
            ResourceIds=[self._resource(route, variant)],
            ScalableDimension=_DIMENSION,
        )["ScalableTargets"]
        if not targets:
            raise LookupError(f"route {route} variant {variant} has no scalable target")
        target = targets[0]
        suspended = bool((target.get("SuspendedState") or {}).get("DynamicScalingOutSuspended", False))
        return int(target["MinCapacity"]), int(target["MaxCapacity"]), suspended

    def set_capacity(
        self, route: str, variant: str, *, minimum: int, maximum: int, scale_out_suspended: bool
    ) -> None:
        maximum = max(1, maximum)
        self._client.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=self._resource(route, variant),
            ScalableDimension=_DIMENSION,
            MinCapacity=min(minimum, maximum),
            MaxCapacity=maximum,
            SuspendedState={"DynamicScalingOutSuspended": scale_out_suspended},
        )
