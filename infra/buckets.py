"""The platform's S3 buckets: customer-key encrypted, TLS only, no public access, no ACLs, with
server access logs in a bucket of their own. Functions, not constructs: each bucket keeps the
construct path (and so the logical id) of the construct that owns it."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.nag import acknowledge


def access_log_bucket(scope: Construct, *, retention_days: int, removal_policy: RemovalPolicy) -> s3.Bucket:
    """`AccessLogs` in `scope`. S3 delivers server access logs only to an SSE-S3 bucket, not
    SSE-KMS; delivery is granted by a bucket policy (cdk.json: serverAccessLogsUseBucketPolicy),
    so ACLs stay disabled (BucketOwnerEnforced), as AWS recommends."""
    bucket = s3.Bucket(
        scope,
        "AccessLogs",
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(retention_days))],
        removal_policy=removal_policy,
    )
    acknowledge(bucket, "AwsSolutions-S1", "This is the access-log bucket; logging it would recurse")
    return bucket


def data_bucket(
    scope: Construct,
    *,
    key: kms.IKey,
    access_logs: s3.IBucket,
    access_log_prefix: str,
    lifecycle_rules: Sequence[s3.LifecycleRule],
    removal_policy: RemovalPolicy,
    versioned: bool = False,
) -> s3.Bucket:
    """`Bucket` in `scope`, encrypted with the platform key (S3 Bucket Keys keep KMS calls few)."""
    return s3.Bucket(
        scope,
        "Bucket",
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=versioned,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=access_log_prefix,
        lifecycle_rules=list(lifecycle_rules),
        removal_policy=removal_policy,
    )
