"""On the local platform, a cost alarm's state change reaches the `budget` function through the
EventBridge rule; its actions are applied and recorded, and reverted when the alarm clears."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sluice_local.outputs import local_session, subscribe_queue, take_events
from tests.e2e.conftest import RunningPlatform

pytestmark = pytest.mark.e2e


def _wait_for(sqs: Any, queue_url: str, name: str, count: int, timeout_s: int = 60) -> list[dict[str, Any]]:
    """Long-poll the platform bus's events until `count` of `name` arrived; no sleeping."""
    seen: list[dict[str, Any]] = []
    remaining = timeout_s
    while remaining > 0 and len(seen) < count:
        remaining -= 5
        seen += take_events(sqs, queue_url, wait_seconds=5)
    assert len(seen) == count, f"{len(seen)} {name} events within {timeout_s}s, expected {count}"
    return seen


def test_a_spend_alarm_lowers_the_quota_until_it_clears(running_platform: RunningPlatform) -> None:
    outputs = running_platform.outputs
    session = local_session(outputs)
    aws = outputs["AwsEndpointUrl"]
    cloudwatch = session.client("cloudwatch", endpoint_url=aws)
    sqs = session.client("sqs", endpoint_url=aws)
    dynamodb = session.client("dynamodb", endpoint_url=outputs["DynamoDbEndpointUrl"])
    (alarm,) = [
        name for name, trigger in outputs["CostAlarmNames"].items() if trigger == "tenant-spend:default"
    ]
    watch = {"source": ["sluice"], "detail-type": ["CostActionApplied", "CostActionReverted"]}
    actions_queue = subscribe_queue(
        sqs,
        session.client("events", endpoint_url=aws),
        bus=outputs["EventBusName"],
        name="e2e-cost",
        pattern=watch,
    )

    def audit_trail() -> list[dict[str, Any]]:
        items = dynamodb.scan(
            TableName=outputs["CostTableName"],
            FilterExpression="begins_with(id, :a)",
            ExpressionAttributeValues={":a": {"S": "audit#"}},
            ConsistentRead=True,
        )["Items"]
        return [json.loads(item["entry"]["S"]) for item in sorted(items, key=lambda i: i["id"]["S"])]

    before = len(audit_trail())

    # Given the default tenant's spend alarm, when it goes to ALARM (moto sends no event itself)
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="e2e: spend over its share")

    # Then the bridge's "CloudWatch Alarm State Change" reaches `budget` through the rule: the
    # quota is lowered, announced on the platform bus and recorded in the audit trail
    (applied,) = _wait_for(sqs, actions_queue, "CostActionApplied", 1)
    assert (applied["kind"], applied["tenant"], applied["applied"]) == (
        "lower_quota",
        "default",
        {"quota_cap": 1000},
    )
    assert [e["event"] for e in audit_trail()[before:]] == ["CostActionApplied"]

    # When the alarm clears
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="e2e: back under")

    # Then the action is reverted the same way
    (reverted,) = _wait_for(sqs, actions_queue, "CostActionReverted", 1)
    assert (reverted["kind"], reverted["applied"]) == ("lower_quota", {"quota_cap": None})
    assert [e["event"] for e in audit_trail()[before:]] == ["CostActionApplied", "CostActionReverted"]
