"""Per-tenant budgets and quotas on the request and upload paths: reserve before, settle after.

A request first reserves its estimated cost and one request against its tenant's month and day
with one conditional atomic update: the update happens only if every limit still holds after it,
so any number of concurrent functions together never admit more than the limits allow, and no
function keeps a counter of its own. After the invocation the reservation is settled to what the
model time cost; work that never reached the model is released (money and request given back),
so nothing is half-charged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from sluice.config import CostConfig, TenantBudget
from sluice.cost.models import Admission, Limit, Limits, Period, Reservation, Usage, usd_to_micros
from sluice.cost.ports import UsageLedger
from sluice.cost.pricing import PriceList
from sluice.errors import BudgetExceeded, QuotaExceeded


def limits_of(budget: TenantBudget) -> Limits:
    return Limits(
        budget_micros=None if budget.monthly_budget_usd is None else usd_to_micros(budget.monthly_budget_usd),
        monthly_requests=budget.monthly_requests,
        daily_requests=budget.daily_requests,
        soft_ratio=budget.soft_limit_ratio,
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)


class BudgetGuard:
    def __init__(
        self,
        cost: CostConfig,
        ledger: UsageLedger,
        prices: PriceList,
        *,
        tenant_ids: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._cost = cost
        # Requests carry the tenant's id (its API key id); budgets are configured by name.
        self._names = {tenant_id: name for name, tenant_id in (tenant_ids or {}).items()}
        self._ledger = ledger
        self._prices = prices
        self._clock = clock

    def reserve(self, tenant: str, route: str, *, requests: int = 1) -> Admission:
        """Hold the route's estimated cost and `requests` for the tenant, or raise the limit it hit."""
        now = self._clock()
        limits = limits_of(self._cost.budget_for(self._names.get(tenant, tenant)))
        reservation = Reservation(
            tenant=tenant,
            route=route,
            period=Period.at(now),
            cost_micros=self._prices.reservation_micros(route) * requests,
            requests=requests,
        )
        usage = self._ledger.reserve(reservation, limits)
        if usage is None:
            raise self._refusal(reservation, limits, now)
        return Admission(reservation=reservation, usage=usage, warnings=_soft_limits_crossed(usage, limits))

    def settle(self, admission: Admission, *, variant: str | None, model_ms: float) -> int:
        """Charge the model time the work took instead of the estimate; returns the charge."""
        reservation = admission.reservation
        charged = self._prices.model_time_micros(reservation.route, variant, model_ms) * reservation.requests
        self._ledger.settle(reservation, charged)
        return charged

    def settle_job(
        self, tenant: str, route: str, accepted_at: datetime, *, variant: str | None, model_ms: float
    ) -> int:
        """Settle a queued job's reservation in the worker, from what the job record keeps: its
        tenant, route and acceptance time give the reservation the API made (one request at the
        route's reserve estimate, in the period it was accepted)."""
        admission = Admission(reservation=self._job_reservation(tenant, route, accepted_at), usage=Usage())
        return self.settle(admission, variant=variant, model_ms=model_ms)

    def release_job(self, tenant: str, route: str, accepted_at: datetime) -> None:
        """Give back a queued job's reservation when the job failed: nothing was served."""
        self._ledger.release(self._job_reservation(tenant, route, accepted_at))

    def _job_reservation(self, tenant: str, route: str, accepted_at: datetime) -> Reservation:
        # What `reserve` held for the job: one request at the route's estimate, in its period.
        return Reservation(
            tenant=tenant,
            route=route,
            period=Period.at(accepted_at),
            cost_micros=self._prices.reservation_micros(route),
        )

    def release(self, admission: Admission) -> None:
        self._ledger.release(admission.reservation)

    def _refusal(
        self, reservation: Reservation, limits: Limits, now: datetime
    ) -> BudgetExceeded | QuotaExceeded:
        # The update's condition failed; read the counters once to say which limit it was.
        usage = self._ledger.usage(reservation.tenant, reservation.period)
        period = reservation.period
        if (
            limits.daily_requests is not None
            and usage.day_requests + reservation.requests > limits.daily_requests
        ):
            return QuotaExceeded(
                "the tenant's daily request quota is used up", resets_at=period.day_resets_at, now=now
            )
        monthly = _monthly_quota(limits, usage)
        if monthly is not None and usage.month_requests + reservation.requests > monthly:
            return QuotaExceeded(
                "the tenant's monthly request quota is used up", resets_at=period.month_resets_at, now=now
            )
        # Otherwise money (or a limit another request took meanwhile: money is the one that moves most).
        return BudgetExceeded(
            "the tenant's monthly budget is used up", resets_at=period.month_resets_at, now=now
        )


def _monthly_quota(limits: Limits, usage: Usage) -> int | None:
    quotas = [q for q in (limits.monthly_requests, usage.quota_cap) if q is not None]
    return min(quotas) if quotas else None


def _soft_limits_crossed(usage: Usage, limits: Limits) -> tuple[Limit, ...]:
    crossed: list[Limit] = []
    if limits.budget_micros is not None and usage.spent_micros >= limits.soft_ratio * limits.budget_micros:
        crossed.append(Limit.BUDGET)
    monthly = _monthly_quota(limits, usage)
    if monthly is not None and usage.month_requests >= limits.soft_ratio * monthly:
        crossed.append(Limit.MONTHLY_REQUESTS)
    if limits.daily_requests is not None and usage.day_requests >= limits.soft_ratio * limits.daily_requests:
        crossed.append(Limit.DAILY_REQUESTS)
    return tuple(crossed)
