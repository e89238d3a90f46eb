"""The values the cost capability passes around: money in integer micro-dollars, periods in UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

# DynamoDB numbers are decimals, but sums of floats drift: money is counted in micro-dollars.
MICROS_PER_USD = 1_000_000


def usd_to_micros(usd: float) -> int:
    return round(usd * MICROS_PER_USD)


class Limit(StrEnum):
    BUDGET = "budget"
    MONTHLY_REQUESTS = "monthly_requests"
    DAILY_REQUESTS = "daily_requests"


@dataclass(frozen=True)
class Period:
    """The UTC month and day a charge belongs to, and when each of them ends."""

    month: str  # "2026-12"
    day: str  # "2026-12-01"

    @classmethod
    def at(cls, moment: datetime) -> Period:
        moment = moment.astimezone(UTC)
        return cls(month=moment.strftime("%Y-%m"), day=moment.strftime("%Y-%m-%d"))

    @property
    def day_of_month(self) -> str:
        return self.day[-2:]

    @property
    def month_resets_at(self) -> datetime:
        start = datetime.strptime(self.month + "-01", "%Y-%m-%d").replace(tzinfo=UTC)
        return (start + timedelta(days=32)).replace(day=1)

    @property
    def day_resets_at(self) -> datetime:
        return datetime.strptime(self.day, "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)


@dataclass(frozen=True)
class Limits:
    """A tenant's hard limits this month; None leaves one off. `soft_ratio` of each warns."""

    budget_micros: int | None = None
    monthly_requests: int | None = None
    daily_requests: int | None = None
    soft_ratio: float = 0.8


@dataclass(frozen=True)
class Reservation:
    """What one admitted piece of work holds against its tenant until it is settled or released."""

    tenant: str
    route: str
    period: Period
    cost_micros: int
    requests: int = 1


@dataclass(frozen=True)
class Usage:
    """A tenant's counters for one month, the day's included; reserved money counts as spent."""

    spent_micros: int = 0
    month_requests: int = 0
    day_requests: int = 0
    # A budget action's lower monthly request quota, while its alarm is in ALARM.
    quota_cap: int | None = None


@dataclass(frozen=True)
class Admission:
    """An accepted reservation, and the soft limits it crossed (the warning header)."""

    reservation: Reservation
    usage: Usage
    warnings: tuple[Limit, ...] = ()
