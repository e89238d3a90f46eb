"""Properties of the synthesized stack that operators and auditors rely on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from tests.infra.conftest import make_app


def test_route_queue_has_kms_dlq_and_visibility_six_times_worker_timeout(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "KmsMasterKeyId": Match.any_value(),
            "VisibilityTimeout": 360,
            "RedrivePolicy": {"deadLetterTargetArn": Match.any_value(), "maxReceiveCount": 3},
        },
    )


def test_every_queue_is_encrypted_and_tls_only(template: Template) -> None:
    queues = template.find_resources("AWS::SQS::Queue")
    # three route queues, the ingest queue, the async results queue, the audit inbox and the review
    # queue, each with its DLQ, and the cost rules' dead-letter queue
    assert len(queues) == 15
    assert all("KmsMasterKeyId" in q["Properties"] for q in queues.values())
    template.resource_count_is("AWS::SQS::QueuePolicy", 15)
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            }
        },
    )


def test_worker_reports_batch_item_failures(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 10},
            "BatchSize": 16,
            "MaximumBatchingWindowInSeconds": 1,
        },
    )


def test_dead_letters_raise_an_alarm(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    )


def test_tables_are_kms_encrypted_with_pitr_and_ttl(template: Template) -> None:
    for ttl_attribute in ("expires_at", "expiration"):
        template.has_resource_properties(
            "AWS::DynamoDB::Table",
            {
                "SSESpecification": {
                    "SSEEnabled": True,
                    "SSEType": "KMS",
                    "KMSMasterKeyId": Match.any_value(),
                },
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "TimeToLiveSpecification": {"AttributeName": ttl_attribute, "Enabled": True},
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            },
        )


def test_endpoint_runs_on_the_configured_gpu(template: Template) -> None:
    # ml.g5 has local NVMe storage: no KmsKeyId (tests/infra/test_deploy_rules.py), one variant in dev
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "KmsKeyId": Match.absent(),
            "ProductionVariants": [
                Match.object_like(
                    {"VariantName": "primary", "InstanceType": "ml.g5.xlarge", "InitialVariantWeight": 100}
                ),
            ],
        },
    )
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "EnableNetworkIsolation": True,
            "PrimaryContainer": Match.object_like(
                {"Environment": Match.object_like({"SAGEMAKER_PROGRAM": "inference.py"})}
            ),
        },
    )
    template.resource_count_is("AWS::SageMaker::Endpoint", 3)


def test_the_embed_route_runs_its_own_model_on_a_cpu_instance_with_the_customer_key(
    template: Template,
) -> None:
    # ml.c5 is EBS-only: its volume is encrypted with the stack's key (KmsKeyId present)
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "KmsKeyId": Match.any_value(),
            "ProductionVariants": [
                Match.object_like({"VariantName": "primary", "InstanceType": "ml.c5.large"})
            ],
        },
    )


def test_a_joblib_route_runs_on_the_scikit_learn_image(tmp_path: Path) -> None:
    from infra.config import load_config
    from infra.stack import SluiceStack

    # Given a route whose model is a joblib pipeline, on the scikit-learn image
    route = {
        "name": "tfidf",
        "endpoint": {
            "instance_type": "ml.m5.large",
            "image": {"framework": "sklearn", "version": "1.4-2-py312", "py_version": "py3"},
            "model": {"kind": "sklearn", "path": "tests/byo_models"},
        },
    }
    app = make_app(tmp_path, routes=[{"name": "intent"}, route])
    stack = SluiceStack(app, "Sluice", config=load_config(app))
    template = Template.from_stack(stack)
    # Then its Model pulls the scikit-learn image, runs the packed handler, with network isolation
    models = template.find_resources("AWS::SageMaker::Model")
    (model,) = [m for name, m in models.items() if "Tfidf" in name or "tfidf" in name.lower()]
    container = model["Properties"]["PrimaryContainer"]
    assert model["Properties"]["EnableNetworkIsolation"] is True
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    mapping_id = container["Image"]["Fn::FindInMap"][0]
    uri = template.find_mappings(mapping_id)[mapping_id]["us-east-1"]["Uri"]
    assert uri.endswith("sagemaker-scikit-learn:1.4-2-py312-cpu-py3")


def test_gpu_instance_type_comes_from_config(tmp_path: Path) -> None:
    from infra.config import load_config
    from infra.stack import SluiceStack

    app = make_app(tmp_path, routes=[{"name": "intent", "endpoint": {"instance_type": "ml.g6.2xlarge"}}])
    template = Template.from_stack(SluiceStack(app, "Sluice", config=load_config(app)))
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {"ProductionVariants": [Match.object_like({"InstanceType": "ml.g6.2xlarge"})]},
    )


def test_api_stage_throttles_logs_access_and_never_traces_data(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
            "TracingEnabled": True,
            "MethodSettings": Match.array_with(
                [
                    Match.object_like(
                        {"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100, "DataTraceEnabled": False}
                    )
                ]
            ),
        },
    )


def test_tenants_need_api_keys_under_a_usage_plan(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {"Quota": {"Limit": 100000, "Period": "DAY"}, "Throttle": Match.any_value()},
    )
    template.resource_count_is("AWS::ApiGateway::ApiKey", 1)
    template.has_resource_properties(
        "AWS::ApiGateway::Method", {"HttpMethod": "POST", "ApiKeyRequired": True}
    )
    # bodies are the api function's to validate (one contract: tests/infra/test_deploy_rules.py)
    template.has_resource_properties(
        "AWS::ApiGateway::RequestValidator",
        {"ValidateRequestBody": Match.absent(), "ValidateRequestParameters": True},
    )


def _sluice_functions(template: Template) -> dict[str, Any]:
    """Our functions (api, worker, ingest, async_result, drift_monitor), not CDK's custom-resource handlers."""
    return {
        name: function
        for name, function in template.find_resources("AWS::Lambda::Function").items()
        if "POWERTOOLS_SERVICE_NAME" in function["Properties"].get("Environment", {}).get("Variables", {})
    }


def test_functions_use_the_latest_python_with_tracing_and_explicit_limits(template: Template) -> None:
    functions = _sluice_functions(template)
    # api, worker, ingest, async_result, sweeper, drift_monitor, budget, audit, feedback_export,
    # deploy, reviews, review_intake
    assert len(functions) == 12
    for function in functions.values():
        properties = function["Properties"]
        assert properties["Runtime"] == "python3.14"
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert properties["MemorySize"] >= 128
        assert properties["Timeout"] <= 900
        assert properties["Layers"]
        assert "KmsKeyArn" in properties  # environment variables encrypted with the platform key


def test_each_function_has_its_own_role(template: Template) -> None:
    roles = {f["Properties"]["Role"]["Fn::GetAtt"][0] for f in _sluice_functions(template).values()}
    assert len(roles) == 12


def test_log_groups_are_encrypted_with_retention(template: Template) -> None:
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert groups
    for group in groups.values():
        assert "KmsKeyId" in group["Properties"]
        assert group["Properties"]["RetentionInDays"] == 30


def test_outputs_tell_a_caller_where_things_are(template: Template) -> None:
    outputs = template.find_outputs("*")
    for name in ("ApiUrl", "JobsTableName", "EventBusName", "QueueUrlIntent", "EndpointNameIntent"):
        assert name in outputs


def test_no_fixed_physical_names(template: Template) -> None:
    for resource_type, name_property in (
        ("AWS::Lambda::Function", "FunctionName"),
        ("AWS::SQS::Queue", "QueueName"),
        ("AWS::DynamoDB::Table", "TableName"),
    ):
        assert all(
            name_property not in r["Properties"] for r in template.find_resources(resource_type).values()
        )


def test_invalid_context_fails_synth(tmp_path: Path) -> None:
    from infra.config import load_config

    app = make_app(tmp_path, routes=[{"name": "intent", "batch_size": 0}])
    with pytest.raises(ValueError, match=r"cdk\.json context 'sluice' is invalid"):
        load_config(app)


def test_pii_key_and_vault_are_encrypted_and_only_the_api_can_use_them(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {"KmsKeyId": Match.any_value(), "GenerateSecretString": Match.object_like({"PasswordLength": 64})},
    )
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "SSESpecification": Match.object_like({"SSEType": "KMS"}),
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
    )
    api_environment = next(
        f["Properties"]["Environment"]["Variables"]
        for f in _sluice_functions(template).values()
        if "IDEMPOTENCY_TABLE_NAME" in f["Properties"]["Environment"]["Variables"]
    )
    assert {"PII_KEY_SECRET_ARN", "PII_VAULT_TABLE_NAME"} <= set(api_environment)


def test_each_tenant_has_its_own_key_and_usage_plan(tmp_path: Path) -> None:
    from infra.config import load_config
    from infra.stack import SluiceStack

    # Given two tenants, one with a plan of its own
    api = {
        "tenants": ["acme", "globex"],
        "plans": {"globex": {"throttle_rate_limit": 5, "throttle_burst_limit": 10, "quota_per_day": 1000}},
    }
    app = make_app(tmp_path, api=api)
    template = Template.from_stack(SluiceStack(app, "Sluice", config=load_config(app)))

    # Then each has a key in a plan of its own: the default limits for acme, its own for globex
    template.resource_count_is("AWS::ApiGateway::ApiKey", 2)
    template.resource_count_is("AWS::ApiGateway::UsagePlanKey", 2)
    plans = [p["Properties"] for p in template.find_resources("AWS::ApiGateway::UsagePlan").values()]
    assert sorted((p["Throttle"]["RateLimit"], p["Quota"]["Limit"]) for p in plans) == [
        (5, 1000),
        (50, 100000),
    ]
