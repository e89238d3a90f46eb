"""The `budget` function on moto: an alarm applies the configured actions, OK reverts them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sluice.adapters.dynamodb_cost_actions import DynamoActionLog, DynamoJobAdmission
from sluice.adapters.dynamodb_usage import DynamoUsageLedger
from sluice.cost.handling import handle_budget_event
from sluice.cost.models import Period
from sluice.runtime.budget import Settings, build
from tests.functional.cost_harness import REGION, create_cost_table
from tests.sample_events import load_event

ALARM_NAME = "Sluice-TenantSpendAcme-1A2B3C"
ACTIONS = {
    "tenant-spend:acme": [
        {"kind": "lower_quota", "tenant": "acme", "requests": 100},
        {"kind": "cap_scaling", "route": "intent", "max_instances": 1},
        {"kind": "shift_weight", "route": "intent", "to_variant": "small"},
        {"kind": "scale_to_zero", "route": "chat"},
        {"kind": "stop_jobs", "route": "chat"},
    ],
    "stack-budget": [{"kind": "stop_jobs", "route": "chat"}],
}
ROUTE_TABLE = {
    "routes": {
        "intent": {
            "name": "intent",
            "variant": "primary",
            "variants": [
                {"name": "primary", "weight": 90.0, "model_version": "v1"},
                {"name": "small", "weight": 10.0, "model_version": "v2"},
            ],
        },
        "chat": {"name": "chat", "variant": "llm", "variants": []},
    }
}


@dataclass
class BudgetFixture:
    settings: Settings
    clients: dict[str, Any]
    events_queue: str

    def scaling(self, resource: str) -> tuple[int, int, bool]:
        (target,) = self.clients["application-autoscaling"].describe_scalable_targets(
            ServiceNamespace="sagemaker", ResourceIds=[resource]
        )["ScalableTargets"]
        suspended = target.get("SuspendedState", {}).get("DynamicScalingOutSuspended", False)
        return target["MinCapacity"], target["MaxCapacity"], suspended

    def weights(self) -> dict[str, float]:
        value = self.clients["ssm"].get_parameter(Name="/sluice/routes")["Parameter"]["Value"]
        return {v["name"]: v["weight"] for v in json.loads(value)["routes"]["intent"]["variants"]}

    def platform_events(self) -> list[dict[str, Any]]:
        messages = self.clients["sqs"].receive_message(QueueUrl=self.events_queue, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


@pytest.fixture
def budget_env() -> Iterator[BudgetFixture]:
    with mock_aws():
        clients = {
            name: boto3.client(name, region_name=REGION)
            for name in ("dynamodb", "ssm", "application-autoscaling", "events", "sqs", "sagemaker")
        }
        table = create_cost_table(clients["dynamodb"])
        clients["ssm"].put_parameter(
            Name="/sluice/routes", Value=json.dumps(ROUTE_TABLE), Type="String", Tier="Advanced"
        )
        scaling = clients["application-autoscaling"]
        for resource, low, high in (
            ("endpoint/sluice-intent/variant/primary", 1, 4),
            ("endpoint/sluice-intent/variant/small", 1, 2),
            ("endpoint/sluice-chat/variant/llm", 0, 2),
        ):
            scaling.register_scalable_target(
                ServiceNamespace="sagemaker",
                ResourceId=resource,
                ScalableDimension="sagemaker:variant:DesiredInstanceCount",
                MinCapacity=low,
                MaxCapacity=high,
            )
        clients["events"].create_event_bus(Name="sluice-bus")
        queue = clients["sqs"].create_queue(QueueName="platform-events")["QueueUrl"]
        queue_arn = clients["sqs"].get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        clients["events"].put_rule(
            Name="all", EventBusName="sluice-bus", EventPattern='{"source": ["sluice"]}'
        )
        clients["events"].put_targets(
            Rule="all", EventBusName="sluice-bus", Targets=[{"Id": "q", "Arn": queue_arn}]
        )
        settings = Settings.from_environment(
            {
                "POWERTOOLS_SERVICE_NAME": "sluice-budget",
                "COST_TABLE_NAME": table,
                "EVENT_BUS_NAME": "sluice-bus",
                "ROUTE_TABLE_PARAMETER": "/sluice/routes",
                "COST_ACTIONS": json.dumps(ACTIONS),
                "COST_ALARM_TRIGGERS": json.dumps({ALARM_NAME: "tenant-spend:acme"}),
                "ENDPOINT_NAMES": json.dumps({"intent": "sluice-intent", "chat": "sluice-chat"}),
                "ENDPOINT_VARIANTS": json.dumps({"intent": ["primary", "small"], "chat": ["llm"]}),
            }
        )
        yield BudgetFixture(settings=settings, clients=clients, events_queue=queue)


def _alarm(state: str, previous: str) -> dict[str, Any]:
    event = load_event("budget/alarm_state_change.json")
    event["detail"]["state"]["value"] = state
    event["detail"]["previousState"]["value"] = previous
    return event


def test_an_alarm_applies_every_action_and_ok_reverts_every_one(budget_env: BudgetFixture) -> None:
    # Given the budget function wired to moto, with acme's spend alarm configured to act
    budget = build(budget_env.settings, clients=lambda name: budget_env.clients[name])
    table = budget_env.settings.cost_table
    ledger = DynamoUsageLedger(budget_env.clients["dynamodb"], table)
    admission = DynamoJobAdmission(budget_env.clients["dynamodb"], table)

    # When the alarm goes to ALARM
    result = handle_budget_event(_alarm("ALARM", "OK"), budget)

    # Then each action is applied: quota lowered, intent capped at 1, weight on the cheaper
    # variant, chat at zero (minimum 0, no scaling out) and taking no jobs
    assert result == {"state_changes": 1, "changed": 5}
    from datetime import UTC, datetime

    assert ledger.usage("acme", Period.at(datetime.now(UTC))).quota_cap == 100
    assert budget_env.scaling("endpoint/sluice-intent/variant/primary") == (1, 1, False)
    assert budget_env.scaling("endpoint/sluice-intent/variant/small") == (1, 1, False)
    assert budget_env.weights() == {"primary": 0.0, "small": 100.0}
    assert budget_env.scaling("endpoint/sluice-chat/variant/llm") == (0, 1, True)
    assert admission.paused("chat")
    # And each is an event on the platform bus and an audit entry
    applied = budget_env.platform_events()
    assert sorted(e["detail-type"] for e in applied) == ["CostActionApplied"] * 5
    assert {e["detail"]["detail"]["kind"] for e in applied} == {
        "lower_quota",
        "cap_scaling",
        "shift_weight",
        "scale_to_zero",
        "stop_jobs",
    }
    log = DynamoActionLog(budget_env.clients["dynamodb"], table)
    assert [entry["event"] for entry in log.audit_trail()] == ["CostActionApplied"] * 5

    # When the same ALARM is delivered again (EventBridge delivers at least once)
    again = handle_budget_event(_alarm("ALARM", "OK"), budget)
    # Then nothing new is applied or announced, and what was replaced is still remembered
    assert again["changed"] == 0
    assert budget_env.platform_events() == []

    # When the alarm returns to OK
    cleared = handle_budget_event(_alarm("OK", "ALARM"), budget)

    # Then everything is as before the alarm, announced and audited
    assert cleared["changed"] == 5
    assert ledger.usage("acme", Period.at(datetime.now(UTC))).quota_cap is None
    assert budget_env.scaling("endpoint/sluice-intent/variant/primary") == (1, 4, False)
    assert budget_env.scaling("endpoint/sluice-intent/variant/small") == (1, 2, False)
    assert budget_env.weights() == {"primary": 90.0, "small": 10.0}
    assert budget_env.scaling("endpoint/sluice-chat/variant/llm") == (0, 2, False)
    assert not admission.paused("chat")
    reverted = budget_env.platform_events()
    assert sorted(e["detail-type"] for e in reverted) == ["CostActionReverted"] * 5
    assert log.triggers_in_force() == []
    assert len(log.audit_trail()) == 10


def test_an_alarm_nobody_configured_changes_nothing_and_says_so(
    budget_env: BudgetFixture, captured_logs: Any
) -> None:
    budget = build(budget_env.settings, clients=lambda name: budget_env.clients[name])
    event = _alarm("ALARM", "OK")
    event["detail"]["alarmName"] = "SomeoneElsesAlarm"
    assert handle_budget_event(event, budget) == {"state_changes": 0, "changed": 0}
    assert "matched no trigger" in captured_logs.getvalue()
    assert budget_env.weights() == {"primary": 90.0, "small": 10.0}


def test_a_budget_notification_stops_the_configured_jobs(budget_env: BudgetFixture) -> None:
    # Given the stack budget's SNS notification
    budget = build(budget_env.settings, clients=lambda name: budget_env.clients[name])
    # When it reaches the function
    result = handle_budget_event(load_event("budget/budget_notification.json"), budget)
    # Then the stack-budget actions apply (Budgets sends no all-clear: they end with the month)
    assert result["changed"] == 1
    assert DynamoJobAdmission(budget_env.clients["dynamodb"], budget_env.settings.cost_table).paused("chat")
