"""Metering counters in DynamoDB: atomic ADDs on one item per counter key (the cost table)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

_TTL_SECONDS = 400 * 24 * 3600
# A job is finished well within a month (SageMaker keeps an async request 6 hours at most).
_ONCE_TTL_SECONDS = 31 * 24 * 3600


class DynamoUsageCounters:
    """Table schema: partition key `id` (S); TTL attribute `expires_at`. Shared with the ledger."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def add(self, key: str, amounts: Mapping[str, int], *, labels: Mapping[str, str]) -> None:
        names: dict[str, str] = {}
        values: dict[str, Any] = {":expires": {"N": str(int(time.time()) + _TTL_SECONDS)}}
        adds, sets = [], ["expires_at = if_not_exists(expires_at, :expires)"]
        for index, (name, amount) in enumerate(amounts.items()):
            if amount:
                names[f"#a{index}"] = name
                values[f":a{index}"] = {"N": str(amount)}
                adds.append(f"#a{index} :a{index}")
        for index, (name, label) in enumerate(labels.items()):
            names[f"#l{index}"] = name
            values[f":l{index}"] = {"S": label}
            sets.append(f"#l{index} = :l{index}")
        expression = f"SET {', '.join(sets)}" + (f" ADD {', '.join(adds)}" if adds else "")
        self._client.update_item(
            TableName=self._table,
            Key={"id": {"S": key}},
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def first_time(self, key: str) -> bool:
        # A conditional put: of any number of concurrent callers, exactly one creates the item.
        try:
            self._client.put_item(
                TableName=self._table,
                Item={"id": {"S": key}, "expires_at": {"N": str(int(time.time()) + _ONCE_TTL_SECONDS)}},
                ConditionExpression="attribute_not_exists(id)",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def scan_prefix(self, prefix: str) -> list[dict[str, Any]]:
        """Every counter whose key starts with `prefix`, as plain values (the cost report's read)."""
        rows: list[dict[str, Any]] = []
        paginator = self._client.get_paginator("scan")
        for page in paginator.paginate(
            TableName=self._table,
            FilterExpression="begins_with(id, :prefix)",
            ExpressionAttributeValues={":prefix": {"S": prefix}},
        ):
            rows += [_plain(item) for item in page["Items"]]
        return rows


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: int(value["N"]) if "N" in value else value.get("S") for name, value in item.items()}
