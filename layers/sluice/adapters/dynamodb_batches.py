"""Batch records in DynamoDB: the ingestion checkpoint and the exactly-once outcome counters."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from sluice.adapters.dynamodb_conditions import is_cancelled_by_condition, is_condition_failure
from sluice.adapters.dynamodb_items import from_item, placeholders, to_attribute, to_item
from sluice.jobs.models import JobStatus
from sluice.uploads.model import Batch, BatchStatus, Rejection
from sluice.uploads.ports import CheckpointConflict

_JOBS_PER_TRANSACTION = 99  # TransactWriteItems takes 100 actions; one is the batch's counter


class DynamoBatchStore:
    """Table schema: partition key `id` (S); TTL attribute `expires_at` (epoch seconds).

    Counting a job's outcome is one transaction over the job record (flag `batch_recorded`,
    set once) and the batch record (ADD to a counter), so a redelivered job never counts twice
    and a crash never leaves a job flagged but uncounted.
    """

    def __init__(
        self, client: Any, table_name: str, *, jobs_table: str, ttl: timedelta = timedelta(days=30)
    ) -> None:
        self._client = client
        self._table = table_name
        self._jobs_table = jobs_table
        self._ttl = ttl

    def start(self, batch: Batch) -> Batch:
        item = {**_reading_side(batch), **_identity(batch)}
        item["expires_at"] = to_attribute(int((batch.created_at + self._ttl).timestamp()))
        try:
            self._client.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(id)"
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            stored = self.get(batch.id)
            if stored is None:
                raise
            return stored
        return batch

    def get(self, batch_id: str) -> Batch | None:
        response = self._client.get_item(TableName=self._table, Key=_key(batch_id), ConsistentRead=True)
        item = response.get("Item")
        return _from_item(item) if item else None

    def checkpoint(self, batch: Batch, *, previous_line: int) -> None:
        attributes = _reading_side(batch)
        names = {f"#{name}": name for name in attributes}
        values = {f":{name}": value for name, value in attributes.items()}
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(batch.id),
                UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in attributes),
                ConditionExpression="#line = :previous AND #current = :reading",
                ExpressionAttributeNames={**names, "#current": "status"},
                ExpressionAttributeValues={
                    **values,
                    **placeholders(previous=previous_line, reading=BatchStatus.READING),
                },
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise CheckpointConflict(batch.id) from None
            raise

    def record_outcomes(self, batch_id: str, outcomes: Sequence[tuple[str, JobStatus]]) -> int:
        """Count final jobs of one batch once each; returns how many were new.

        One transaction for the whole group, the common case (a group is one SQS batch, at most
        10 jobs; 99 fit a transaction next to the counter). When a job of it was counted before
        (a redelivery), the transaction is cancelled as a whole and each job is counted alone.
        """
        counted = 0
        for start in range(0, len(outcomes), _JOBS_PER_TRANSACTION):
            group = outcomes[start : start + _JOBS_PER_TRANSACTION]
            if len(group) > 1 and self._count(batch_id, group):
                counted += len(group)
            else:
                counted += sum(self._count(batch_id, [outcome]) for outcome in group)
        return counted

    def _count(self, batch_id: str, outcomes: Sequence[tuple[str, JobStatus]]) -> bool:
        """Flag every job and add them to the batch's counters, all or nothing (False: a job
        was already flagged)."""
        succeeded = sum(status is JobStatus.SUCCEEDED for _, status in outcomes)
        additions = {"succeeded": succeeded, "failed": len(outcomes) - succeeded}
        counters = placeholders(**{name: count for name, count in additions.items() if count})
        flags = [
            {
                "Update": {
                    "TableName": self._jobs_table,
                    "Key": _key(job_id),
                    "UpdateExpression": "SET batch_recorded = :true",
                    "ConditionExpression": "attribute_exists(id) AND attribute_not_exists(batch_recorded)",
                    "ExpressionAttributeValues": placeholders(true=True),
                }
            }
            for job_id, _ in outcomes
        ]
        counter = {
            "Update": {
                "TableName": self._table,
                "Key": _key(batch_id),
                "UpdateExpression": "ADD " + ", ".join(f"{name[1:]} {name}" for name in counters),
                "ExpressionAttributeValues": counters,
            }
        }
        try:
            self._client.transact_write_items(TransactItems=[*flags, counter])
        except ClientError as error:
            if is_cancelled_by_condition(error):
                return False
            raise
        return True

    def claim_completion(self, batch_id: str) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(batch_id),
                UpdateExpression="SET #status = :completed, updated_at = :now",
                ConditionExpression="#status = :read",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=placeholders(
                    completed=BatchStatus.COMPLETED, read=BatchStatus.READ, now=datetime.now(UTC).isoformat()
                ),
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def mark_event_published(self, batch_id: str, *, now: datetime) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=_key(batch_id),
            UpdateExpression="SET event_published = :true, updated_at = :now",
            ExpressionAttributeValues=placeholders(true=True, now=now.isoformat()),
        )


def _key(item_id: str) -> dict[str, Any]:
    return to_item({"id": item_id})


def _identity(batch: Batch) -> dict[str, Any]:
    """What never changes after the batch starts (the outcome counters start at 0)."""
    return to_item(
        {
            "id": batch.id,
            "bucket": batch.bucket,
            "object_key": batch.key,
            "version": batch.version,
            "tenant": batch.tenant,
            "succeeded": 0,
            "failed": 0,
            "event_published": False,
            "created_at": batch.created_at.isoformat(),
            "version_id": batch.version_id or None,
            "route": batch.route or None,
        }
    )


def _reading_side(batch: Batch) -> dict[str, Any]:
    """What ingestion owns: written at start and at every checkpoint."""
    return to_item(
        {
            "status": batch.status,
            "received": batch.received,
            "rejected": batch.rejected,
            "queued": batch.queued,
            "line": batch.line,
            "byte_offset": batch.offset,
            "rejections": json.dumps([[r.line, r.code] for r in batch.rejections], separators=(",", ":")),
            "rejected_by_code": json.dumps(batch.rejected_by_code, separators=(",", ":")),
            "updated_at": batch.updated_at.isoformat(),
            "compressed": batch.compressed,
            "columns": json.dumps(batch.columns) if batch.columns is not None else None,
            "error_code": batch.error.code if batch.error else None,
            "error_message": batch.error.message if batch.error else None,
            "limit_resets_at": batch.limit_resets_at.isoformat() if batch.limit_resets_at else None,
        }
    )


def _from_item(item: dict[str, Any]) -> Batch:
    values = from_item(item)
    error_code, columns = values.get("error_code"), values.get("columns")
    return Batch.model_validate(
        {
            **{name: value for name, value in values.items() if name in Batch.model_fields},
            "key": values["object_key"],
            "offset": values.get("byte_offset", 0),
            "columns": tuple(json.loads(columns)) if columns else None,
            "rejections": [
                Rejection(line=line, code=code) for line, code in json.loads(values.get("rejections") or "[]")
            ],
            "rejected_by_code": json.loads(values.get("rejected_by_code") or "{}"),
            "error": {"code": error_code, "message": values.get("error_message") or ""}
            if error_code
            else None,
        }
    )
