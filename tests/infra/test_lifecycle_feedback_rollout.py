"""Feedback and rollout in the template: the KMS feedback table and its index, the API's and the
routes' feedback resources, the export's schedule and the retraining rule on labelled feedback,
the deploy function's rules on SageMaker's events, its rollback alarms and its narrow grants."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match, Template

from sluice.runtime.deploy import Settings as DeploySettings


def _function(template: Template, description: str) -> dict[str, Any]:
    return _function_and_id(template, description)[1]


def _function_and_id(template: Template, description: str) -> tuple[str, dict[str, Any]]:
    [(logical_id, function)] = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Description": Match.string_like_regexp(description)}}
    ).items()
    return logical_id, function


def test_the_feedback_table_is_kms_encrypted_with_recovery_and_a_route_index(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": Match.any_value()},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "GlobalSecondaryIndexes": [
                Match.object_like(
                    {
                        "IndexName": "ByRoute",
                        "KeySchema": [
                            {"AttributeName": "feedback_route", "KeyType": "HASH"},
                            {"AttributeName": "created_at", "KeyType": "RANGE"},
                        ],
                    }
                )
            ],
        },
    )


def test_the_api_takes_feedback_on_a_keyed_validated_resource(template: Template) -> None:
    template.has_resource_properties("AWS::ApiGateway::Resource", {"PathPart": "feedback"})
    template.has_resource_properties(
        "AWS::ApiGateway::Method",
        {
            "HttpMethod": "POST",
            "ApiKeyRequired": True,
            "RequestParameters": {"method.request.path.id": True},
            "ResourceId": {"Ref": Match.string_like_regexp("feedback")},
        },
    )
    api = _function(template, "Sluice REST API")
    variables = api["Properties"]["Environment"]["Variables"]
    assert variables["FEEDBACK_ROUTES"] == "intent"
    assert "FEEDBACK_TABLE_NAME" in variables


def test_enough_labelled_feedback_starts_the_routes_pipeline(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["sluice"],
                "detail-type": ["LabelledFeedbackArrived"],
                "detail": {"detail": {"route": ["intent"]}},
            },
            "Targets": [
                Match.object_like(
                    {
                        "Arn": Match.any_value(),
                        "RoleArn": Match.any_value(),
                        "SageMakerPipelineParameters": Match.any_value(),
                    }
                )
            ],
        },
    )
    export = _function(template, "feedback export")
    variables = export["Properties"]["Environment"]["Variables"]
    assert json.loads(variables["FEEDBACK_ROUTES"]) == ["intent"]
    assert variables["TRAINING_DATA_PREFIX"] == "data/feedback"


def test_an_approved_package_an_endpoint_settling_and_a_failed_run_reach_the_deploy_function(
    template: Template,
) -> None:
    logical_id, deploy = _function_and_id(template, "Sluice deploy")
    patterns = []
    for rule in template.find_resources("AWS::Events::Rule").values():
        pattern = rule["Properties"].get("EventPattern", {})
        if pattern.get("source") == ["aws.sagemaker"]:
            [target] = rule["Properties"]["Targets"]
            assert target["Arn"] == {"Fn::GetAtt": [logical_id, "Arn"]}
            assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
            patterns.append(pattern)
    by_type = {pattern["detail-type"][0]: pattern["detail"] for pattern in patterns}
    assert set(by_type) == {
        "SageMaker Model Package State Change",
        "SageMaker Endpoint State Change",
        "SageMaker Model Building Pipeline Execution Status Change",
    }
    approved = by_type["SageMaker Model Package State Change"]
    assert approved["ModelApprovalStatus"] == ["Approved"]
    assert [group.endswith("-intent") for group in approved["ModelPackageGroupName"]] == [True]
    assert by_type["SageMaker Endpoint State Change"]["EndpointStatus"] == ["IN_SERVICE", "FAILED"]
    assert by_type["SageMaker Model Building Pipeline Execution Status Change"][
        "currentPipelineExecutionStatus"
    ] == ["Failed"]
    assert set(deploy["Properties"]["Environment"]["Variables"]) >= DeploySettings.variables() - {
        "ROLLOUT_POLICY",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
    }


def test_the_rollback_alarms_watch_the_variant_taking_new_versions(template: Template) -> None:
    alarms = template.find_resources(
        "AWS::CloudWatch::Alarm",
        {"Properties": {"AlarmDescription": Match.string_like_regexp("variant taking a new version")}},
    )
    assert len(alarms) == 2
    latency = next(a for a in alarms.values() if a["Properties"].get("MetricName") == "ModelLatency")
    assert latency["Properties"]["ExtendedStatistic"] == "p99"
    assert latency["Properties"]["Threshold"] == 1_000_000  # microseconds: 1000 ms
    dimensions = {d["Name"] for d in latency["Properties"]["Dimensions"]}
    assert dimensions == {"EndpointName", "VariantName"}
    errors = next(a for a in alarms.values() if "Metrics" in a["Properties"])
    expressions = [m.get("Expression") for m in errors["Properties"]["Metrics"]]
    assert "IF(invocations > 0, errors / invocations, 0)" in expressions


def test_the_deploy_function_may_update_only_the_routes_endpoint_and_pass_only_the_models_role(
    template: Template,
) -> None:
    deploy = _function(template, "Sluice deploy")
    role_id = deploy["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    update = next(s for s in statements if "sagemaker:UpdateEndpoint" in json.dumps(s["Action"]))
    assert update["Resource"] != "*"
    assert "Ref" in json.dumps(update["Resource"])  # the endpoint's own ARN
    passing = next(s for s in statements if s["Action"] == "iam:PassRole")
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
