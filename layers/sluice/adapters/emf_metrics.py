"""EMF metrics for the meter, each set with its own dimensions (Powertools EphemeralMetrics).

The platform's `metrics` object has one dimension set per invocation; a worker batch meters
several tenants and variants, so each group is flushed as its own EMF document, with extra
dimension sets (the rollups: the tenant alone) that need no service dimension, so one alarm
sees every function's spend.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

_UNITS = {
    "ModelTimeMs": MetricUnit.Milliseconds,
    "BytesIn": MetricUnit.Bytes,
    "BytesOut": MetricUnit.Bytes,
}
SERVICE = "sluice"


class EmfMeterMetrics:
    def __init__(self, namespace: str = "Sluice") -> None:
        self._namespace = namespace

    def emit(
        self,
        dimensions: Mapping[str, str],
        values: Mapping[str, float],
        *,
        rollups: tuple[tuple[str, ...], ...],
    ) -> None:
        metrics = EphemeralMetrics(namespace=self._namespace, service=SERVICE)
        for dimension, label in dimensions.items():
            metrics.add_dimension(name=dimension, value=label)
        for rollup in rollups:  # extra EMF dimension sets over the same values
            metrics.add_dimensions(**{name: dimensions[name] for name in rollup})
        for name, value in values.items():
            metrics.add_metric(name=name, unit=_UNITS.get(name, MetricUnit.Count), value=value)
        metrics.flush_metrics()
