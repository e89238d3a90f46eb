"""The circuit breaker opens on failures, lets one probe through, and closes again; state is shared."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sluice.config import BreakerConfig
from sluice.routing.breaker import BreakerRecord, CircuitBreaker, CircuitState, InMemoryBreakerStore
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


# --- what two instances sharing the store see (session 10: mutation survivors of breaker.py) ---


class CountingStore(InMemoryBreakerStore):
    def __init__(self) -> None:
        super().__init__()
        self.loads = 0

    def load(self, endpoint: str) -> BreakerRecord:
        self.loads += 1
        return super().load(endpoint)


class InterleavedStore(InMemoryBreakerStore):
    """Runs `between` once, after a load has read the record and before it returns: another
    instance's writes land between this instance's read and its compare-and-set."""

    def __init__(self) -> None:
        super().__init__()
        self.between: Callable[[], object] | None = None

    def load(self, endpoint: str) -> BreakerRecord:
        record = super().load(endpoint)
        hook, self.between = self.between, None
        if hook is not None:
            hook()
        return record


def _open(breaker: CircuitBreaker) -> None:
    for _ in range(POLICY.failure_threshold):
        breaker.record_failure("ep")


def test_a_read_is_cached_for_its_seconds_and_read_again_after() -> None:
    clock, store = FakeClock(), CountingStore()
    breaker = CircuitBreaker(store, POLICY, clock=clock, cache_seconds=1.0)

    breaker.retry_after("ep")
    clock.advance(0.5)
    breaker.retry_after("ep")
    assert store.loads == 1

    clock.advance(0.5)
    breaker.retry_after("ep")
    assert store.loads == 2


def test_the_third_failure_exactly_at_the_windows_end_still_counts_in_it() -> None:
    clock, store = FakeClock(), InMemoryBreakerStore()
    breaker = _breaker(store, clock)

    breaker.record_failure("ep")
    clock.advance(5)
    breaker.record_failure("ep")
    clock.advance(5)  # exactly `window_seconds` after the first
    breaker.record_failure("ep")

    assert breaker.state("ep") is CircuitState.OPEN


@pytest.mark.parametrize("written_between", [1, 2], ids=["a-failure", "the-opening"])
def test_failures_written_between_anothers_read_and_write_are_not_lost(written_between: int) -> None:
    # Given one failure counted, and while a second instance counts its own, the first instance
    # writes one more (the count reaches the threshold) or two more (it opens the circuit)
    clock, store = FakeClock(), InterleavedStore()
    first, second = _breaker(store, clock), _breaker(store, clock)
    first.record_failure("ep")
    store.between = lambda: [first.record_failure("ep") for _ in range(written_between)]

    second.record_failure("ep")

    # Then the second's stale write is refused and retried on what is stored: the circuit is open
    assert first.state("ep") is CircuitState.OPEN


def _open_circuit_due_for_a_probe_and_cached_by_another() -> tuple[CircuitBreaker, CircuitBreaker]:
    """An instance that reads the store every time, and one that caches its reads for a second,
    sharing a circuit opened by the first whose open period has just passed."""
    clock, store = FakeClock(), InMemoryBreakerStore()
    probing = _breaker(store, clock)
    caching = CircuitBreaker(store, POLICY, clock=clock, cache_seconds=1.0)
    _open(probing)
    clock.advance(POLICY.open_seconds)
    return probing, caching


def test_an_instance_with_a_cached_open_record_cannot_probe_after_another_did() -> None:
    probing, caching = _open_circuit_due_for_a_probe_and_cached_by_another()
    assert caching.state("ep") is CircuitState.OPEN  # now cached

    assert probing.retry_after("ep") is None
    # One probe at a time: the cached instance's claim of the probe is refused
    assert caching.retry_after("ep") == POLICY.open_seconds


def test_a_probe_claimed_from_a_stale_read_cannot_undo_a_close() -> None:
    probing, caching = _open_circuit_due_for_a_probe_and_cached_by_another()
    caching.state("ep")  # caches the open record

    assert probing.retry_after("ep") is None
    probing.record_success("ep")
    caching.retry_after("ep")

    assert probing.state("ep") is CircuitState.CLOSED


def test_the_circuit_opening_is_logged_once_when_it_opens(captured_logs: Any) -> None:
    clock, store = FakeClock(), InMemoryBreakerStore()
    breaker = _breaker(store, clock)

    breaker.record_failure("ep")
    breaker.record_failure("ep")
    assert "circuit opened" not in captured_logs.getvalue()

    breaker.record_failure("ep")
    assert captured_logs.getvalue().count("circuit opened") == 1


def test_the_in_memory_store_compares_before_it_sets() -> None:
    store = InMemoryBreakerStore()

    assert store.save("ep", BreakerRecord(version=1), expected_version=0) is True
    assert store.save("ep", BreakerRecord(version=2), expected_version=0) is False
    assert store.load("ep").version == 1
