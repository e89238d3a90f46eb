"""S3 batch ingestion: the uploads bucket, its event queue, the batches table, the ingest function.

Uploads land in `incoming/<route>/`; ObjectCreated events go to an SQS queue (not straight to
Lambda) so bursts are buffered, failures retried and the leftovers kept in a DLQ with an alarm.
Reports and results are written back to the same bucket under `reports/` and `results/`.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk.aws_lambda_event_sources import SqsEventSource
from constructs import Construct

from infra.buckets import access_log_bucket, data_bucket
from infra.functions import SluiceFunction
from infra.nag import acknowledge
from infra.queues import DeadLetteredQueue
from infra.state import encrypted_table
from sluice.config import DeploymentConfig

INCOMING = "incoming/"
# The singleton custom resource CDK adds for bucket notifications (its id is fixed by CDK).
_NOTIFICATIONS_HANDLER = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"
OUTPUT_PREFIXES = ("results/", "reports/")


@jsii.implements(s3.IBucketNotificationDestination)
class ConditionedQueueDestination:
    """S3 notifications into a KMS-encrypted queue, with s3.amazonaws.com held to this bucket.

    CDK's `SqsDestination` adds a second key-policy statement for s3.amazonaws.com with no
    condition, which lets S3 use the key on behalf of any bucket of any account (confused deputy;
    https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html). Here the one grant,
    on the queue policy and the key alike, names the bucket and the account.
    """

    def __init__(self, queue: sqs.IQueue, *, bucket: s3.IBucket) -> None:
        self._queue = queue
        self._bucket = bucket

    def bind(self, _scope: Construct, _bucket: Any) -> s3.BucketNotificationDestinationConfig:
        s3_principal = iam.ServicePrincipal(
            "s3.amazonaws.com",
            conditions={
                "ArnLike": {"aws:SourceArn": self._bucket.bucket_arn},
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            },
        )
        # SendMessage on the queue policy and GenerateDataKey*/Decrypt on the queue's key.
        self._queue.grant_send_messages(s3_principal)
        return s3.BucketNotificationDestinationConfig(
            arn=self._queue.queue_arn,
            type=s3.BucketNotificationDestinationType.QUEUE,
            dependencies=[self._queue],
        )


class Uploads(Construct):
    """The bucket teams drop files into, with its access logs, lifecycle and event queue."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        key: kms.IKey,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        ingest = config.ingest
        self.access_logs = access_log_bucket(
            self, retention_days=ingest.access_log_retention_days, removal_policy=removal_policy
        )
        self.bucket = data_bucket(
            self,
            key=key,
            access_logs=self.access_logs,
            access_log_prefix="uploads/",
            # Versions make every upload its own batch, even under a reused key.
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="incoming",
                    prefix=INCOMING,
                    expiration=Duration.days(ingest.incoming_retention_days),
                    noncurrent_version_expiration=Duration.days(1),
                ),
                *(
                    s3.LifecycleRule(
                        id=prefix.rstrip("/"),
                        prefix=prefix,
                        expiration=Duration.days(ingest.results_retention_days),
                        noncurrent_version_expiration=Duration.days(1),
                    )
                    for prefix in OUTPUT_PREFIXES
                ),
                s3.LifecycleRule(id="multipart", abort_incomplete_multipart_upload_after=Duration.days(1)),
            ],
            removal_policy=removal_policy,
        )
        # The event queue has a key of its own: S3 needs a grant on it whose condition names the
        # bucket, and the bucket is encrypted with the platform key, which would make a cycle.
        queue_key = kms.Key(
            self,
            "IngestQueueKey",
            description="Sluice: encrypts the ingest queue (S3 event notifications)",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        ingest_queue = DeadLetteredQueue(
            self,
            "Ingest",
            key=queue_key,
            visibility_timeout_seconds=config.ingest_visibility_timeout_seconds,
            max_receive_count=ingest.max_receive_count,
            alarm_description="Uploaded files whose ingestion failed repeatedly (ingest DLQ)",
        )
        self.queue, self.dead_letters = ingest_queue.queue, ingest_queue.dead_letters
        self.dead_letter_alarm = ingest_queue.dead_letter_alarm
        self.bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            ConditionedQueueDestination(self.queue, bucket=self.bucket),
            s3.NotificationKeyFilter(prefix=INCOMING),
        )
        handler = Stack.of(self).node.try_find_child(_NOTIFICATIONS_HANDLER)
        if handler is not None:
            acknowledge(
                handler,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                "CDK's bucket-notifications custom resource; it only writes its own logs",
            )
        self.batches = encrypted_table(
            self, "Batches", key=key, removal_policy=removal_policy, ttl_attribute="expires_at"
        )

    def subscribe(self, function: SluiceFunction) -> None:
        # One file per invocation: a file can use the whole timeout, and continues by re-queueing.
        function.function.add_event_source(
            SqsEventSource(self.queue, batch_size=1, report_batch_item_failures=True, max_concurrency=10)
        )

    def grant_ingest(self, function: SluiceFunction) -> None:
        self.bucket.grant_read(function.role, f"{INCOMING}*")
        self._grant_delete_incoming(function)
        self.bucket.grant_put(function.role, "reports/*")
        self.queue.grant_send_messages(function.role)  # continuations of long files
        self.batches.grant_read_write_data(function.role)
        for action in ("s3:GetBucket*", "s3:GetObject*", "s3:List*"):
            acknowledge(
                function.role,
                f"AwsSolutions-IAM5[Action::{action}]",
                "CDK's read grant on the uploads bucket, scoped to incoming/*",
            )
        self._acknowledge_prefixes(function, ("incoming/*", "reports/*"))

    def grant_outputs(self, function: SluiceFunction) -> None:
        """Results and reports: the worker writes them as batch jobs finish."""
        for prefix in OUTPUT_PREFIXES:
            self.bucket.grant_put(function.role, f"{prefix}*")
        self._acknowledge_prefixes(function, tuple(f"{prefix}*" for prefix in OUTPUT_PREFIXES))
        self._grant_delete_incoming(function)

    def _grant_delete_incoming(self, function: SluiceFunction) -> None:
        """Whoever completes a batch deletes its raw upload (that version: DeleteObjectVersion)."""
        function.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:DeleteObject", "s3:DeleteObjectVersion"],
                resources=[self.bucket.arn_for_objects(f"{INCOMING}*")],
            )
        )
        self._acknowledge_prefixes(function, (f"{INCOMING}*",))

    def _acknowledge_prefixes(self, function: SluiceFunction, patterns: tuple[str, ...]) -> None:
        bucket_id = Stack.of(self).resolve(self.bucket.bucket_arn)["Fn::GetAtt"][0]
        acknowledge(
            function.role,
            "AwsSolutions-IAM5[Action::s3:Abort*]",
            "CDK's put grant: lets the function abort its own multipart uploads of reports and results",
        )
        for pattern in patterns:
            acknowledge(
                function.role,
                f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{pattern}]",
                "Objects are named per batch at run time; the grant is scoped to one prefix",
            )
