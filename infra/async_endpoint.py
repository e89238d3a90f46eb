"""Asynchronous inference I/O shared by every async route: S3 in and out, SNS topics, results queue.

SageMaker reads each input from the bucket, writes the output (or the error) back and notifies
the success or error topic (KMS). Both topics deliver, raw, to one SQS queue (buffered, retried,
with a DLQ and an alarm) that feeds the `async_result` function.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk.aws_lambda_event_sources import SqsEventSource
from constructs import Construct

from infra.functions import SluiceFunction
from infra.nag import acknowledge
from infra.queues import DeadLetteredQueue

INPUT_PREFIX = "async-inference/"
OUTPUT_PREFIX = "async-output/"
FAILURE_PREFIX = "async-failures/"


class AsyncInferenceIo(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        removal_policy: RemovalPolicy,
        visibility_timeout_seconds: int,
        max_receive_count: int,
        retention_days: int = 7,
    ) -> None:
        super().__init__(scope, construct_id)
        # S3 server access logs can only be delivered to an SSE-S3 bucket, not SSE-KMS. Delivery is
        # granted by a bucket policy (cdk.json: serverAccessLogsUseBucketPolicy), not a legacy ACL.
        access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
            removal_policy=removal_policy,
        )
        acknowledge(access_logs, "AwsSolutions-S1", "This is the access-log bucket; logging it would recurse")
        # Inputs and outputs are transient copies of redacted requests and answers: kept a week.
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="async-inference/",
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(retention_days))],
            removal_policy=removal_policy,
        )
        self.success_topic = sns.Topic(self, "SuccessTopic", master_key=key, enforce_ssl=True)
        self.error_topic = sns.Topic(self, "ErrorTopic", master_key=key, enforce_ssl=True)
        # The results queue has a key of its own: SNS may use it only for these two topics, and a
        # condition naming topics encrypted with the platform key would make the platform key
        # depend on itself (a cycle CloudFormation refuses).
        results_key = kms.Key(
            self,
            "ResultsQueueKey",
            description="Sluice: encrypts the async results queue (SNS notifications)",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        results = DeadLetteredQueue(
            self,
            "Results",
            key=results_key,
            visibility_timeout_seconds=visibility_timeout_seconds,
            max_receive_count=max_receive_count,
            alarm_description="Async inference notifications that async_result could not apply",
        )
        self.queue, self.dead_letters = results.queue, results.dead_letters
        self.dead_letter_alarm = results.dead_letter_alarm
        for topic in (self.success_topic, self.error_topic):
            topic.add_subscription(subscriptions.SqsSubscription(self.queue, raw_message_delivery=True))
        # SNS encrypts what it delivers to the KMS-encrypted queue: the subscription grants
        # sns.amazonaws.com the queue's key on condition that aws:SourceArn is the topic
        # (cdk.json: @aws-cdk/aws-sns-subscriptions:restrictSqsDescryption), never unconditioned.
        # Emitted by async_result (EMF) for every inference the error topic reports.
        self.failures_alarm = cloudwatch.Alarm(
            self,
            "FailuresAlarm",
            alarm_description="Asynchronous inferences failed on their endpoint",
            metric=cloudwatch.Metric(
                namespace="Sluice",
                metric_name="AsyncInferencesFailed",
                dimensions_map={"service": "sluice"},
                period=Duration.minutes(5),
                statistic="Sum",
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def grant_endpoint(self, role: iam.IRole, key: kms.IKey, route: str) -> None:
        """What SageMaker's execution role needs for one route: read its inputs, write its
        outputs and failures, notify. Nothing to delete: the bucket's lifecycle expires objects."""
        self.bucket.grant_read(role, f"{INPUT_PREFIX}{route}/*")
        for prefix in (OUTPUT_PREFIX, FAILURE_PREFIX):
            self.bucket.grant_put(role, f"{prefix}{route}/*")
        self.success_topic.grant_publish(role)
        self.error_topic.grant_publish(role)
        key.grant_encrypt_decrypt(role)
        self._acknowledge_object_grant(
            role,
            "s3:Abort*",
            "s3:GetBucket*",
            "s3:GetObject*",
            "s3:List*",
            resources=tuple(f"{prefix}{route}/*" for prefix in (INPUT_PREFIX, OUTPUT_PREFIX, FAILURE_PREFIX)),
        )
        for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
            acknowledge(role, f"AwsSolutions-IAM5[Action::{action}]", "CDK's grants on the platform key")

    def grant_read_objects(self, role: iam.IRole) -> None:
        self.bucket.grant_read(role)
        self._acknowledge_object_grant(role, "s3:GetBucket*", "s3:GetObject*", "s3:List*")

    def grant_put_objects(self, role: iam.IRole) -> None:
        self.bucket.grant_put(role)
        self._acknowledge_object_grant(role, "s3:Abort*")

    def _acknowledge_object_grant(
        self, role: iam.IRole, *actions: str, resources: tuple[str, ...] = ("*",)
    ) -> None:
        stack = Stack.of(self)
        bucket_id = stack.resolve(stack.get_logical_id(self.bucket.node.default_child))  # type: ignore[arg-type]
        reason = "CDK's object grant, scoped to the async inference bucket"
        findings = (
            *(f"Action::{action}" for action in actions),
            *(f"Resource::<{bucket_id}.Arn>/{pattern}" for pattern in resources),
        )
        for finding in findings:
            acknowledge(role, f"AwsSolutions-IAM5[{finding}]", reason)

    def subscribe(self, function: SluiceFunction) -> None:
        function.function.add_event_source(
            SqsEventSource(self.queue, batch_size=10, report_batch_item_failures=True)
        )
