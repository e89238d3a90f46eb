"""The circuit breaker opens on failures, lets one probe through, and closes again; state is shared."""

from __future__ import annotations

from sluice.config import BreakerConfig
from sluice.routing.breaker import CircuitBreaker, CircuitState, InMemoryBreakerStore
from tests.fakes import FakeClock

POLICY = BreakerConfig(failure_threshold=3, window_seconds=10, open_seconds=30)


def _breaker(store: InMemoryBreakerStore, clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(store, POLICY, clock=clock, cache_seconds=0)


def test_failures_within_the_window_open_the_circuit() -> None:
    clock, store = FakeClock(), InMemoryBreakerStore()
    breaker = _breaker(store, clock)

    for _ in range(3):
        breaker.record_failure("ep")

    assert breaker.state("ep") is CircuitState.OPEN
    assert breaker.retry_after("ep") == 30


def test_failures_spread_beyond_the_window_do_not_open_it() -> None:
    clock, store = FakeClock(), InMemoryBreakerStore()
    breaker = _breaker(store, clock)

    for _ in range(5):
        breaker.record_failure("ep")
        clock.advance(6)  # two failures per window at most

    assert breaker.state("ep") is CircuitState.CLOSED


def test_after_the_open_period_one_probe_goes_through_and_its_success_closes_the_circuit() -> None:
    # Given an open circuit, seen by two function instances sharing the store
    clock, store = FakeClock(), InMemoryBreakerStore()
    first, second = _breaker(store, clock), _breaker(store, clock)
    for _ in range(3):
        first.record_failure("ep")

    # When the open period has passed
    clock.advance(30)

    # Then exactly one instance may probe, the other is refused meanwhile
    assert first.retry_after("ep") is None
    assert second.retry_after("ep") is not None
    assert second.state("ep") is CircuitState.HALF_OPEN

    # And the probe's success closes it for everyone
    first.record_success("ep")
    assert second.retry_after("ep") is None
    assert second.state("ep") is CircuitState.CLOSED


def test_a_failed_probe_opens_the_circuit_again() -> None:
    clock, store = FakeClock(), InMemoryBreakerStore()
    breaker = _breaker(store, clock)
    for _ in range(3):
        breaker.record_failure("ep")
    clock.advance(31)
    assert breaker.retry_after("ep") is None

    breaker.record_failure("ep")

    assert breaker.state("ep") is CircuitState.OPEN
    assert breaker.retry_after("ep") == 30


def test_a_silent_probe_is_taken_over_after_another_open_period() -> None:
    clock, store = FakeClock(), InMemoryBreakerStore()
    crashed, other = _breaker(store, clock), _breaker(store, clock)
    for _ in range(3):
        crashed.record_failure("ep")
    clock.advance(30)
    assert crashed.retry_after("ep") is None  # it probes, then its instance dies

    clock.advance(30)

    assert other.retry_after("ep") is None


def test_breakers_are_per_endpoint() -> None:
    clock, store = FakeClock(), InMemoryBreakerStore()
    breaker = _breaker(store, clock)
    for _ in range(3):
        breaker.record_failure("sick")
    assert breaker.retry_after("healthy") is None
