"""Settings and builders for the operational metrics and the audit trail (sluice.observability)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from sluice.runtime.shared import PowertoolsSettings

if TYPE_CHECKING:
    from sluice.observability.audit import AuditTrail
    from sluice.observability.signals import Signals
    from sluice.runtime.shared import ClientFactory


class SignalSettings(PowertoolsSettings):
    """The metrics' bounded dimensions and thresholds."""

    # API key ids (tenants) that get their own value of the `tenant` dimension; the rest: `other`.
    metric_tenants: str | None = Field(None, alias="METRIC_TENANTS")
    # A model output whose top score is below this counts as low-confidence.
    low_confidence_below: float = Field(0.5, alias="LOW_CONFIDENCE_BELOW", ge=0, le=1)


class AuditSettings(PowertoolsSettings):
    """The audit trail's table; unset: nothing is audited (tests that do not look at it)."""

    audit_table: str | None = Field(None, alias="AUDIT_TABLE_NAME", min_length=3)
    audit_retention_days: int = Field(400, alias="AUDIT_RETENTION_DAYS", ge=1)


def signals(settings: SignalSettings) -> Signals:
    from sluice.observability.signals import Signals, TenantDimension

    return Signals(
        service=settings.service_name,
        namespace=settings.metrics_namespace,
        tenants=TenantDimension.parse(settings.metric_tenants),
        low_confidence_below=settings.low_confidence_below,
    )


def audit_trail(settings: AuditSettings, clients: ClientFactory) -> AuditTrail | None:
    if not settings.audit_table:
        return None
    from datetime import timedelta

    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    from sluice.adapters.dynamodb_audit import DynamoAuditStore
    from sluice.observability import logger
    from sluice.observability.audit import AuditEntry, AuditTrail

    def report(entry: AuditEntry, error: Exception) -> None:
        # The request was answered; its record is missing: loud in logs and on an alarm.
        logger.error(
            "audit record not written",
            extra={"audit_action": entry.action, "error_type": type(error).__name__},
        )
        failures = EphemeralMetrics(namespace=settings.metrics_namespace, service=settings.service_name)
        failures.add_metric(name="AuditWriteFailures", unit=MetricUnit.Count, value=1)
        failures.flush_metrics()

    store = DynamoAuditStore(
        clients("dynamodb"), settings.audit_table, retention=timedelta(days=settings.audit_retention_days)
    )
    return AuditTrail(store, on_failure=report)
