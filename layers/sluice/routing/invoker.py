"""Calling a route's endpoint resiliently: retries within the time budget, breaker, fallback chain.

For each candidate (the route, then its fallbacks in order): skip it if its endpoint's circuit
is open; otherwise call it, retrying the retryable failures (throttling, 429 ModelNotReady, 5xx,
530, timeouts) with full-jitter exponential backoff while the time budget allows another try.
An endpoint fault moves on to the next candidate; a fault of the input (a 4xx from the model)
does not, since no other endpoint would take it either. When nothing could serve, the caller
gets the last endpoint's error, or ENDPOINT_CIRCUIT_OPEN, with a Retry-After.

These are the only retries of an InvokeEndpoint call: the SageMaker Runtime client is built with
one attempt (`sluice.runtime.shared`), because botocore would retry throttling but not 424/429/530, and two
layers of retries multiply into each other.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from sluice.config import RetryPolicy
from sluice.errors import EndpointCircuitOpen, SluiceError
from sluice.jobs.models import Served
from sluice.observability import logger, metrics
from sluice.routing.breaker import CircuitBreaker
from sluice.routing.model_io import Predictions, decode, encode
from sluice.routing.ports import ModelEndpoint
from sluice.routing.table import RouteTable, RouteTarget, VariantTarget

T = TypeVar("T")


class ResilientInvoker:
    def __init__(
        self,
        breaker: CircuitBreaker,
        *,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._breaker = breaker
        self._retry = retry or RetryPolicy()
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter

    def call(
        self, routes: RouteTable, route: RouteTarget, attempt: Callable[[RouteTarget], T]
    ) -> tuple[RouteTarget, T]:
        """Serve `route` with `attempt(candidate)`; returns the candidate that served and its result."""
        deadline = self._clock() + route.time_budget_ms / 1000
        candidates = [route, *(routes.routes[name] for name in route.fallback if name in routes.routes)]
        last_error: SluiceError | None = None
        wait: float | None = None
        for candidate in candidates:
            if self._clock() >= deadline:
                break
            blocked_for = self._breaker.retry_after(candidate.endpoint_name)
            if blocked_for is not None:
                wait = blocked_for if wait is None else min(wait, blocked_for)
                continue
            try:
                result = self._with_retries(candidate, attempt, deadline)
            except SluiceError as error:
                if not error.endpoint_fault:
                    raise
                last_error = error
                continue
            if candidate is not route:
                metrics.add_metric(name="FallbackServed", unit=MetricUnit.Count, value=1)
                logger.info("fallback served", extra={"route": route.name, "fallback": candidate.name})
            return candidate, result
        raise _nothing_served(route, last_error, wait)

    def _with_retries(
        self, candidate: RouteTarget, attempt: Callable[[RouteTarget], T], deadline: float
    ) -> T:
        endpoint = candidate.endpoint_name
        for number in range(1, self._retry.max_attempts + 1):
            try:
                result = attempt(candidate)
            except SluiceError as error:
                if error.endpoint_fault:
                    self._breaker.record_failure(endpoint)
                if not error.retryable or number == self._retry.max_attempts:
                    raise
                ceiling = min(self._retry.max_delay_s, self._retry.base_delay_s * 2 ** (number - 1))
                delay = self._jitter() * ceiling
                if self._clock() + delay >= deadline:
                    raise  # no budget left for another try
                metrics.add_metric(name="EndpointRetries", unit=MetricUnit.Count, value=1)
                self._sleep(delay)
                continue
            self._breaker.record_success(endpoint)
            return result
        raise AssertionError("unreachable: the last attempt returns or raises")


def _nothing_served(route: RouteTarget, error: SluiceError | None, wait: float | None) -> SluiceError:
    retry_after = max(1, math.ceil(wait)) if wait is not None else 1
    if error is None:
        return EndpointCircuitOpen(
            f"No endpoint can serve route '{route.name}' now: their circuits are open",
            retry_after_seconds=retry_after,
        )
    if error.retryable and error.retry_after_seconds is None:
        error.retry_after_seconds = retry_after
    return error


@dataclass(frozen=True)
class ModelAnswer:
    served: Served
    predictions: Predictions


def invoke_model(
    endpoint: ModelEndpoint, route: RouteTarget, variant: VariantTarget, instances: list[dict[str, Any]]
) -> ModelAnswer:
    """One InvokeEndpoint call on `variant` (SageMaker TargetVariant), decoded by the route's format."""
    invocation = endpoint.invoke(
        route.endpoint_name,
        encode(route.wire_format, instances),
        target_variant=variant.name,
        time_budget_s=route.time_budget_ms / 1000,
    )
    predictions = decode(route.wire_format, invocation.body, expected=len(instances))
    served = Served(
        route=route.name,
        endpoint=route.endpoint_name,
        variant=invocation.variant or variant.name,
        model_version=predictions.model_version or variant.model_version or None,
    )
    return ModelAnswer(served=served, predictions=predictions)
