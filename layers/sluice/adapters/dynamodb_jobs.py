"""Job records in DynamoDB, with conditional writes that make every transition happen once."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from sluice.adapters.dynamodb_conditions import is_cancelled_by_condition, is_condition_failure
from sluice.adapters.dynamodb_items import from_item, placeholders, to_attribute, to_item
from sluice.guardrails.models import GuardrailReport
from sluice.jobs.models import ErrorDetail, Job, JobStatus, Submitted, utc_now
from sluice.jobs.ports import Claim, ClaimOutcome
from sluice.routing.table import Served

_KEYS_PER_BATCH_GET = 100  # BatchGetItem's limit
_ITEMS_PER_TRANSACTION = 100  # TransactWriteItems' limit
_ABSENT = "attribute_not_exists(id)"
# Sparse: only jobs running on an asynchronous endpoint carry `async_route` (its partition key).
ASYNC_PENDING_INDEX = "AsyncPending"


class DynamoJobStore:
    """Table schema: partition key `id` (S); TTL attribute `expires_at` (epoch seconds).

    `output` is stored as a JSON string: it is opaque to the platform and DynamoDB numbers
    would turn model scores into Decimals.
    """

    def __init__(self, client: Any, table_name: str, *, ttl: timedelta = timedelta(days=30)) -> None:
        self._client = client
        self._table = table_name
        self._ttl = ttl

    def create(self, job: Job) -> None:
        self._client.put_item(TableName=self._table, Item=self._new_item(job), ConditionExpression=_ABSENT)

    def create_all_if_absent(self, jobs: Sequence[Job]) -> int:
        """Create the jobs whose ids are new; returns how many were created.

        One transaction per 100 jobs in the common case, a new file; a conditional PutItem each
        would bound ingestion at a few hundred records a second. When one of them exists (an
        interrupted run read these lines before), the transaction is cancelled as a whole and
        each job is created alone.
        """
        created = 0
        for start in range(0, len(jobs), _ITEMS_PER_TRANSACTION):
            group = jobs[start : start + _ITEMS_PER_TRANSACTION]
            puts = [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": self._new_item(job),
                        "ConditionExpression": _ABSENT,
                    }
                }
                for job in group
            ]
            try:
                self._client.transact_write_items(TransactItems=puts)
            except ClientError as error:
                if not is_cancelled_by_condition(error):
                    raise
                created += sum(self.create_if_absent(job) for job in group)
            else:
                created += len(group)
        return created

    def _new_item(self, job: Job) -> dict[str, Any]:
        item = _to_item(job)
        item["expires_at"] = to_attribute(int((job.created_at + self._ttl).timestamp()))
        return item

    def create_if_absent(self, job: Job) -> bool:
        """Create the job unless a job with its id exists; False means it was already queued."""
        try:
            self.create(job)
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            return False
        return True

    def get(self, job_id: str) -> Job | None:
        response = self._client.get_item(TableName=self._table, Key=_key(job_id), ConsistentRead=True)
        item = response.get("Item")
        return _from_item(item) if item else None

    def get_many(self, job_ids: Sequence[str]) -> list[Job]:
        """The jobs that exist among `job_ids`, in no particular order: one BatchGetItem per 100."""
        jobs: list[Job] = []
        unique = list(dict.fromkeys(job_ids))
        for start in range(0, len(unique), _KEYS_PER_BATCH_GET):
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [_key(i) for i in unique[start : start + _KEYS_PER_BATCH_GET]],
                    "ConsistentRead": True,
                }
            }
            for attempt in itertools.count():
                response = self._client.batch_get_item(RequestItems=request)
                jobs.extend(_from_item(item) for item in response.get("Responses", {}).get(self._table, []))
                # Keys DynamoDB did not get to (throttled, or over 16 MB) are not an error, so
                # botocore does not retry them: ask again, backing off as AWS advises.
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2**attempt, 1.0))
        return jobs

    def finished_on_route(self, route: str) -> Iterator[Job]:
        """Every succeeded or failed job of `route` (a Scan: for reports, never on a request path)."""
        paginator = self._client.get_paginator("scan")
        for page in paginator.paginate(
            TableName=self._table,
            FilterExpression="#route = :route AND #status IN (:succeeded, :failed)",
            ExpressionAttributeNames={"#route": "route", "#status": "status"},
            ExpressionAttributeValues={
                ":route": {"S": route},
                ":succeeded": {"S": JobStatus.SUCCEEDED.value},
                ":failed": {"S": JobStatus.FAILED.value},
            },
        ):
            yield from (_from_item(item) for item in page.get("Items", []))

    def claim(self, job_id: str, *, lease_seconds: int, now: datetime) -> Claim:
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_key(job_id),
                UpdateExpression=(
                    "SET #status = :running, lease_expires_at = :lease, updated_at = :now ADD attempts :one"
                ),
                ConditionExpression=(
                    "attribute_exists(id) AND (#status = :queued OR "
                    "(#status = :running AND lease_expires_at < :epoch))"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=placeholders(
                    running=JobStatus.RUNNING,
                    queued=JobStatus.QUEUED,
                    lease=int(now.timestamp()) + lease_seconds,
                    epoch=int(now.timestamp()),
                    now=now.isoformat(),
                    one=1,
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            current = self._stored_after_refusal(error, job_id)
            if current is None:
                return Claim(ClaimOutcome.MISSING, None)
            outcome = ClaimOutcome.FINAL if current.status.is_final else ClaimOutcome.BUSY
            return Claim(outcome, current)
        return Claim(ClaimOutcome.CLAIMED, _from_item(response["Attributes"]))

    def succeed(
        self,
        job_id: str,
        *,
        served: Served,
        output: dict[str, Any],
        announcement: str | None = None,
        guardrails: GuardrailReport | None = None,
    ) -> Job:
        extra = {
            "output": json.dumps(output, separators=(",", ":")),
            "announcement": announcement,
            "guardrails": guardrails.model_dump_json() if guardrails is not None else None,
        }
        return self._finish(
            job_id, JobStatus.SUCCEEDED, served=served, extra=extra, allowed_from=(JobStatus.RUNNING,)
        )

    def fail(
        self,
        job_id: str,
        *,
        error: ErrorDetail,
        served: Served | None = None,
        announcement: str | None = None,
    ) -> Job:
        return self._finish(
            job_id,
            JobStatus.FAILED,
            served=served,
            extra={"error_code": error.code, "error_message": error.message, "announcement": announcement},
            # A job that could not be enqueued fails straight from `queued`.
            allowed_from=(JobStatus.QUEUED, JobStatus.RUNNING),
        )

    def release(self, job_id: str) -> None:
        """Hand a running job back to the queue after a retryable failure."""
        self._update_while_running(
            job_id,
            "SET #status = :queued, updated_at = :now REMOVE lease_expires_at",
            placeholders(queued=JobStatus.QUEUED),
        )

    def hand_over(self, job_id: str, *, served: Served, submitted: Submitted, now: datetime) -> None:
        """Keep the job running without a lease: its redelivery must not start a second inference.
        `async_route` puts it in the sparse index the sweeper reads until it is final."""
        self._update_while_running(
            job_id,
            "SET endpoint = :endpoint, variant = :variant, updated_at = :now, async_route = :route, "
            "async_input = :input, async_output = :output, handed_over_at = :handed "
            "REMOVE lease_expires_at",
            placeholders(
                endpoint=served.endpoint,
                variant=served.variant,
                route=served.route,
                input=submitted.input_location,
                output=submitted.output_location,
                handed=int(now.timestamp()),
            ),
        )

    def handed_over_before(self, route: str, before: datetime) -> list[Job]:
        jobs: list[Job] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": ASYNC_PENDING_INDEX,
            "KeyConditionExpression": "async_route = :route AND handed_over_at < :before",
            "ExpressionAttributeValues": placeholders(route=route, before=int(before.timestamp())),
        }
        while True:
            page = self._client.query(**request)
            jobs += [_from_item(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return jobs
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _update_while_running(self, job_id: str, update_expression: str, values: dict[str, Any]) -> None:
        """Apply the update if the job is still running; one that has moved on is left as it is."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(job_id),
                UpdateExpression=update_expression,
                ConditionExpression="#status = :running",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    **values,
                    **placeholders(running=JobStatus.RUNNING, now=utc_now().isoformat()),
                },
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise

    def _stored_after_refusal(self, error: ClientError, job_id: str) -> Job | None:
        """The job as stored, after DynamoDB refused a conditional write to it; any other failure
        is raised again."""
        if not is_condition_failure(error):
            raise error
        return self.get(job_id)

    def mark_announced(self, announcement: str) -> None:
        """A marker record beside the jobs; its key cannot be a job id (those are 32 hex digits)."""
        expires_at = int((utc_now() + self._ttl).timestamp())
        self._client.put_item(
            TableName=self._table,
            Item=to_item({"id": _announcement_key(announcement), "expires_at": expires_at}),
        )

    def is_announced(self, announcement: str) -> bool:
        response = self._client.get_item(
            TableName=self._table, Key=_key(_announcement_key(announcement)), ConsistentRead=True
        )
        return "Item" in response

    def mark_event_published(self, job_id: str) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=_key(job_id),
            UpdateExpression="SET event_published = :true",
            ExpressionAttributeValues=placeholders(true=True),
        )

    def _finish(
        self,
        job_id: str,
        status: JobStatus,
        *,
        served: Served | None,
        extra: dict[str, Any],
        allowed_from: tuple[JobStatus, ...],
    ) -> Job:
        allowed = placeholders(**{f"from{index}": value for index, value in enumerate(allowed_from)})
        served_fields = served.model_dump(exclude={"route"}, exclude_none=True) if served else {}
        attributes = to_item(
            {**extra, "status": status, "updated_at": utc_now().isoformat(), **served_fields}
        )
        # Every name goes through a placeholder: several (status, output, ...) are reserved words.
        names = {f"#{name}": name for name in attributes}
        values = {**allowed, **{f":{name}": value for name, value in attributes.items()}}
        assignments = [f"#{name} = :{name}" for name in attributes]
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_key(job_id),
                # Final: out of the sweeper's index too.
                UpdateExpression="SET " + ", ".join(assignments) + " REMOVE lease_expires_at, async_route",
                # A final state is written once; a late or duplicate writer gets the stored one.
                ConditionExpression=f"#status IN ({', '.join(allowed)})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            current = self._stored_after_refusal(error, job_id)
            if current is None:
                raise
            return current
        return _from_item(response["Attributes"])


def _announcement_key(announcement: str) -> str:
    return f"announcement#{announcement}"


def _key(job_id: str) -> dict[str, Any]:
    return to_item({"id": job_id})


# Stored beside a job's fields, not part of the record the platform sees.
_BOOKKEEPING = (
    "expires_at",
    "lease_expires_at",
    "error_code",
    "error_message",
    "output",
    "async_route",
    "guardrails",
)


def _to_item(job: Job) -> dict[str, Any]:
    return to_item(
        {
            "id": job.id,
            "tenant": job.tenant,
            "route": job.route,
            "status": job.status,
            "created_at": job.created_at.isoformat(),
            "updated_at": job.updated_at.isoformat(),
            "attempts": job.attempts,
            "event_published": job.event_published,
            "correlation_id": job.correlation_id,
            "endpoint": job.endpoint,
            "variant": job.variant,
            "model_version": job.model_version,
            "batch_id": job.batch_id,
            "record_id": job.record_id,
            "line": job.line,
            "output": json.dumps(job.output, separators=(",", ":")) if job.output is not None else None,
            "guardrails": job.guardrails.model_dump_json() if job.guardrails is not None else None,
            "error_code": job.error.code if job.error else None,
            "error_message": job.error.message if job.error else None,
        }
    )


def _from_item(item: dict[str, Any]) -> Job:
    values = from_item(item)
    output, error_code = values.get("output"), values.get("error_code")
    guardrails = values.get("guardrails")
    return Job.model_validate(
        {
            **{name: value for name, value in values.items() if name not in _BOOKKEEPING},
            "output": json.loads(output) if output else None,
            "guardrails": json.loads(guardrails) if guardrails else None,
            "error": {"code": error_code, "message": values.get("error_message") or ""}
            if error_code
            else None,
        }
    )
