"""The dashboard's panels, as data: the CDK dashboard (infra/observability.py) and the local
`make dashboard` image (sluice_local.dashboard) are both drawn from this one list.

A series names an EMF metric of `sluice.observability.signals`, the dimension set it is read
from and the values of the fixed dimensions; every other dimension of the set splits the series
(one line per route, per error code, ...). In CloudWatch that is a SEARCH expression over the
set; locally, the EMF documents the functions wrote are grouped the same way.
AWS-native metrics (SQS, SageMaker, Lambda) are panels of their own in the CDK dashboard only:
the local platform's moto and endpoint do not publish them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NAMESPACE = "Sluice"
API = "sluice-api"
WORKER = "sluice-worker"


@dataclass(frozen=True)
class Series:
    metric: str
    stat: str  # CloudWatch's: Sum, Average, Maximum, p50, p99
    dimensions: tuple[str, ...]  # the EMF dimension set, `service` included
    fixed: tuple[tuple[str, str], ...] = ()
    label: str = ""
    # Read from whichever dimension set carries the metric (Powertools' ColdStart has
    # function_name, plus service when the function names one), split by `dimensions`.
    any_set: bool = False

    @property
    def split_by(self) -> tuple[str, ...]:
        fixed = {name for name, _ in self.fixed}
        return tuple(name for name in self.dimensions if name not in fixed)


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    series: tuple[Series, ...] = field(default_factory=tuple)


def _api(*pairs: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return (("service", API), *pairs)


PANELS: tuple[Panel, ...] = (
    Panel(
        "Traffic: accepted requests per route",
        "requests",
        (Series("Requests", "Sum", ("service", "route"), _api(), "requests"),),
    ),
    Panel(
        "Latency (api, per route): p50 and p99",
        "ms",
        (
            Series("LatencyMs", "p50", ("service", "route"), _api(), "p50"),
            Series("LatencyMs", "p99", ("service", "route"), _api(), "p99"),
        ),
    ),
    Panel(
        "Latency split (api, p99): model time and platform overhead",
        "ms",
        (
            Series(
                "ModelTimeMs",
                "p99",
                ("service", "route", "variant", "model_version", "mode"),
                _api(),
                "model",
            ),
            Series(
                "PlatformOverheadMs",
                "p99",
                ("service", "route", "variant", "model_version", "mode"),
                _api(),
                "overhead",
            ),
        ),
    ),
    Panel(
        "Errors by code (api)",
        "responses",
        (Series("RequestErrors", "Sum", ("service", "error_code"), _api(), "errors"),),
    ),
    Panel(
        "Queue age before the worker (p99)",
        "ms",
        (Series("QueueAgeMs", "p99", ("service", "route"), (("service", WORKER),), "p99"),),
    ),
    Panel(
        "Micro-batch size (worker)",
        "jobs per model call",
        (
            Series("MicroBatchSize", "Average", ("service", "route"), (("service", WORKER),), "mean"),
            Series("MicroBatchSize", "Maximum", ("service", "route"), (("service", WORKER),), "max"),
        ),
    ),
    Panel(
        "Redactions by entity type",
        "entities",
        (Series("Redactions", "Sum", ("service", "route", "entity_type"), (), "redacted"),),
    ),
    Panel(
        "Low-confidence outputs",
        "outputs",
        (
            Series(
                "LowConfidenceOutputs", "Sum", ("service", "route", "variant", "model_version"), (), "low"
            ),
            Series("Outputs", "Sum", ("service", "route", "variant", "model_version"), (), "all"),
        ),
    ),
    Panel(
        "Output guardrails: checks failed, by check (flagged and blocked)",
        "outputs",
        (
            Series(
                "GuardrailChecks", "Sum", ("service", "check", "outcome"), (("outcome", "flag"),), "flagged"
            ),
            Series(
                "GuardrailChecks", "Sum", ("service", "check", "outcome"), (("outcome", "block"),), "blocked"
            ),
        ),
    ),
    Panel(
        "Cold starts",
        "starts",
        (Series("ColdStart", "Sum", ("function_name",), (), "cold starts", any_set=True),),
    ),
)
