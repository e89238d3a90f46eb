"""A circuit breaker per endpoint, its state shared by every function instance through a store.

Closed: calls go through; `failure_threshold` endpoint failures within `window_seconds` open it.
Open: calls are refused (the fallback route serves) until `open_seconds` have passed; then one
caller wins a conditional write and probes (half-open). The probe's success closes the circuit,
its failure opens it again. A probe that never reports (its instance died) is taken over after
another `open_seconds`.

Every transition is a compare-and-set on the record's version, so concurrent instances agree on
one state. Reads are cached for `cache_seconds`: the hot path of a healthy endpoint costs no
store call most of the time and never a write.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from aws_lambda_powertools.metrics import MetricUnit

from sluice.config import BreakerConfig
from sluice.observability import logger, metrics


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerRecord:
    state: CircuitState = CircuitState.CLOSED
    failures: int = 0
    window_started_at: float = 0.0
    # When the circuit opened, or when the current half-open probe started.
    opened_at: float = 0.0
    version: int = 0


class BreakerStore(Protocol):
    def load(self, endpoint: str) -> BreakerRecord: ...

    def save(self, endpoint: str, record: BreakerRecord, *, expected_version: int) -> bool:
        """Write `record` if the stored version is still `expected_version`; False if it moved on."""
        ...


class InMemoryBreakerStore:
    """For tests and benchmarks: the same compare-and-set semantics, in one process."""

    def __init__(self) -> None:
        self.records: dict[str, BreakerRecord] = {}

    def load(self, endpoint: str) -> BreakerRecord:
        return self.records.get(endpoint, BreakerRecord())

    def save(self, endpoint: str, record: BreakerRecord, *, expected_version: int) -> bool:
        if self.load(endpoint).version != expected_version:
            return False
        self.records[endpoint] = record
        return True


_ATTEMPTS = 3  # compare-and-set retries under contention; losing them all only delays a transition


class CircuitBreaker:
    def __init__(
        self,
        store: BreakerStore,
        policy: BreakerConfig,
        *,
        clock: Callable[[], float] = time.time,
        cache_seconds: float = 1.0,
    ) -> None:
        self._store = store
        self._policy = policy
        # Wall-clock time: instances on different machines compare each other's timestamps.
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, BreakerRecord]] = {}

    def retry_after(self, endpoint: str) -> float | None:
        """None when a call may go to `endpoint` now; else the seconds until it may."""
        now = self._clock()
        for _ in range(_ATTEMPTS):
            record = self._load(endpoint, now)
            if record.state is CircuitState.CLOSED:
                return None
            probe_due = record.opened_at + self._policy.open_seconds
            if now < probe_due:
                return probe_due - now
            # Open long enough (or a probe went silent): this caller tries to become the probe.
            probe = replace(record, state=CircuitState.HALF_OPEN, opened_at=now, version=record.version + 1)
            if self._save(endpoint, probe, record.version, now):
                logger.info("circuit half-open", extra={"endpoint": endpoint})
                return None
            self._cache.pop(endpoint, None)
        return float(self._policy.open_seconds)

    def record_success(self, endpoint: str) -> None:
        now = self._clock()
        for _ in range(_ATTEMPTS):
            record = self._load(endpoint, now)
            if record.state is CircuitState.CLOSED:
                return  # failures age out of their window; a healthy endpoint costs no write
            closed = BreakerRecord(version=record.version + 1)
            if self._save(endpoint, closed, record.version, now):
                logger.info("circuit closed", extra={"endpoint": endpoint})
                metrics.add_metric(name="CircuitClosed", unit=MetricUnit.Count, value=1)
                return
            self._cache.pop(endpoint, None)

    def record_failure(self, endpoint: str) -> None:
        now = self._clock()
        for _ in range(_ATTEMPTS):
            self._cache.pop(endpoint, None)  # count against the freshest state
            record = self._load(endpoint, now)
            if record.state is CircuitState.OPEN:
                return  # a call that started before the circuit opened
            if record.state is CircuitState.HALF_OPEN:
                updated = self._opened(record, now)
            elif now - record.window_started_at > self._policy.window_seconds:
                updated = replace(record, failures=1, window_started_at=now, version=record.version + 1)
            else:
                updated = replace(record, failures=record.failures + 1, version=record.version + 1)
            if updated.state is CircuitState.CLOSED and updated.failures >= self._policy.failure_threshold:
                updated = self._opened(record, now)
            if self._save(endpoint, updated, record.version, now):
                if updated.state is CircuitState.OPEN:
                    logger.warning("circuit opened", extra={"endpoint": endpoint})
                    metrics.add_metric(name="CircuitOpened", unit=MetricUnit.Count, value=1)
                return

    def state(self, endpoint: str) -> CircuitState:
        return self._load(endpoint, self._clock()).state

    @staticmethod
    def _opened(record: BreakerRecord, now: float) -> BreakerRecord:
        return BreakerRecord(state=CircuitState.OPEN, opened_at=now, version=record.version + 1)

    def _load(self, endpoint: str, now: float) -> BreakerRecord:
        cached = self._cache.get(endpoint)
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        record = self._store.load(endpoint)
        self._cache[endpoint] = (now, record)
        return record

    def _save(self, endpoint: str, record: BreakerRecord, expected_version: int, now: float) -> bool:
        saved = self._store.save(endpoint, record, expected_version=expected_version)
        if saved:
            self._cache[endpoint] = (now, record)
        return saved
