"""Circuit breaker records in DynamoDB: one item per endpoint, written with compare-and-set."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from sluice.adapters.dynamodb_conditions import is_condition_failure
from sluice.adapters.dynamodb_items import from_item, placeholders, to_item
from sluice.routing.breaker import BreakerRecord, CircuitState

# A breaker nobody touched for a day is closed: let DynamoDB forget it.
_TTL_SECONDS = 24 * 3600


class DynamoBreakerStore:
    """Table schema: partition key `id` (S, the endpoint name); TTL attribute `expires_at`."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def load(self, endpoint: str) -> BreakerRecord:
        item = self._client.get_item(
            TableName=self._table, Key=to_item({"id": endpoint}), ConsistentRead=True
        ).get("Item")
        if not item:
            return BreakerRecord()
        values = from_item(item)
        return BreakerRecord(
            state=CircuitState(values["state"]),
            failures=values["failures"],
            window_started_at=float(values["window_started_at"]),
            opened_at=float(values["opened_at"]),
            version=values["version"],
        )

    def save(self, endpoint: str, record: BreakerRecord, *, expected_version: int) -> bool:
        condition = "attribute_not_exists(id)" if expected_version == 0 else "version = :expected"
        values = placeholders(expected=expected_version) if expected_version else None
        request: dict[str, Any] = {
            "TableName": self._table,
            "Item": to_item(
                {
                    "id": endpoint,
                    "state": record.state,
                    "failures": record.failures,
                    "window_started_at": record.window_started_at,
                    "opened_at": record.opened_at,
                    "version": record.version,
                    "expires_at": int(time.time()) + _TTL_SECONDS,
                }
            ),
            "ConditionExpression": condition,
        }
        if values:
            request["ExpressionAttributeValues"] = values
        try:
            self._client.put_item(**request)
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True
