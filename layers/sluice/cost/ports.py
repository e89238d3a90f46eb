"""What the cost capability needs from the outside world; adapters live in `sluice.adapters`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sluice.cost.models import Limits, Period, Reservation, Usage


class UsageLedger(Protocol):
    """Per-tenant counters per month and day, changed only by atomic conditional updates."""

    def reserve(self, reservation: Reservation, limits: Limits) -> Usage | None:
        """Add the reservation if every limit still holds after it; the counters after, or None."""
        ...

    def usage(self, tenant: str, period: Period) -> Usage: ...

    def settle(self, reservation: Reservation, cost_micros: int) -> None:
        """Replace the reserved money by what the work cost; the request stays counted."""
        ...

    def release(self, reservation: Reservation) -> None:
        """Give back the money and the requests of work that was not done."""
        ...

    def set_quota_cap(self, tenant: str, period: Period, requests: int | None) -> None: ...


class UsageCounters(Protocol):
    """Metering counters: atomic additions, keyed by whatever the meter groups by."""

    def add(self, key: str, amounts: Mapping[str, int], *, labels: Mapping[str, str]) -> None: ...

    def scan_prefix(self, prefix: str) -> list[dict[str, Any]]: ...

    def first_time(self, key: str) -> bool:
        """Record `key` unless it is recorded; True only for the one call that recorded it."""
        ...


class QuotaControl(Protocol):
    def quota_cap(self, tenant: str) -> int | None: ...

    def set_quota_cap(self, tenant: str, requests: int | None) -> None: ...


class ScalingControl(Protocol):
    """Application Auto Scaling's range for one variant of a route's endpoint."""

    def capacity(self, route: str, variant: str) -> tuple[int, int, bool]:
        """Minimum, maximum, and whether scaling out is suspended."""
        ...

    def set_capacity(
        self, route: str, variant: str, *, minimum: int, maximum: int, scale_out_suspended: bool
    ) -> None: ...


class RouteWeights(Protocol):
    """The live route table's variant weights of one route."""

    def weights(self, route: str) -> dict[str, float]: ...

    def set_weights(self, route: str, weights: Mapping[str, float]) -> None: ...


class JobAdmission(Protocol):
    """Whether a route takes new jobs (the API and ingest read it before queuing)."""

    def paused(self, route: str) -> bool: ...

    def set_paused(self, route: str, paused: bool) -> None: ...


class ActionLog(Protocol):
    """Which actions are in force (with what they replaced), and the audit trail of every change."""

    def claim(self, trigger: str, index: int, record: Mapping[str, Any]) -> bool:
        """Record the action as in force unless it already is; True if this call recorded it."""
        ...

    def in_force(self, trigger: str) -> list[dict[str, Any]]: ...

    def triggers_in_force(self) -> list[str]: ...

    def lift(self, trigger: str, index: int) -> None: ...

    def audit(self, entry: Mapping[str, Any]) -> None: ...


class EventSink(Protocol):
    def publish(self, event: Any) -> None: ...
