"""The local platform's cost path on a moto server: an alarm state change goes through the
bridge, the default bus's rule and its queue to the real `budget` handler, and back on OK."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from sluice.config import DeploymentConfig
from sluice_local.cost import AlarmStateBridge, EventTargetPoller, provision_cost
from sluice_local.provision import provision
from sluice_local.routing import provision_routing
from sluice_local.runtime import FunctionInstances
from tests.functional.cost_harness import REGION

CONFIG = DeploymentConfig.model_validate(
    {
        "routes": [
            {"name": "intent", "endpoint": {"variants": [{"name": "primary", "model_version": "v1"}]}}
        ],
        "api": {"tenants": ["acme"]},
        "cost": {
            "budgets": {"acme": {"monthly_budget_usd": 100}},
            "alarms": {
                "actions": {"tenant-spend:acme": [{"kind": "lower_quota", "tenant": "acme", "requests": 5}]}
            },
        },
    }
)


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)  # the handler finds moto as a Lambda finds AWS
    try:
        yield url
    finally:
        server.stop()


def test_an_alarm_reaches_the_budget_handler_through_the_rule_and_ok_reverts(moto_server: str) -> None:
    # Given the cost resources provisioned as `make run` does, and the real handler loaded
    session = boto3.session.Session(region_name=REGION)
    clients = {
        name: session.client(name) for name in ("dynamodb", "sqs", "events", "s3", "sns", "ssm", "cloudwatch")
    }
    resources = provision(
        CONFIG, dynamodb=clients["dynamodb"], sqs=clients["sqs"], events=clients["events"], region=REGION
    )
    resources = provision_routing(
        CONFIG,
        resources,
        dynamodb=clients["dynamodb"],
        s3=clients["s3"],
        sns=clients["sns"],
        sqs=clients["sqs"],
        ssm=clients["ssm"],
    )
    cost = provision_cost(
        CONFIG,
        resources,
        dynamodb=clients["dynamodb"],
        cloudwatch=clients["cloudwatch"],
        events=clients["events"],
        sqs=clients["sqs"],
        autoscaling=session.client("application-autoscaling"),
    )
    budget = FunctionInstances(
        "budget", environment=cost.settings.environment(), concurrency=1, timeout_seconds=30
    )
    stop = threading.Event()
    (alarm,) = cost.alarm_names
    bridge = AlarmStateBridge(
        cloudwatch=clients["cloudwatch"],
        events=clients["events"],
        alarm_names=[alarm],
        region=REGION,
        stop=stop,
    )
    target = EventTargetPoller(sqs=clients["sqs"], queue_url=cost.rule_queue_url, function=budget, stop=stop)
    assert bridge.poll_once() == 0  # the state the platform starts with is not a change

    def quota_cap() -> Any:
        item = clients["dynamodb"].scan(
            TableName=cost.table,
            FilterExpression="begins_with(id, :u)",
            ExpressionAttributeValues={":u": {"S": "usage#local-acme#"}},
        )["Items"]
        return item[0].get("quota_cap", {}).get("N") if item else None

    # When the alarm goes to ALARM
    clients["cloudwatch"].set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="test")

    # Then the bridge sends CloudWatch's event, the rule queues it and the handler lowers the quota
    assert bridge.poll_once() == 1
    assert target.poll_once(wait_seconds=1) == 1
    assert quota_cap() == "5"

    # When it clears, the same path reverts it
    clients["cloudwatch"].set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="test")
    assert bridge.poll_once() == 1
    assert target.poll_once(wait_seconds=1) == 1
    assert quota_cap() is None
    audit = clients["dynamodb"].scan(
        TableName=cost.table,
        FilterExpression="begins_with(id, :a)",
        ExpressionAttributeValues={":a": {"S": "audit#"}},
    )["Items"]
    assert sorted(json.loads(i["entry"]["S"])["event"] for i in audit) == [
        "CostActionApplied",
        "CostActionReverted",
    ]
