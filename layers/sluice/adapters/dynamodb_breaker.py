"""Circuit breaker records in DynamoDB: one item per endpoint, written with compare-and-set."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

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
            TableName=self._table, Key={"id": {"S": endpoint}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return BreakerRecord()
        return BreakerRecord(
            state=CircuitState(item["state"]["S"]),
            failures=int(item["failures"]["N"]),
            window_started_at=float(item["window_started_at"]["N"]),
            opened_at=float(item["opened_at"]["N"]),
            version=int(item["version"]["N"]),
        )

    def save(self, endpoint: str, record: BreakerRecord, *, expected_version: int) -> bool:
        condition = "attribute_not_exists(id)" if expected_version == 0 else "version = :expected"
        values = {":expected": {"N": str(expected_version)}} if expected_version else None
        request: dict[str, Any] = {
            "TableName": self._table,
            "Item": {
                "id": {"S": endpoint},
                "state": {"S": record.state},
                "failures": {"N": str(record.failures)},
                "window_started_at": {"N": repr(record.window_started_at)},
                "opened_at": {"N": repr(record.opened_at)},
                "version": {"N": str(record.version)},
                "expires_at": {"N": str(int(time.time()) + _TTL_SECONDS)},
            },
            "ConditionExpression": condition,
        }
        if values:
            request["ExpressionAttributeValues"] = values
        try:
            self._client.put_item(**request)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True
