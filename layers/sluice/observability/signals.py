"""Operational metrics (EMF): what operators watch, with dimensions whose cardinality is bounded.

Each signal is its own EMF document (Powertools EphemeralMetrics), so one worker invocation can
report several routes and variants, each under its own dimensions; the function-wide `metrics`
object has one dimension set per invocation and cannot.

Dimensions and their bounds:
- `service` (the function), `route`, `variant`, `model_version`: set by the deployment, a handful.
- `error_code`: the stable codes of `sluice.errors`, a closed set; an error the API cannot place
  is `INTERNAL_ERROR`. No route on errors: the route of a refused request is the caller's text.
- `entity_type`: Presidio's entity names the detector emits, a closed set.
- `check` and `outcome` (output guardrails): four checks, three outcomes (`pass`, `flag`, `block`).
- `tenant`: only in a separate dimension set (traffic per tenant), and only for the tenants the
  operators list in METRIC_TENANTS; every other tenant is counted as `other`. CloudWatch bills
  per metric, and API keys are created by the hundred: an unbounded tenant dimension would make
  the bill grow with the customer list. Per-tenant totals of every tenant are in the cost meter
  and the audit trail, which are keyed by tenant anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

OTHER_TENANTS = "other"
_UNITS = {
    "LatencyMs": MetricUnit.Milliseconds,
    "ModelTimeMs": MetricUnit.Milliseconds,
    "PlatformOverheadMs": MetricUnit.Milliseconds,
    "QueueAgeMs": MetricUnit.Milliseconds,
}


@dataclass(frozen=True)
class TenantDimension:
    """The tenant as a metric dimension: listed tenants by id, the rest as one `other`."""

    listed: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, listed: str | None) -> TenantDimension:
        return cls(frozenset(tenant.strip() for tenant in (listed or "").split(",") if tenant.strip()))

    def label(self, tenant: str) -> str:
        return tenant if tenant in self.listed else OTHER_TENANTS


@dataclass(frozen=True)
class ServedBy:
    """Where a request or micro-batch was served (the metric dimensions of a model call)."""

    route: str
    variant: str | None
    model_version: str | None

    def dimensions(self) -> dict[str, str]:
        # EMF dimension values must be non-empty strings: an unknown version is "unknown".
        return {
            "route": self.route,
            "variant": self.variant or "unknown",
            "model_version": self.model_version or "unknown",
        }


def top_score(output: Any) -> float | None:
    """The confidence of a model output: the top intent's score (the intent model's shape,
    `{"intents": [{"label", "score"}, ...]}`), or a top-level `score`; None if it has neither."""
    if not isinstance(output, Mapping):
        return None
    intents = output.get("intents")
    if isinstance(intents, list) and intents and isinstance(intents[0], Mapping):
        score = intents[0].get("score")
    else:
        score = output.get("score")
    return float(score) if isinstance(score, int | float) and not isinstance(score, bool) else None


class Signals:
    """The platform's operational metrics, one EMF document per signal."""

    def __init__(
        self,
        *,
        service: str,
        namespace: str = "Sluice",
        tenants: TenantDimension = TenantDimension(),
        low_confidence_below: float = 0.5,
    ) -> None:
        self._service = service
        self._namespace = namespace
        self._tenants = tenants
        self._low_confidence_below = low_confidence_below

    @property
    def low_confidence_below(self) -> float:
        return self._low_confidence_below

    def request(
        self,
        served: ServedBy,
        *,
        tenant: str,
        mode: str,
        latency_ms: float,
        model_ms: float,
        outputs: Iterable[Any] = (),
    ) -> None:
        """An accepted request: counted, its latency split into model time and the platform's own."""
        dimensions = {**served.dimensions(), "mode": mode}
        self._emit(
            dimensions,
            {
                "Requests": 1,
                "LatencyMs": latency_ms,
                "ModelTimeMs": model_ms,
                "PlatformOverheadMs": max(0.0, latency_ms - model_ms),
            },
            # Alarms need fixed dimensions (no SEARCH): per route, and per function in all.
            rollups=(("route",), (), ("route", "tenant")),
            extra={"tenant": self._tenants.label(tenant)},
        )
        self.outputs(served, outputs)

    def error(self, code: str, status: int) -> None:
        """A request answered with an error, by its stable code and by class (the caller's fault
        or the platform's: only the platform's pages anyone)."""
        self._emit(
            {"error_code": code},
            {"RequestErrors": 1},
            rollups=(("error_class",), ()),
            extra={"error_class": "server" if status >= 500 else "client"},
        )

    def redactions(self, route: str, counts: Mapping[str, int]) -> None:
        """Personal data removed from a request's input, by entity type (counts only)."""
        for entity_type, count in sorted(counts.items()):
            if count > 0:
                self._emit({"route": route, "entity_type": entity_type}, {"Redactions": count})

    def micro_batch(
        self, served: ServedBy, *, size: int, model_ms: float, outputs: Iterable[Any] = ()
    ) -> None:
        """One model call of the worker: how many jobs it carried and how long the model took."""
        self._emit(
            served.dimensions(), {"MicroBatchSize": size, "ModelTimeMs": model_ms}, rollups=(("route",),)
        )
        self.outputs(served, outputs)

    def guardrails(self, route: str, outcomes: Mapping[str, str]) -> None:
        """One output's checks: one count per check under its outcome (`pass`, `flag`, `block`)."""
        for check, outcome in sorted(outcomes.items()):
            self._emit(
                {"route": route, "check": check, "outcome": outcome},
                {"GuardrailChecks": 1},
                rollups=(("check", "outcome"),),
            )

    def review_not_queued(self, route: str) -> None:
        """An output that should have gone to review and did not (the queue refused it): alarmed."""
        self._emit({"route": route}, {"ReviewsNotQueued": 1}, rollups=((),))

    def queue_age(self, route: str, ages_ms: Iterable[float]) -> None:
        """How long each job waited on its route queue before the worker received it."""
        ages = list(ages_ms)
        if ages:
            self._emit({"route": route}, {"QueueAgeMs": ages})

    def outputs(self, served: ServedBy, outputs: Iterable[Any]) -> None:
        """Outputs served, and those whose confidence is below the threshold (drift's early sign)."""
        scores = [top_score(output) for output in outputs]
        if not scores:
            return
        low = sum(1 for score in scores if score is not None and score < self._low_confidence_below)
        self._emit(served.dimensions(), {"Outputs": len(scores), "LowConfidenceOutputs": low})

    def _emit(
        self,
        dimensions: Mapping[str, str],
        values: Mapping[str, float | list[float]],
        *,
        rollups: tuple[tuple[str, ...], ...] = (),
        extra: Mapping[str, str] | None = None,
    ) -> None:
        document = EphemeralMetrics(namespace=self._namespace, service=self._service)
        for dimension, label in dimensions.items():
            document.add_dimension(name=dimension, value=label)
        every = {**dimensions, **(extra or {})}
        for rollup in rollups:  # further dimension sets over the same values
            document.add_dimensions(**{"service": self._service, **{name: every[name] for name in rollup}})
        for metric, value in values.items():
            for sample in value if isinstance(value, list) else [value]:
                document.add_metric(name=metric, unit=_UNITS.get(metric, MetricUnit.Count), value=sample)
        document.flush_metrics()
