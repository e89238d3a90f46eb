"""What reaches the `budget` function, read into (trigger, state) pairs.

- EventBridge "CloudWatch Alarm State Change" (default bus) for the cost alarms: the alarm's
  name maps to its trigger (the stack renders the map; alarm names are CloudFormation's).
- SNS records from the AWS Budgets topic: Budgets notifies only by email and SNS, never
  EventBridge, and has no all-clear, so a notification is `stack-budget` in ALARM.
- EventBridge "Scheduled Event": sample instance counts, end last month's budget actions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sluice.cost.actions import STACK_BUDGET

ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
SCHEDULED = "Scheduled Event"


@dataclass(frozen=True)
class StateChange:
    trigger: str
    state: str  # ALARM, OK, INSUFFICIENT_DATA
    correlation_id: str | None


def state_changes(event: Mapping[str, Any], alarm_triggers: Mapping[str, str]) -> list[StateChange]:
    if event.get("detail-type") == ALARM_STATE_CHANGE:
        detail = event.get("detail") or {}
        trigger = alarm_triggers.get(str(detail.get("alarmName", "")))
        state = str((detail.get("state") or {}).get("value", ""))
        return [StateChange(trigger, state, event.get("id"))] if trigger else []
    records = event.get("Records") or []
    return [
        StateChange(STACK_BUDGET, "ALARM", (record.get("Sns") or {}).get("MessageId"))
        for record in records
        if record.get("EventSource") == "aws:sns"
    ]


def is_schedule(event: Mapping[str, Any]) -> bool:
    return event.get("detail-type") == SCHEDULED
