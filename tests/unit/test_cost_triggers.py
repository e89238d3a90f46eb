"""What reaches the budget function, read into state changes; instance samples as EMF values."""

from __future__ import annotations

from collections.abc import Mapping

from sluice.cost.instances import InstanceSampler
from sluice.cost.triggers import is_schedule, state_changes
from tests.sample_events import load_event

TRIGGERS = {"Sluice-TenantSpendAcme-1A2B3C": "tenant-spend:acme"}


def test_an_alarm_state_change_names_its_trigger_and_state() -> None:
    (change,) = state_changes(load_event("budget/alarm_state_change.json"), TRIGGERS)
    assert (change.trigger, change.state) == ("tenant-spend:acme", "ALARM")
    assert change.correlation_id == "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92"


def test_an_alarm_the_function_does_not_act_on_is_no_change() -> None:
    assert state_changes(load_event("budget/alarm_state_change.json"), {}) == []


def test_a_budget_notification_is_the_stack_budget_in_alarm() -> None:
    (change,) = state_changes(load_event("budget/budget_notification.json"), TRIGGERS)
    assert (change.trigger, change.state) == ("stack-budget", "ALARM")


def test_the_schedule_is_recognised_and_changes_no_state() -> None:
    event = load_event("budget/scheduled.json")
    assert is_schedule(event)
    assert state_changes(event, TRIGGERS) == []


class _Counts:
    def running(self, endpoint_name: str) -> dict[str, int]:
        if endpoint_name == "creating":
            raise LookupError(endpoint_name)
        return {"primary": 2, "canary": 1}


class _Metrics:
    def __init__(self) -> None:
        self.emitted: list[tuple[dict[str, str], dict[str, float], tuple[tuple[str, ...], ...]]] = []

    def emit(
        self,
        dimensions: Mapping[str, str],
        values: Mapping[str, float],
        *,
        rollups: tuple[tuple[str, ...], ...],
    ) -> None:
        self.emitted.append((dict(dimensions), dict(values), rollups))


def test_instance_samples_sum_a_routes_variants_and_an_endpoint_being_created_runs_none() -> None:
    metrics = _Metrics()
    sampled = InstanceSampler({"intent": "live", "chat": "creating"}, _Counts(), metrics).sample()
    assert sampled == {"intent": 3, "chat": 0}
    assert metrics.emitted[0] == ({"route": "intent"}, {"InstanceCount": 3}, (("route",),))
