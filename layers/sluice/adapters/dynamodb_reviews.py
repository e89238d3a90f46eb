"""Review items in DynamoDB (KMS): written once per inference, resolved once, listed by state.

The item's body is its JSON (review models hold floats and nested redacted material, which
DynamoDB numbers and maps would turn into Decimals); the key and index attributes sit beside it.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from botocore.exceptions import ClientError

from sluice.adapters.dynamodb_conditions import is_condition_failure
from sluice.adapters.review_table import (
    BY_STATE_INDEX,
    BY_STATE_ROUTE_INDEX,
    CREATED_ATTRIBUTE,
    PARTITION_KEY,
    STATE_ATTRIBUTE,
    STATE_ROUTE_ATTRIBUTE,
)
from sluice.errors import InvalidRequest
from sluice.review.models import Resolution, ReviewItem, ReviewState


class DynamoReviewStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def put_if_absent(self, item: ReviewItem) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=_item(item),
                ConditionExpression="attribute_not_exists(#id)",
                ExpressionAttributeNames={"#id": PARTITION_KEY},
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def get(self, review_id: str) -> ReviewItem | None:
        response = self._client.get_item(
            TableName=self._table, Key={PARTITION_KEY: {"S": review_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return ReviewItem.model_validate_json(item["body"]["S"]) if item else None

    def list(
        self, *, state: ReviewState, route: str | None, limit: int, after: str | None
    ) -> tuple[list[ReviewItem], str | None]:
        index, partition, value = (
            (BY_STATE_ROUTE_INDEX, STATE_ROUTE_ATTRIBUTE, f"{state.value}#{route}")
            if route is not None
            else (BY_STATE_INDEX, STATE_ATTRIBUTE, state.value)
        )
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#partition = :value",
            "ExpressionAttributeNames": {"#partition": partition},
            "ExpressionAttributeValues": {":value": {"S": value}},
            "Limit": limit,
            "ScanIndexForward": True,
        }
        if after is not None:
            request["ExclusiveStartKey"] = _decode(after)
        response = self._client.query(**request)
        items = [ReviewItem.model_validate_json(row["body"]["S"]) for row in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return items, _encode(last) if last else None

    def resolve(self, review_id: str, resolution: Resolution) -> ReviewItem | None:
        current = self.get(review_id)
        if current is None or current.state is not ReviewState.OPEN:
            return None
        resolved = current.model_copy(update={"state": ReviewState.RESOLVED, "resolution": resolution})
        try:
            self._client.update_item(
                TableName=self._table,
                Key={PARTITION_KEY: {"S": review_id}},
                UpdateExpression="SET body = :body, #state = :resolved, #state_route = :state_route",
                # Resolved once: whoever comes second finds it resolved and is told so.
                ConditionExpression="#state = :open",
                ExpressionAttributeNames={"#state": STATE_ATTRIBUTE, "#state_route": STATE_ROUTE_ATTRIBUTE},
                ExpressionAttributeValues={
                    ":body": {"S": resolved.model_dump_json()},
                    ":resolved": {"S": ReviewState.RESOLVED.value},
                    ":open": {"S": ReviewState.OPEN.value},
                    ":state_route": {"S": f"{ReviewState.RESOLVED.value}#{current.route}"},
                },
            )
        except ClientError as error:
            if is_condition_failure(error):
                return None
            raise
        return resolved


def _item(item: ReviewItem) -> dict[str, Any]:
    return {
        PARTITION_KEY: {"S": item.review_id},
        STATE_ATTRIBUTE: {"S": item.state.value},
        STATE_ROUTE_ATTRIBUTE: {"S": f"{item.state.value}#{item.route}"},
        CREATED_ATTRIBUTE: {"S": item.created_at.isoformat()},
        "body": {"S": item.model_dump_json()},
    }


def _encode(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(token: str) -> dict[str, Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidRequest("next: not a page token this API issued") from None
    if not isinstance(key, dict) or PARTITION_KEY not in key:
        raise InvalidRequest("next: not a page token this API issued")
    return key
