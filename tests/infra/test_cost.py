"""The cost governance resources in the template: budget, topics, alarms, rules, their targets and policies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.cost import STACK_TAG, budget_tag_filter
from sluice.cost.alarms import SAMPLE_EVERY_MINUTES
from sluice.runtime.budget import Settings
from tests.infra.conftest import make_app


def _one(template: Template, kind: str, **properties: Any) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(kind, {"Properties": properties} if properties else None)
    assert len(found) == 1, sorted(found)
    return next(iter(found.items()))


def _budget_topic_key(template: Template) -> str:
    _, budget = _one(template, "AWS::Budgets::Budget")
    address = json.dumps(budget["Properties"]["NotificationsWithSubscribers"][0]["Subscribers"][0]["Address"])
    (topic,) = [t for name, t in template.find_resources("AWS::SNS::Topic").items() if name in address]
    key: str = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    return key


def _budget_function(template: Template) -> tuple[str, dict[str, Any]]:
    return _one(template, "AWS::Lambda::Function", Description=Match.string_like_regexp("^Sluice budget"))


def test_the_stack_budget_filters_on_the_stack_tag_and_notifies_the_encrypted_topic(
    cost_template: Template,
) -> None:
    _, budget = _one(cost_template, "AWS::Budgets::Budget")
    data = budget["Properties"]["Budget"]
    assert data["BudgetType"] == "COST"
    assert data["TimeUnit"] == "MONTHLY"
    assert data["BudgetLimit"] == {"Amount": 2500, "Unit": "USD"}
    assert data["CostFilters"] == budget_tag_filter("Sluice") == {"TagKeyValue": [f"user:{STACK_TAG}$Sluice"]}
    notifications = budget["Properties"]["NotificationsWithSubscribers"]
    assert {
        (n["Notification"]["NotificationType"], n["Notification"]["Threshold"]) for n in notifications
    } == {("ACTUAL", 80), ("FORECASTED", 80), ("ACTUAL", 100), ("FORECASTED", 100)}
    addresses = {json.dumps(s["Address"]) for n in notifications for s in n["Subscribers"]}
    (address,) = addresses
    (topic,) = [name for name in cost_template.find_resources("AWS::SNS::Topic") if name in address]
    topic_properties = cost_template.find_resources("AWS::SNS::Topic")[topic]["Properties"]
    key = topic_properties["KmsMasterKeyId"]["Fn::GetAtt"][0]
    assert key.startswith("EncryptionKey")  # the platform's customer key


def test_every_resource_carries_the_tag_the_budget_filters_on(cost_template: Template) -> None:
    for kind in ("AWS::Lambda::Function", "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::SNS::Topic"):
        for name, resource in cost_template.find_resources(kind).items():
            tags = {t["Key"]: t["Value"] for t in resource["Properties"].get("Tags", [])}
            assert tags.get(STACK_TAG) == "Sluice", name


def test_a_tenant_with_a_budget_has_a_daily_spend_alarm_on_its_metered_cost(cost_template: Template) -> None:
    _, alarm = _one(cost_template, "AWS::CloudWatch::Alarm", MetricName="EstimatedCostUSD")
    properties = alarm["Properties"]
    assert properties["Namespace"] == "Sluice"
    # The meter's tenant dimension is the id requests carry: the tenant's API key id
    (dimension,) = properties["Dimensions"]
    assert dimension["Name"] == "tenant"
    (api_key,) = cost_template.find_resources("AWS::ApiGateway::ApiKey")
    assert dimension["Value"] == {"Ref": api_key}
    assert properties["Statistic"] == "Sum"
    assert properties["Period"] == 86400
    assert properties["Threshold"] == pytest.approx(30.0)
    assert properties["AlarmName"]  # named from the stack, so the function can map it to its trigger


def test_each_configured_route_has_an_instance_hours_alarm_from_the_samples(cost_template: Template) -> None:
    alarms = cost_template.find_resources(
        "AWS::CloudWatch::Alarm", {"Properties": {"Metrics": Match.any_value()}}
    )
    by_route = {}
    for alarm in alarms.values():
        metrics = alarm["Properties"]["Metrics"]
        expression = next((m for m in metrics if "Expression" in m), None)
        stat = next((m for m in metrics if "MetricStat" in m), None)
        if (
            expression is None
            or stat is None
            or stat["MetricStat"]["Metric"]["MetricName"] != "InstanceCount"
        ):
            continue
        route = stat["MetricStat"]["Metric"]["Dimensions"][0]["Value"]
        by_route[route] = (expression["Expression"], alarm["Properties"]["Threshold"])
    assert by_route == {
        "intent": (f"samples * {SAMPLE_EVERY_MINUTES} / 60", 30),
        "chat": (f"samples * {SAMPLE_EVERY_MINUTES} / 60", 12),
    }


def test_alarm_state_changes_of_the_cost_alarms_reach_the_budget_function(cost_template: Template) -> None:
    function, _ = _budget_function(cost_template)
    _, rule = _one(
        cost_template,
        "AWS::Events::Rule",
        EventPattern=Match.object_like({"detail-type": ["CloudWatch Alarm State Change"]}),
    )
    properties = rule["Properties"]
    assert "EventBusName" not in properties  # the default bus, where CloudWatch sends them
    assert properties["EventPattern"]["source"] == ["aws.cloudwatch"]
    assert len(properties["EventPattern"]["resources"]) == 3  # one tenant-spend, two instance-hours
    (target,) = properties["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function, "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 8
    assert "DeadLetterConfig" in target
    # And EventBridge may invoke the function for this rule only
    cost_template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Principal": "events.amazonaws.com",
            "FunctionName": {"Fn::GetAtt": [function, "Arn"]},
            "SourceArn": Match.any_value(),
        },
    )


def test_the_schedule_and_the_budget_topic_start_the_function(cost_template: Template) -> None:
    function, _ = _budget_function(cost_template)
    schedules = cost_template.find_resources(
        "AWS::Events::Rule", {"Properties": {"ScheduleExpression": f"rate({SAMPLE_EVERY_MINUTES} minutes)"}}
    )
    # Other functions run on a schedule too (the sweeper): exactly one starts the budget function.
    targets = [target["Arn"] for rule in schedules.values() for target in rule["Properties"]["Targets"]]
    assert targets.count({"Fn::GetAtt": [function, "Arn"]}) == 1
    cost_template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "lambda", "Endpoint": {"Fn::GetAtt": [function, "Arn"]}}
    )


def test_budgets_may_publish_to_the_topic_and_use_the_key_only_for_this_accounts_budgets(
    cost_template: Template,
) -> None:
    # https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html
    policies = cost_template.find_resources("AWS::SNS::TopicPolicy")
    statements = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    (publish,) = [s for s in statements if s.get("Principal") == {"Service": "budgets.amazonaws.com"}]
    assert publish["Action"] == "sns:Publish"
    assert publish["Effect"] == "Allow"
    assert set(publish["Condition"]) == {"StringEquals", "ArnLike"}
    assert "aws:SourceAccount" in publish["Condition"]["StringEquals"]
    assert ":budgets::" in json.dumps(publish["Condition"]["ArnLike"]["aws:SourceArn"])
    key = cost_template.find_resources("AWS::KMS::Key")[_budget_topic_key(cost_template)]
    (use,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "budgets.amazonaws.com"}
    ]
    assert sorted(use["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert "aws:SourceAccount" in use["Condition"]["StringEquals"]


def test_the_budget_function_reads_exactly_its_settings_and_may_change_only_what_its_actions_change(
    cost_template: Template,
) -> None:
    _, function = _budget_function(cost_template)
    variables = set(function["Properties"]["Environment"]["Variables"])
    assert Settings.variables() <= variables
    assert variables - Settings.variables() <= {
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
    }
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        s
        for p in cost_template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = {
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {
        "application-autoscaling:RegisterScalableTarget",
        "sagemaker:DescribeEndpoint",
        "ssm:PutParameter",
        "events:PutEvents",
        "dynamodb:UpdateItem",
    } <= actions
    assert "tenant_ids" in json.dumps(function["Properties"]["Environment"]["Variables"]) or (
        "TENANT_IDS" in function["Properties"]["Environment"]["Variables"]
    )
    assert not any(a.endswith(":*") or a == "*" for a in actions)
    # And it registers scaling ranges only for SageMaker variants' instance counts
    (register,) = [s for s in statements if s["Action"] == "application-autoscaling:RegisterScalableTarget"]
    assert register["Condition"]["StringEquals"] == {
        "application-autoscaling:service-namespace": "sagemaker",
        "application-autoscaling:scalable-dimension": "sagemaker:variant:DesiredInstanceCount",
    }
    assert "sagemaker:InvokeEndpoint" not in actions


def test_invalid_cost_config_fails_synth(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from infra.config import load_config

    app = make_app(tmp_path, cost={"alarms": {"actions": {"tenant-spend:nobody": []}}})
    with pytest.raises((ValidationError, ValueError), match="unknown tenant"):
        load_config(app)
