"""S3 batch ingestion on moto: the uploads bucket, its notification to the ingest queue, batches.

The same shape as infra/uploads.py: versioned bucket, `incoming/` ObjectCreated events to an
SQS queue with a DLQ, and the batches table. Safe to repeat.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sluice.config import DeploymentConfig
from sluice_local.provision import PREFIX, LocalResources, _table, dead_lettered_queue, ensure_bucket

INCOMING_PREFIX = "incoming/"


def provision_uploads(
    config: DeploymentConfig, resources: LocalResources, *, s3: Any, sqs: Any, dynamodb: Any
) -> LocalResources:
    bucket = ensure_bucket(s3, f"{PREFIX}-uploads")
    # Versions make every upload its own batch, even under a key used before.
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    queue_url, queue_arn, dlq_url = dead_lettered_queue(
        sqs,
        f"{PREFIX}-ingest",
        visibility_timeout_seconds=config.ingest_visibility_timeout_seconds,
        max_receive_count=config.ingest.max_receive_count,
    )
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": INCOMING_PREFIX}]}},
                }
            ]
        },
    )
    return dataclasses.replace(
        resources,
        uploads_bucket=bucket,
        batches_table=_table(dynamodb, f"{PREFIX}-batches", ttl_attribute="expires_at"),
        ingest_queue_url=queue_url,
        ingest_queue_arn=queue_arn,
        ingest_dead_letter_queue_url=dlq_url,
    )


def include_version_ids_in_s3_events() -> None:
    """Make moto's S3 notifications name the object version, as S3's do for versioned buckets.

    moto leaves `versionId` out, so locally every upload of the same content under the same key
    would map to one batch (keyed by ETag) and be ingested once. Patches moto in this process,
    where the local platform runs its moto server; safe to call twice.
    """
    from moto.s3 import notifications

    original = notifications._get_s3_event
    if getattr(original, "sluice_version_ids", False):
        return

    def with_version_id(event_name: str, bucket: Any, key: Any, notification_id: str) -> Any:
        event = original(event_name, bucket, key, notification_id)
        version = getattr(key, "version_id", None)
        if version and version != "null":
            for record in event["Records"]:
                record["s3"]["object"]["versionId"] = version
        return event

    with_version_id.sluice_version_ids = True  # type: ignore[attr-defined]
    notifications._get_s3_event = with_version_id
