"""Feedback in DynamoDB, one table: feedback items per (tenant, inference), the inference log the
API writes on feedback routes, counter items per route, variant and version, an export mark per route.

Partition keys of feedback and log items start with the tenant, so no read or write of either
names another tenant's item. A PutItem with ALL_OLD returns what a second submission replaced,
from which the counters move by the difference (an ADD update, atomic on its item). Log items
expire with the job records (`expires_at`, the table's TTL attribute); feedback is kept, it is
training data. The `ByRoute` index (route, created_at) serves the export and the monitor's windows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sluice.adapters.feedback_table import BY_ROUTE_INDEX, TTL_ATTRIBUTE
from sluice.lifecycle.feedback import Feedback, FeedbackCounts, ServedInference


class DynamoFeedbackStore:
    def __init__(self, client: Any, table_name: str, *, log_ttl: timedelta = timedelta(days=30)) -> None:
        self._client = client
        self._table = table_name
        self._log_ttl = log_ttl

    def put(self, feedback: Feedback) -> Feedback | None:
        item = {
            "pk": {"S": _key(feedback.tenant, feedback.job_id)},
            "body": {"S": feedback.model_dump_json()},
            "feedback_route": {"S": feedback.route},
            "created_at": {"S": feedback.created_at.isoformat()},
        }
        response = self._client.put_item(TableName=self._table, Item=item, ReturnValues="ALL_OLD")
        old = response.get("Attributes")
        return Feedback.model_validate_json(old["body"]["S"]) if old else None

    def get(self, tenant: str, job_id: str) -> Feedback | None:
        response = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": _key(tenant, job_id)}}, ConsistentRead=True
        )
        item = response.get("Item")
        return Feedback.model_validate_json(item["body"]["S"]) if item else None

    def record(self, served: ServedInference) -> None:
        expires = int((served.created_at + self._log_ttl).timestamp())
        self._client.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": _served_key(served.tenant, served.job_id)},
                "body": {"S": served.model_dump_json()},
                TTL_ATTRIBUTE: {"N": str(expires)},
            },
        )

    def served(self, tenant: str, job_id: str) -> ServedInference | None:
        response = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": _served_key(tenant, job_id)}}, ConsistentRead=True
        )
        item = response.get("Item")
        return ServedInference.model_validate_json(item["body"]["S"]) if item else None

    def count(self, key: tuple[str, str, str], delta: FeedbackCounts) -> None:
        route, variant, version = key
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": f"counts#{route}#{variant}#{version}"}},
            UpdateExpression="ADD feedback :f, labelled :l, correct :c",
            ExpressionAttributeValues={
                ":f": {"N": str(delta.feedback)},
                ":l": {"N": str(delta.labelled)},
                ":c": {"N": str(delta.correct)},
            },
        )

    def counts(self, route: str, variant: str, version: str) -> FeedbackCounts:
        response = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"counts#{route}#{variant}#{version}"}},
            ConsistentRead=True,
        )
        item = response.get("Item", {})
        return FeedbackCounts(
            **{name: int(item[name]["N"]) for name in ("feedback", "labelled", "correct") if name in item}
        )

    def feedback_between(self, route: str, start: datetime | None, end: datetime) -> Iterator[Feedback]:
        """Every tenant's feedback on `route` stored in [start, end), oldest first (the index)."""
        condition = "feedback_route = :route AND created_at < :end"
        values: dict[str, Any] = {":route": {"S": route}, ":end": {"S": end.isoformat()}}
        if start is not None:
            condition = "feedback_route = :route AND created_at BETWEEN :start AND :end"
            values[":start"] = {"S": start.isoformat()}
        paginator = self._client.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table,
            IndexName=BY_ROUTE_INDEX,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
        ):
            for item in page.get("Items", []):
                feedback = Feedback.model_validate_json(item["body"]["S"])
                # BETWEEN is inclusive at both ends; windows are half-open.
                if feedback.created_at < end:
                    yield feedback

    def served_on_route(self, route: str) -> Iterator[ServedInference]:
        """Every tenant's logged inferences of `route` still within their TTL (a Scan of the log's
        items: for reports, never on a request path)."""
        paginator = self._client.get_paginator("scan")
        for page in paginator.paginate(
            TableName=self._table,
            FilterExpression="begins_with(pk, :served)",
            ExpressionAttributeValues={":served": {"S": "served#"}},
        ):
            for item in page.get("Items", []):
                served = ServedInference.model_validate_json(item["body"]["S"])
                if served.route == route:
                    yield served

    def export_mark(self, route: str) -> tuple[datetime | None, int]:
        """When the last export that started a retraining ran, and how many labelled rows it had."""
        response = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": f"export#{route}"}}, ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return None, 0
        return datetime.fromisoformat(item["exported_at"]["S"]), int(item["labelled"]["N"])

    def set_export_mark(self, route: str, exported_at: datetime, labelled: int) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": f"export#{route}"},
                "exported_at": {"S": exported_at.isoformat()},
                "labelled": {"N": str(labelled)},
            },
        )


def _key(tenant: str, job_id: str) -> str:
    return f"tenant#{tenant}#job#{job_id}"


def _served_key(tenant: str, job_id: str) -> str:
    return f"served#tenant#{tenant}#job#{job_id}"
