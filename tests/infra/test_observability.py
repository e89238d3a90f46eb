"""The stage's dashboard, every alarm with an action, and the audit trail's table and grants."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match, Template

from sluice.observability.audit_events import AUDITED_EVENTS
from sluice.observability.panels import PANELS


def _alarms(template: Template) -> dict[str, Any]:
    return template.find_resources("AWS::CloudWatch::Alarm")


def _topic(template: Template) -> str:
    (topic,) = [
        name
        for name, resource in template.find_resources("AWS::SNS::Topic").items()
        if name.startswith("OperatorAlerts")
    ]
    return topic


def test_every_alarm_in_the_template_has_an_action(template: Template) -> None:
    # Given every alarm the stack makes
    alarms = _alarms(template)
    assert len(alarms) >= 10

    # Then each acts: operator alarms notify the operators' topic, scaling triggers scale
    topic = _topic(template)
    for name, alarm in alarms.items():
        actions = alarm["Properties"].get("AlarmActions", [])
        assert actions, f"{name} has no alarm action"
        notifies = {"Ref": topic} in actions
        scales = any("Ref" in action and "Scaling" in action["Ref"] for action in actions)
        assert notifies or scales, f"{name} neither notifies {topic} nor scales"


def test_the_operators_topic_is_encrypted_with_the_platform_key(template: Template) -> None:
    topic = template.find_resources("AWS::SNS::Topic")[_topic(template)]
    assert "KmsMasterKeyId" in topic["Properties"]


def test_the_issue_alarms_exist_error_rate_p99_latency_model_latency_and_endpoint_errors(
    template: Template,
) -> None:
    alarms = _alarms(template).values()
    expressions = [
        metric.get("Expression", "") for alarm in alarms for metric in alarm["Properties"].get("Metrics", [])
    ]
    # Error rate: the api's server errors over all its answers
    assert any("server" in expression and "accepted" in expression for expression in expressions)
    names = {
        (
            alarm["Properties"].get("Namespace"),
            alarm["Properties"].get("MetricName"),
            alarm["Properties"].get("ExtendedStatistic"),
        )
        for alarm in alarms
    }
    assert ("Sluice", "LatencyMs", "p99") in names
    assert ("AWS/SageMaker", "ModelLatency", "p99") in names
    assert ("AWS/SageMaker", "Invocation5XXErrors", None) in names
    assert ("AWS/SageMaker", "Invocation4XXErrors", None) in names
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", None) in names  # DLQ depth
    assert ("AWS/SQS", "ApproximateAgeOfOldestMessage", None) in names


def _dashboard_widgets(template: Template) -> list[dict[str, Any]]:
    """The dashboard body's widgets, with each CloudFormation reference in it as a placeholder."""
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    body = "".join(part if isinstance(part, str) else "REF" for part in parts)
    widgets: list[dict[str, Any]] = json.loads(body)["widgets"]
    return widgets


def test_the_dashboard_has_every_panel_of_the_shared_list(template: Template) -> None:
    # Given the stage's dashboard
    widgets = _dashboard_widgets(template)
    by_title = {widget["properties"].get("title"): widget["properties"] for widget in widgets}

    # Then each panel of sluice.observability.panels is a widget, one SEARCH per series
    for panel in PANELS:
        expressions = [
            metric[0]["expression"]
            for metric in by_title[panel.title]["metrics"]
            if "expression" in metric[0]
        ]
        assert len(expressions) == len(panel.series), panel.title
        for series, expression in zip(panel.series, expressions, strict=True):
            schema = 'SEARCH(\'Namespace="Sluice"' if series.any_set else "SEARCH('{Sluice,"
            assert expression.startswith(schema)
            assert f'MetricName="{series.metric}"' in expression
            assert f"'{series.stat}', 60)" in expression
    # And the AWS-native panels and the alarm status are there too
    titles = " ".join(str(title) for title in by_title)
    for title in ("Dead-letter queue depth", "Oldest queued message", "Endpoint invocations", "Alarms"):
        assert title in titles


def test_the_audit_table_is_keyed_by_tenant_and_time_encrypted_retained_and_protected(
    template: Template,
) -> None:
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": Match.object_like(
                {
                    "KeySchema": [
                        {"AttributeName": "tenant", "KeyType": "HASH"},
                        {"AttributeName": "at_id", "KeyType": "RANGE"},
                    ],
                    "SSESpecification": Match.object_like({"SSEEnabled": True, "SSEType": "KMS"}),
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
                    "DeletionProtectionEnabled": True,
                }
            ),
            "DeletionPolicy": "Retain",
        },
    )


def _audit_table(template: Template) -> str:
    (name,) = [
        name
        for name, table in template.find_resources("AWS::DynamoDB::Table").items()
        if {"AttributeName": "at_id", "KeyType": "RANGE"} in table["Properties"]["KeySchema"]
    ]
    return name


def test_writers_may_only_put_audit_records_never_update_or_delete_them(template: Template) -> None:
    # Given every policy that names the audit table
    table = _audit_table(template)
    actions: list[str] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            resources = statement.get("Resource")
            resources = resources if isinstance(resources, list) else [resources]
            if any(isinstance(r, dict) and r.get("Fn::GetAtt", [None])[0] == table for r in resources):
                granted = statement["Action"]
                actions += granted if isinstance(granted, list) else [granted]

    # Then the only grant on it is PutItem (the api's and the audit function's)
    assert actions
    assert set(actions) == {"dynamodb:PutItem"}


def test_the_audited_events_reach_the_audit_function_through_an_encrypted_queue(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Events::Rule",
        {"EventPattern": {"source": ["sluice"], "detail-type": list(AUDITED_EVENTS)}},
    )
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"FunctionResponseTypes": ["ReportBatchItemFailures"], "BatchSize": 10},
    )
