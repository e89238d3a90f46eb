"""AWS's deploy-time rules for the cost resources, checked on the synthesized template and code.

Each encodes a rule cfn-lint, cdk-nag and checkov do not know, with the AWS documentation it
comes from (see tests/infra/test_deploy_rules.py for the platform's others).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template
from pydantic import ValidationError

from sluice.adapters.application_autoscaling import AutoscalingControl
from sluice.config import CostConfig


def _statements_of(resource: dict[str, Any], field: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = resource["Properties"][field]["Statement"]
    return statements


def test_every_sns_subscriber_of_a_budget_lets_budgets_publish_and_use_its_key(
    cost_template: Template,
) -> None:
    # "Your budget must have permissions to send a notification to your topic": a topic policy
    # statement for budgets.amazonaws.com, held to this account's budgets.
    # https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html
    # An encrypted topic also needs its key policy to let the publishing service use the key:
    # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
    topics = cost_template.find_resources("AWS::SNS::Topic")
    policies = cost_template.find_resources("AWS::SNS::TopicPolicy")
    keys = cost_template.find_resources("AWS::KMS::Key")
    budgets = cost_template.find_resources("AWS::Budgets::Budget")
    assert budgets
    for budget in budgets.values():
        for notification in budget["Properties"]["NotificationsWithSubscribers"]:
            for subscriber in notification["Subscribers"]:
                if subscriber["SubscriptionType"] != "SNS":
                    continue
                (topic,) = [name for name in topics if name in json.dumps(subscriber["Address"])]
                allowed = [
                    s
                    for policy in policies.values()
                    if {"Ref": topic} in policy["Properties"]["Topics"]
                    for s in _statements_of(policy, "PolicyDocument")
                    if s.get("Principal") == {"Service": "budgets.amazonaws.com"} and s["Effect"] == "Allow"
                ]
                assert allowed, f"no statement lets Budgets publish to {topic}"
                assert all("aws:SourceAccount" in s["Condition"]["StringEquals"] for s in allowed)
                key = topics[topic]["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
                key_statements = _statements_of(keys[key], "KeyPolicy")
                assert any(
                    s.get("Principal") == {"Service": "budgets.amazonaws.com"}
                    and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(s["Action"])
                    for s in key_statements
                ), f"Budgets cannot use {key}, so its notifications to {topic} would be dropped"


def test_a_budget_has_at_most_ten_notifications_each_with_at_most_one_sns_subscriber(
    cost_template: Template,
) -> None:
    # "A budget can have up to ten notifications ... A notification can have one SNS subscriber"
    # https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_Notification.html
    for budget in cost_template.find_resources("AWS::Budgets::Budget").values():
        notifications = budget["Properties"]["NotificationsWithSubscribers"]
        assert len(notifications) <= 10
        for notification in notifications:
            assert sum(s["SubscriptionType"] == "SNS" for s in notification["Subscribers"]) <= 1
    # And the config cannot ask for more: each threshold is an ACTUAL and a FORECASTED notification
    with pytest.raises(ValidationError):
        CostConfig(stack_budget_thresholds_percent=(50, 60, 70, 80, 90, 100))


def test_rules_on_aws_service_events_are_on_the_default_bus(cost_template: Template) -> None:
    # CloudWatch sends alarm state changes to the account's default event bus only; a rule on the
    # platform's custom bus would deploy and never fire.
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html
    rules = cost_template.find_resources("AWS::Events::Rule")
    aws_sourced = [
        r
        for r in rules.values()
        if any(s.startswith("aws.") for s in r["Properties"].get("EventPattern", {}).get("source", []))
    ]
    assert aws_sourced
    for rule in aws_sourced:
        assert rule["Properties"].get("EventBusName", "default") == "default"


def test_alarm_evaluation_ranges_are_within_cloudwatchs_limits(cost_template: Template) -> None:
    # PutMetricAlarm: Period x EvaluationPeriods can't be more than 604,800 s; under an hour's
    # period, not more than 86,400 s. Periods are 10, 20, 30 or a multiple of 60.
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
    for name, alarm in cost_template.find_resources("AWS::CloudWatch::Alarm").items():
        properties = alarm["Properties"]
        periods = (
            [properties["Period"]]
            if "Period" in properties
            else [m["MetricStat"]["Period"] for m in properties["Metrics"] if "MetricStat" in m]
        )
        for period in periods:
            assert period in (10, 20, 30) or period % 60 == 0, name
            total = period * properties["EvaluationPeriods"]
            assert total <= (86_400 if period < 3600 else 604_800), name


class _RecordingAutoscaling:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def register_scalable_target(self, **request: Any) -> None:
        self.calls.append(request)


def test_a_sagemaker_variants_maximum_capacity_is_never_below_one() -> None:
    # RegisterScalableTarget for a SageMaker variant: "--max-capacity ... must be set to at least 1"
    # https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-add-policy.html
    # Given the scaling control asked for zero (the scale-to-zero action)
    client = _RecordingAutoscaling()
    AutoscalingControl(client, {"chat": "sluice-chat"}).set_capacity(
        "chat", "llm", minimum=0, maximum=0, scale_out_suspended=True
    )
    # Then it registers a maximum of 1 with scaling out suspended, and a minimum of 0
    (call,) = client.calls
    assert (call["MinCapacity"], call["MaxCapacity"]) == (0, 1)
    assert call["SuspendedState"] == {"DynamicScalingOutSuspended": True}
    assert call["ResourceId"] == "endpoint/sluice-chat/variant/llm"
