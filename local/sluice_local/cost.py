"""Cost governance on the local platform: the same alarms, rule and `budget` function as the stack.

moto keeps CloudWatch alarms and their states but, unlike CloudWatch, sends nothing to
EventBridge when a state changes. `AlarmStateBridge` watches the cost alarms and puts the event
CloudWatch would send ("CloudWatch Alarm State Change", source `aws.cloudwatch`, the alarm's ARN
in `resources`) on the default bus, where the rule made from the same config as the stack's
matches it. moto cannot invoke a Lambda target, so the rule's target here is a queue that
`EventTargetPoller` drains into the real `budget` handler, one event per invocation, as a
Lambda target would deliver it; a failed invocation leaves the event for a retry.

Change an alarm's state by hand to try it (moto does not evaluate metrics):

    aws --endpoint-url http://127.0.0.1:5000 cloudwatch set-alarm-state \\
        --alarm-name sluice-local-cost-tenant-spend-default --state-value ALARM --state-reason test
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sluice.config import DeploymentConfig
from sluice.cost.alarms import NAMESPACE, alarm_name, cost_alarm_specs
from sluice.cost.pricing import PriceList
from sluice.cost.triggers import ALARM_STATE_CHANGE
from sluice.runtime import budget
from sluice_local.provision import PREFIX, LocalResources, _table, local_tenant_id

RULE = f"{PREFIX}-cost-alarm-state-changes"
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CostResources:
    table: str
    alarm_names: dict[str, str]  # alarm name -> trigger
    rule_queue_url: str
    settings: budget.Settings  # the `budget` function's, as the stack renders them
    # What the `api` function adds to its environment: the cost table and the cost policy.
    api_environment: dict[str, str]


def provision_cost(
    config: DeploymentConfig,
    resources: LocalResources,
    *,
    dynamodb: Any,
    cloudwatch: Any,
    events: Any,
    sqs: Any,
    autoscaling: Any,
    log_level: str = "INFO",
) -> CostResources:
    table = _table(dynamodb, f"{PREFIX}-cost", ttl_attribute="expires_at")
    # Requests carry the tenant's API key id, locally `local-<tenant>` (as the front assigns it).
    tenant_ids = {tenant: local_tenant_id(tenant) for tenant in config.api.tenants}
    alarms: dict[str, str] = {}
    arns: list[str] = []
    for spec in cost_alarm_specs(config, tenant_ids):
        name = alarm_name(PREFIX, spec.trigger)
        metric = {
            "Namespace": NAMESPACE,
            "MetricName": spec.metric_name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in spec.dimensions.items()],
        }
        shape: dict[str, Any] = (
            {**metric, "Statistic": spec.statistic, "Period": spec.period_seconds}
            if spec.expression is None
            else {
                "Metrics": [
                    {
                        "Id": "samples",
                        "MetricStat": {
                            "Metric": metric,
                            "Period": spec.period_seconds,
                            "Stat": spec.statistic,
                        },
                        "ReturnData": False,
                    },
                    {"Id": "expression", "Expression": spec.expression, "ReturnData": True},
                ]
            }
        )
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            AlarmDescription=spec.description,
            Threshold=spec.threshold,
            ComparisonOperator="GreaterThanThreshold",
            EvaluationPeriods=1,
            TreatMissingData="notBreaching",
            **shape,
        )
        alarms[name] = spec.trigger
        arns.append(cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"])
    queue_url = sqs.create_queue(QueueName=f"{PREFIX}-budget-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    if arns:
        events.put_rule(
            Name=RULE,
            EventPattern=json.dumps(
                {"source": ["aws.cloudwatch"], "detail-type": [ALARM_STATE_CHANGE], "resources": arns}
            ),
        )
        events.put_targets(Rule=RULE, Targets=[{"Id": "budget", "Arn": queue_arn}])
    endpoints = {name: route.endpoint_name for name, route in resources.routes.items()}
    variants = {
        route.name: tuple(v.name for v in route.endpoint.production_variants) for route in config.routes
    }
    _register_scaling(config, endpoints, autoscaling)
    settings = budget.Settings(
        service_name="sluice-budget",
        log_level=log_level,
        cost_table=table,
        event_bus_name=resources.event_bus,
        route_table_parameter=resources.route_table_parameter,
        actions=config.cost.alarms.actions,
        alarm_triggers=alarms,
        endpoints=endpoints,
        variants=variants,
        tenant_ids=tenant_ids,
    )
    api_environment = {
        "COST_TABLE_NAME": table,
        "COST_POLICY": PriceList.from_config(config).policy(tenant_ids).model_dump_json(),
    }
    return CostResources(
        table=table,
        alarm_names=alarms,
        rule_queue_url=queue_url,
        settings=settings,
        api_environment=api_environment,
    )


def _register_scaling(config: DeploymentConfig, endpoints: Mapping[str, str], autoscaling: Any) -> None:
    """The ranges the stack's EndpointScaling registers, so the budget's scaling actions have them."""
    for route in config.routes:
        hosting = route.endpoint
        for variant in hosting.production_variants:
            initial = variant.initial_instance_count or hosting.initial_instance_count
            low, high = (
                (hosting.async_inference.min_capacity, hosting.async_inference.max_capacity)
                if hosting.mode == "async"
                else (initial, max(initial, hosting.max_instance_count))
            )
            resource = f"endpoint/{endpoints[route.name]}/variant/{variant.name}"
            known = autoscaling.describe_scalable_targets(
                ServiceNamespace="sagemaker", ResourceIds=[resource]
            )
            if known["ScalableTargets"]:
                continue  # restored state: an action in force may have changed it
            autoscaling.register_scalable_target(
                ServiceNamespace="sagemaker",
                ResourceId=resource,
                ScalableDimension="sagemaker:variant:DesiredInstanceCount",
                MinCapacity=low,
                MaxCapacity=high,
            )


def alarm_state_change_event(
    alarm: Mapping[str, Any], previous: Mapping[str, Any], *, region: str
) -> dict[str, Any]:
    """The event CloudWatch sends on a state change, from DescribeAlarms' view of the alarm."""
    arn = str(alarm["AlarmArn"])
    account = arn.split(":")[4]

    def state(view: Mapping[str, Any]) -> dict[str, Any]:
        updated = view.get("StateUpdatedTimestamp") or datetime.now(UTC)
        stamp = updated.isoformat() if isinstance(updated, datetime) else str(updated)
        return {"value": view.get("StateValue"), "reason": view.get("StateReason", ""), "timestamp": stamp}

    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": ALARM_STATE_CHANGE,
        "source": "aws.cloudwatch",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [arn],
        "detail": {
            "alarmName": alarm["AlarmName"],
            "configuration": {"description": alarm.get("AlarmDescription", "")},
            "previousState": state(previous),
            "state": state(alarm),
        },
    }


class AlarmStateBridge(threading.Thread):
    """Puts a "CloudWatch Alarm State Change" on the default bus for each state change it sees."""

    def __init__(
        self,
        *,
        cloudwatch: Any,
        events: Any,
        alarm_names: list[str],
        region: str,
        stop: threading.Event,
        interval_seconds: float = 1.0,
    ) -> None:
        super().__init__(daemon=True, name="alarm-state-bridge")
        self._cloudwatch = cloudwatch
        self._events = events
        self._names = alarm_names
        self._region = region
        self._stop_event = stop
        self._interval = interval_seconds
        self._last: dict[str, dict[str, Any]] = {}
        self.sent = 0

    def run(self) -> None:
        while not self._stop_event.wait(self._interval):
            try:
                self.poll_once()
            except Exception:  # outlive a flaky moment of the local moto server
                _log.exception("alarm state bridge: DescribeAlarms or PutEvents failed; next poll retries")

    def poll_once(self) -> int:
        sent = 0
        if not self._names:
            return 0
        for alarm in self._cloudwatch.describe_alarms(AlarmNames=self._names)["MetricAlarms"]:
            name = alarm["AlarmName"]
            previous = self._last.get(name)
            self._last[name] = alarm
            if previous is None:
                # The first look is the state the platform started with, not a change; the
                # platform takes it before it reports ready.
                continue
            if previous["StateValue"] == alarm["StateValue"]:
                continue
            event = alarm_state_change_event(alarm, previous, region=self._region)
            self._events.put_events(
                Entries=[
                    {
                        "Source": event["source"],
                        "DetailType": event["detail-type"],
                        "Detail": json.dumps(event["detail"], default=str),
                        "Resources": event["resources"],
                    }
                ]
            )
            sent += 1
        self.sent += sent
        return sent


class EventTargetPoller(threading.Thread):
    """A rule's Lambda target, locally: each event in the rule's queue is one invocation."""

    def __init__(self, *, sqs: Any, queue_url: str, function: Any, stop: threading.Event) -> None:
        super().__init__(daemon=True, name="budget-events")
        self._sqs = sqs
        self._queue_url = queue_url
        self._function = function
        self._stop_event = stop

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.poll_once()
            except Exception:
                self._stop_event.wait(0.5)

    def poll_once(self, wait_seconds: int = 1) -> int:
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
        ).get("Messages", [])
        for message in messages:
            try:
                self._function.invoke(json.loads(message["Body"]))
            except Exception:
                # Back on the queue after its visibility timeout: EventBridge's retry.
                _log.exception("budget function failed on an event; it will be retried")
                continue
            self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)
