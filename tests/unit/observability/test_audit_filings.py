"""Administrative events of the bus become audit entries: a rollout's outcomes included."""

from __future__ import annotations

from sluice.events import Event
from sluice.lifecycle.events import ModelDeployed, ModelRolledBack
from sluice.observability.audit import AuditKind
from sluice.observability.audit_events import entry_for


def _bus_event(detail: ModelDeployed | ModelRolledBack) -> dict[str, object]:
    envelope = Event.wrap(detail, correlation_id="corr-rollout-1").model_dump(mode="json")
    return {"source": "sluice", "detail-type": detail.event_name, "detail": envelope}


def test_a_deployment_and_a_rollback_are_audited_as_admin_actions() -> None:
    deployed = ModelDeployed(
        route="intent",
        endpoint="sluice-intent",
        model_version="v2",
        previous_version="v1",
        endpoint_config="cfg-2",
    )
    rolled_back = ModelRolledBack(
        route="intent", endpoint="sluice-intent", model_version="v3", restored_version="v2", reason="alarm"
    )

    deployed_entry, rolled_back_entry = entry_for(_bus_event(deployed)), entry_for(_bus_event(rolled_back))

    assert deployed_entry is not None
    assert rolled_back_entry is not None
    assert (deployed_entry.kind, deployed_entry.action, deployed_entry.outcome) == (
        AuditKind.ADMIN,
        "model.deployed",
        "deployed",
    )
    assert (deployed_entry.model_version, deployed_entry.details["previous_version"]) == ("v2", "v1")
    assert (rolled_back_entry.action, rolled_back_entry.outcome) == ("model.rolled_back", "rolled_back")
    assert rolled_back_entry.details == {"restored_version": "v2", "reason": "alarm"}
    assert rolled_back_entry.correlation_id == "corr-rollout-1"
