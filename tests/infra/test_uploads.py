"""Properties of the S3 batch ingestion resources in the synthesized stack."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template


def test_uploads_bucket_is_kms_encrypted_versioned_private_logged_with_lifecycle(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    Match.object_like(
                        {"ServerSideEncryptionByDefault": Match.object_like({"SSEAlgorithm": "aws:kms"})}
                    )
                ]
            },
            "VersioningConfiguration": {"Status": "Enabled"},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "uploads/"}),
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {"Prefix": "incoming/", "ExpirationInDays": 1, "Status": "Enabled"}
                        ),
                        Match.object_like(
                            {
                                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                                "Status": "Enabled",
                            }
                        ),
                    ]
                )
            },
        },
    )


def test_every_bucket_denies_plain_http(template: Template) -> None:
    policies = template.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 6  # uploads, async inference and lifecycle, each with its access-log bucket
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        )


def test_incoming_objects_notify_the_ingest_queue_not_a_function(template: Template) -> None:
    template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {
            "NotificationConfiguration": {
                "QueueConfigurations": [
                    Match.object_like(
                        {
                            "Events": ["s3:ObjectCreated:*"],
                            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}},
                        }
                    )
                ]
            }
        },
    )


def test_ingest_queue_has_a_dlq_and_s3_may_use_its_key(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "VisibilityTimeout": 5400,
            "RedrivePolicy": {"deadLetterTargetArn": Match.any_value(), "maxReceiveCount": 5},
        },
    )
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "s3.amazonaws.com"},
                                "Action": Match.array_with(["kms:Decrypt", "kms:GenerateDataKey*"]),
                            }
                        )
                    ]
                )
            }
        },
    )


def test_ingest_function_gets_one_file_per_invocation_with_512_mb(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"BatchSize": 1, "FunctionResponseTypes": ["ReportBatchItemFailures"]},
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "MemorySize": 512,
            "Timeout": 900,
            "Environment": {"Variables": Match.object_like({"INGEST_LIMITS": Match.any_value()})},
        },
    )


def test_ingest_redacts_with_the_same_key_and_vault_as_the_api(template: Template) -> None:
    functions = template.find_resources("AWS::Lambda::Function")
    pii = {"PII_KEY_SECRET_ARN", "PII_VAULT_TABLE_NAME"}

    def pii_environment(marker: str) -> dict[str, object]:
        [variables] = [
            f["Properties"]["Environment"]["Variables"]
            for f in functions.values()
            if marker in f["Properties"].get("Environment", {}).get("Variables", {})
        ]
        return {name: variables[name] for name in pii}

    assert pii_environment("INGEST_LIMITS") == pii_environment("IDEMPOTENCY_TABLE_NAME")


def test_uploads_bucket_is_a_stack_output(template: Template) -> None:
    assert {"UploadsBucket", "BatchesTableName", "IngestQueueUrl"} <= set(template.find_outputs("*"))
