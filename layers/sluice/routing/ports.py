"""What routing needs from outside: a model endpoint, real-time or asynchronous."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Invocation:
    body: dict[str, Any]
    variant: str


class ModelEndpoint(Protocol):
    def invoke(
        self,
        endpoint_name: str,
        payload: dict[str, Any],
        *,
        target_variant: str | None = None,
        time_budget_s: float | None = None,
    ) -> Invocation:
        """`time_budget_s`: how long the call may wait for an answer (the route's budget)."""
        ...


class AsyncModelEndpoint(Protocol):
    def invoke_async(
        self,
        endpoint_name: str,
        *,
        input_location: str,
        inference_id: str,
        invocation_timeout_seconds: int | None = None,
    ) -> str:
        """Queue an inference on an asynchronous endpoint; returns the output's S3 location."""
        ...
