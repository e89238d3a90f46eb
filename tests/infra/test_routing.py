"""Routing infrastructure: the live route table, breakers, async GPU endpoint, scaling and alarms."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match, Template


def _function_environment(template: Template, marker: str) -> dict[str, Any]:
    return next(
        f["Properties"]["Environment"]["Variables"]
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"].get("Description", "").startswith(marker)
    )


def test_the_route_table_is_an_ssm_parameter_the_functions_read_with_caching(template: Template) -> None:
    template.has_resource_properties("AWS::SSM::Parameter", {"Type": "String", "Tier": "Advanced"})
    for marker in ("Sluice REST API", "Sluice worker", "Sluice async_result", "Sluice ingest"):
        environment = _function_environment(template, marker)
        assert "ROUTE_TABLE_PARAMETER" in environment
        assert environment["ROUTE_TABLE_MAX_AGE_SECONDS"] == "30"
    # Breakers are shared by the functions that call endpoints, and only by them.
    for marker in ("Sluice REST API", "Sluice worker"):
        assert {"BREAKERS_TABLE_NAME", "BREAKER_POLICY"} <= set(_function_environment(template, marker))
    for marker in ("Sluice async_result", "Sluice ingest"):
        assert "BREAKERS_TABLE_NAME" not in _function_environment(template, marker)


def test_chat_runs_the_hugging_face_llm_container_with_the_model_id_from_config(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": Match.object_like(
                {
                    # resolved per region from the sagemaker SDK's table (tests/infra/test_deploy_rules.py)
                    "Image": {
                        "Fn::FindInMap": [
                            Match.string_like_regexp("ImageHuggingfaceLlm"),
                            {"Ref": "AWS::Region"},
                            "Uri",
                        ]
                    },
                    "Environment": Match.object_like({"HF_MODEL_ID": "Qwen/Qwen2.5-1.5B-Instruct"}),
                }
            ),
        },
    )


def test_the_async_endpoint_writes_to_s3_and_notifies_kms_encrypted_topics(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_like({"VariantName": "llm", "InstanceType": "ml.g5.2xlarge"})
            ],
            "AsyncInferenceConfig": {
                "OutputConfig": {
                    "S3OutputPath": Match.any_value(),
                    "S3FailurePath": Match.any_value(),
                    "KmsKeyId": Match.any_value(),
                    "NotificationConfig": {
                        "SuccessTopic": Match.any_value(),
                        "ErrorTopic": Match.any_value(),
                    },
                },
                "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 4},
            },
        },
    )
    topics = template.find_resources("AWS::SNS::Topic")
    assert len(topics) == 4  # success, error, the operators' alerts and the stack budget's
    assert all("KmsMasterKeyId" in topic["Properties"] for topic in topics.values())
    template.resource_count_is("AWS::SNS::Subscription", 3)  # and the budget function on its topic
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "sqs", "RawMessageDelivery": True}
    )


def test_the_async_endpoint_scales_to_zero_on_its_backlog(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {"MinCapacity": 0, "MaxCapacity": 2, "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"},
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "TargetValue": 4,
                    "CustomizedMetricSpecification": Match.object_like(
                        {"MetricName": "ApproximateBacklogSizePerInstance", "Namespace": "AWS/SageMaker"}
                    ),
                }
            ),
        },
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "StepScaling",
            "StepScalingPolicyConfiguration": Match.object_like({"AdjustmentType": "ChangeInCapacity"}),
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "HasBacklogWithoutCapacity", "AlarmActions": Match.any_value()},
    )


def test_realtime_variants_track_invocations_per_instance(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 1, "MaxCapacity": 4}
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                    }
                }
            )
        },
    )


def test_alarms_on_the_oldest_async_request_and_on_failures(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "ApproximateAgeOfOldestRequest", "Threshold": 1800}
    )
    # The failed-inference alarm watches the metric each finishing function really emits: under
    # its own service name (Powertools' `service` dimension is POWERTOOLS_SERVICE_NAME).
    (alarm,) = [
        a
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
        if "AsyncInferencesFailed" in json.dumps(a["Properties"].get("Metrics", []))
    ]
    watched = {
        dimension["Value"]
        for query in alarm["Properties"]["Metrics"]
        if "MetricStat" in query
        for dimension in query["MetricStat"]["Metric"]["Dimensions"]
        if dimension["Name"] == "service"
    }
    emitting = {
        f["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"].get("Description", "").startswith(("Sluice async_result", "Sluice sweeper"))
    }
    assert watched == emitting == {"sluice-async_result", "sluice-sweeper"}


def test_the_route_table_carries_the_variant_weights(template: Template) -> None:
    parameter = next(iter(template.find_resources("AWS::SSM::Parameter").values()))
    rendered = json.dumps(parameter["Properties"]["Value"])
    assert '\\"weight\\": 100' in rendered or '\\"weight\\":100' in rendered


def test_a_schedule_runs_the_sweeper_which_alone_may_query_the_async_index(template: Template) -> None:
    # The jobs table's sparse index of jobs running on asynchronous endpoints
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "GlobalSecondaryIndexes": [
                Match.object_like(
                    {
                        "IndexName": "AsyncPending",
                        "KeySchema": [
                            {"AttributeName": "async_route", "KeyType": "HASH"},
                            {"AttributeName": "handed_over_at", "KeyType": "RANGE"},
                        ],
                    }
                )
            ]
        },
    )
    # and a rule that invokes the sweeper every five minutes
    rules = template.find_resources(
        "AWS::Events::Rule", {"Properties": {"ScheduleExpression": "rate(5 minutes)"}}
    )
    (rule,) = [r for r in rules.values() if "lost" in r["Properties"]["Description"]]
    (target,) = rule["Properties"]["Targets"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 2}
    assert "SweeperFunction" in json.dumps(target["Arn"])
