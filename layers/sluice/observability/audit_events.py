"""The `audit` function's logic: platform events (EventBridge → SQS) filed in the audit trail.

Administrative actions are already events on the bus (a redrive, a cost action applied or
reverted, which includes route-weight shifts and quota cuts, a model approved or rejected by the
gate), as are job and batch outcomes; filing them from the bus means no capability writes the
trail itself, and the bus's archive can replay what the function missed. Events are read by name
and field, not through the capabilities' models (they import this package, not the reverse), and
only the fields listed here are kept: ids, names, codes and counts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from sluice.observability import logger
from sluice.observability.audit import PLATFORM_TENANT, AuditEntry, AuditKind, AuditTrail, DetailValue
from sluice.observability.correlation import correlated


@dataclass(frozen=True)
class Filing:
    """How one event name becomes an audit entry."""

    kind: AuditKind
    action: str
    outcome: str | None = None  # fixed; else read from `outcome_field`
    outcome_field: str | None = None
    actor_field: str | None = None
    subject_field: str | None = None
    code_field: str | None = None
    details: tuple[str, ...] = ()


AUDITED_EVENTS: dict[str, Filing] = {
    "QueueRedriven": Filing(
        AuditKind.ADMIN,
        "queue.redriven",
        outcome="moved",
        actor_field="operator",
        subject_field="queue",
        details=("messages", "task"),
    ),
    "CostActionApplied": Filing(
        AuditKind.ADMIN,
        "cost.action_applied",
        outcome="applied",
        subject_field="trigger",
        details=("kind", "action_index"),
    ),
    "CostActionReverted": Filing(
        AuditKind.ADMIN,
        "cost.action_reverted",
        outcome="reverted",
        subject_field="trigger",
        details=("kind", "action_index"),
    ),
    "ModelApproved": Filing(
        AuditKind.ADMIN,
        "model.approved",
        outcome="approved",
        subject_field="candidate_version",
        details=("incumbent_version",),
    ),
    "ModelRejected": Filing(
        AuditKind.ADMIN,
        "model.rejected",
        outcome="rejected",
        subject_field="candidate_version",
        details=("incumbent_version",),
    ),
    # The rollout's outcomes (sluice.lifecycle.rollout): a version in service, or the old one back.
    "ModelDeployed": Filing(
        AuditKind.ADMIN,
        "model.deployed",
        outcome="deployed",
        subject_field="endpoint",
        details=("previous_version", "endpoint_config"),
    ),
    "ModelRolledBack": Filing(
        AuditKind.ADMIN,
        "model.rolled_back",
        outcome="rolled_back",
        subject_field="endpoint",
        details=("restored_version", "reason"),
    ),
    "InferenceCompleted": Filing(
        AuditKind.JOB,
        "job.completed",
        outcome_field="status",
        subject_field="job_id",
        code_field="error_code",
        details=("endpoint",),
    ),
    "BatchCompleted": Filing(
        AuditKind.BATCH,
        "batch.completed",
        outcome_field="status",
        subject_field="batch_id",
        code_field="error_code",
        details=("received", "rejected", "queued", "succeeded", "failed"),
    ),
}


def _token(value: Any) -> DetailValue:
    """A detail kept as a short token or a number; anything else is dropped, never copied."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str) and len(value) <= 128:
        return value
    return None


def entry_for(event: Mapping[str, Any]) -> AuditEntry | None:
    """The audit entry for an EventBridge event of the platform bus; None if not audited."""
    filing = AUDITED_EVENTS.get(str(event.get("detail-type", "")))
    envelope = event.get("detail")
    if filing is None or not isinstance(envelope, Mapping):
        return None
    metadata = envelope.get("metadata") or {}
    detail: Mapping[str, Any] = envelope.get("detail") or {}
    tenant = detail.get("tenant") or PLATFORM_TENANT
    outcome = filing.outcome or str(detail.get(filing.outcome_field or "", "") or "unknown")
    actor = str(detail.get(filing.actor_field, "")) if filing.actor_field else ""
    return AuditEntry(
        tenant=str(tenant),
        kind=filing.kind,
        action=filing.action,
        # Who acted: the operator a redrive names, else the platform function that published.
        actor=actor or str(event.get("source", "sluice")),
        outcome=outcome,
        route=_str(detail.get("route")),
        variant=_str(detail.get("variant")),
        model_version=_str(detail.get("model_version")),
        subject=_str(detail.get(filing.subject_field)) if filing.subject_field else None,
        code=_str(detail.get(filing.code_field)) if filing.code_field else None,
        correlation_id=_str(metadata.get("correlation_id")),
        details={name: _token(detail.get(name)) for name in filing.details if name in detail},
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def handle_audit_batch(event: dict[str, Any], context: Any, trail: AuditTrail) -> PartialItemFailureResponse:
    """File each event; one the trail could not write is retried (then dead-lettered)."""

    def record_handler(record: SQSRecord) -> None:
        bus_event = json.loads(record.body)
        entry = entry_for(bus_event)
        if entry is None:
            logger.warning("event not audited", extra={"detail_type": bus_event.get("detail-type")})
            return
        metadata = (bus_event.get("detail") or {}).get("metadata") or {}
        created = metadata.get("created_at")
        with correlated(entry.correlation_id):
            # The event's own id and time: a redelivered event is the same record, filed once.
            filed = trail.record(
                entry,
                audit_id=str(metadata.get("event_id") or bus_event.get("id") or "") or None,
                at=datetime.fromisoformat(created) if isinstance(created, str) else None,
            )
            if filed is None:
                raise RuntimeError(f"audit record for {entry.action} not written")
            logger.info("audited", extra={"audit_action": entry.action, "tenant": entry.tenant})

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
