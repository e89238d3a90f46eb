"""Every fault at once, then the accounting: nothing accepted is lost, duplicated or over-invoked."""

from __future__ import annotations

import pytest

from sluice.config import BreakerConfig, RouteConfig
from sluice.errors import EndpointTimeout, EndpointUnavailable, ModelFailed, ModelRejectedInput, SluiceError
from sluice.routing.breaker import CircuitBreaker, CircuitState, InMemoryBreakerStore
from sluice.routing.invoker import ResilientInvoker
from sluice.routing.table import RouteTable, RouteTarget
from tests.fakes import FakeClock
from tests.functional import faults
from tests.functional.conftest import Platform


def test_every_accepted_request_ends_once_as_owed_under_every_fault(platform: Platform) -> None:
    # Given requests meeting throttling, a timeout, a model failing on some inputs (424), rejected
    # inputs, worker crashes mid-batch and DynamoDB throttling; poison messages beside them; every
    # batch delivered twice (once in reverse order) and a restart of every function half-way
    accounting = faults.run(platform, per_fault=6, poison=3)

    # Then each request ended exactly once in the state owed to it, was announced exactly once,
    # and took no more model calls than the retry policy allows; the poison is in the DLQ
    assert accounting.problems() == [], accounting.report()
    # And the faults really happened
    assert set(accounting.fired) == set(faults.FAULTS) - {"clean"}
    assert accounting.crashed_invocations > 0
    assert accounting.restarts == 1


@pytest.mark.parametrize(
    ("failure", "opens"),
    [
        (EndpointUnavailable("throttled"), True),
        (EndpointTimeout("no answer"), True),
        (ModelFailed("the model failed (status 500)"), False),
        (ModelRejectedInput("the model rejected the input (status 400)"), False),
    ],
)
def test_only_an_unavailable_endpoint_opens_its_circuit_not_inputs_the_model_fails_on(
    failure: SluiceError, opens: bool
) -> None:
    # One tenant's inputs that make the model fail must not open the circuit for every tenant:
    # before this, the suite above saw 90% of healthy requests end ENDPOINT_CIRCUIT_OPEN once 30
    # such inputs were in the mix.
    clock = FakeClock()
    breaker = CircuitBreaker(
        InMemoryBreakerStore(), BreakerConfig(failure_threshold=3), clock=clock, cache_seconds=0
    )
    invoker = ResilientInvoker(breaker, clock=clock, sleep=clock.sleep)
    route = RouteTarget.from_config(RouteConfig(name="intent"), queue_url="q", endpoint_name="sluice-intent")

    def attempt(_: RouteTarget) -> None:
        raise failure

    # When ten requests in a row meet the failure
    for _ in range(10):
        with pytest.raises(SluiceError):
            invoker.call(RouteTable(routes={"intent": route}), route, attempt)

    # Then the circuit is open only if the endpoint itself was failing
    assert (breaker.state("sluice-intent") is CircuitState.OPEN) is opens
