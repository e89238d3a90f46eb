"""Metering and settling a queued job exactly once, whichever finisher sees it first.

An asynchronous job is finished by `async_result` from SageMaker's notification, or by the
sweeper when that notification was lost, and a notification can arrive twice: several
finishers may hold the same final job. Each job is accounted for once: the first finisher
records `account#job#<id>` in the cost table (a conditional put) and only that one meters the
job and settles (or, for a failed job, releases) the reservation its submission made. The mark
comes first, so a finisher that crashes right after it leaves the job un-metered and its
reservation standing (charged at the estimate), never charged twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sluice.cost.budgets import BudgetGuard
from sluice.cost.metering import InferenceUsage, Meter
from sluice.cost.ports import UsageCounters
from sluice.cost.pricing import PriceList


@dataclass(frozen=True)
class FinishedJob:
    job_id: str
    tenant: str
    route: str
    accepted_at: datetime  # when its reservation was made: the period it belongs to
    usage: InferenceUsage | None  # None: the job failed, nothing was served


class JobAccounting:
    def __init__(
        self,
        *,
        counters: UsageCounters,
        prices: PriceList,
        meter: Meter | None,
        budget: BudgetGuard | None,
    ) -> None:
        self._counters = counters
        self._prices = prices
        self._meter = meter
        self._budget = budget

    def estimated_model_ms(self, route: str) -> float:
        """A job's model time when none was measured (a notification the sweeper stood in for):
        the route's reserve estimate, so the job is charged what its submission reserved."""
        return self._prices.reserve_model_seconds(route) * 1000

    def account(self, jobs: list[FinishedJob]) -> int:
        """Meter and settle the jobs not accounted for yet; returns how many this call took."""
        mine = [job for job in jobs if self._counters.first_time(f"account#job#{job.job_id}")]
        served = [job.usage for job in mine if job.usage is not None]
        if self._meter is not None and served:
            self._meter.record_all(served)
        if self._budget is not None:
            for job in mine:
                if job.usage is None:
                    self._budget.release_job(job.tenant, job.route, job.accepted_at)
                else:
                    self._budget.settle_job(
                        job.tenant,
                        job.route,
                        job.accepted_at,
                        variant=job.usage.variant or None,
                        model_ms=job.usage.model_ms,
                    )
        return len(mine)
