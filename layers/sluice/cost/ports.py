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
