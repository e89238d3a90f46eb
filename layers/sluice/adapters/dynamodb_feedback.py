"""Feedback in DynamoDB: one item per (tenant, job), and counter items per route, variant, version.

The partition key starts with the tenant, so no read or write names another tenant's item. A
PutItem with ALL_OLD returns what a second submission replaced, from which the counters move by
the difference (an ADD update, atomic on its item).
"""

from __future__ import annotations

from typing import Any

from sluice.lifecycle.feedback import Feedback, FeedbackCounts


class DynamoFeedbackStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def put(self, feedback: Feedback) -> Feedback | None:
        item = {
            "pk": {"S": _key(feedback.tenant, feedback.job_id)},
            "body": {"S": feedback.model_dump_json()},
            "route": {"S": feedback.route},
            # Export reads labelled feedback only; the attribute exists only on labelled items.
            **({"labelled_route": {"S": feedback.route}} if feedback.labelled else {}),
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


def _key(tenant: str, job_id: str) -> str:
    return f"tenant#{tenant}#job#{job_id}"
