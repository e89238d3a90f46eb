"""The budget function's state in the cost table: actions in force, paused routes, the audit trail,
and a tenant's lowered quota (on the tenant's usage item, where the reserve condition reads it)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from sluice.adapters.dynamodb_usage import DynamoUsageLedger
from sluice.cost.models import Period

_AUDIT_TTL_SECONDS = 400 * 24 * 3600


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DynamoActionLog:
    """Items `action#<trigger>#<index>` (in force) and `audit#<time>#<id>` (history)."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def claim(self, trigger: str, index: int, record: Mapping[str, Any]) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "id": {"S": f"action#{trigger}#{index}"},
                    "trigger": {"S": trigger},
                    "index": {"N": str(index)},
                    "record": {"S": json.dumps(record, sort_keys=True)},
                },
                ConditionExpression="attribute_not_exists(id)",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def in_force(self, trigger: str) -> list[dict[str, Any]]:
        return [
            {**json.loads(item["record"]["S"]), "index": int(item["index"]["N"])}
            for item in self._scan(f"action#{trigger}#")
        ]

    def triggers_in_force(self) -> list[str]:
        return sorted({item["trigger"]["S"] for item in self._scan("action#")})

    def lift(self, trigger: str, index: int) -> None:
        self._client.delete_item(TableName=self._table, Key={"id": {"S": f"action#{trigger}#{index}"}})

    def audit(self, entry: Mapping[str, Any]) -> None:
        at = _utc_now()
        self._client.put_item(
            TableName=self._table,
            Item={
                "id": {"S": f"audit#{at.isoformat()}#{uuid.uuid4().hex[:8]}"},
                "entry": {"S": json.dumps(entry, sort_keys=True)},
                "expires_at": {"N": str(int(time.time()) + _AUDIT_TTL_SECONDS)},
            },
        )

    def audit_trail(self) -> list[dict[str, Any]]:
        items = sorted(self._scan("audit#"), key=lambda item: item["id"]["S"])
        return [json.loads(item["entry"]["S"]) for item in items]

    def _scan(self, prefix: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self._client.get_paginator("scan").paginate(
            TableName=self._table,
            FilterExpression="begins_with(id, :prefix)",
            ExpressionAttributeValues={":prefix": {"S": prefix}},
            ConsistentRead=True,
        ):
            items += page["Items"]
        return items


class DynamoJobAdmission:
    """Item `admission#<route>`: present while the route takes no new jobs."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def paused(self, route: str) -> bool:
        item = self._client.get_item(
            TableName=self._table, Key={"id": {"S": f"admission#{route}"}}, ConsistentRead=True
        ).get("Item")
        return item is not None

    def set_paused(self, route: str, paused: bool) -> None:
        key = {"id": {"S": f"admission#{route}"}}
        if paused:
            self._client.put_item(TableName=self._table, Item={**key, "route": {"S": route}})
        else:
            self._client.delete_item(TableName=self._table, Key=key)


class DynamoQuotaControl:
    """A tenant's lowered monthly quota, kept on this month's usage item."""

    def __init__(
        self,
        ledger: DynamoUsageLedger,
        *,
        tenant_ids: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._ledger = ledger
        # Actions name tenants as cdk.json does; usage is kept under the id requests carry.
        self._ids = dict(tenant_ids or {})
        self._clock = clock

    def quota_cap(self, tenant: str) -> int | None:
        return self._ledger.usage(self._ids.get(tenant, tenant), Period.at(self._clock())).quota_cap

    def set_quota_cap(self, tenant: str, requests: int | None) -> None:
        self._ledger.set_quota_cap(self._ids.get(tenant, tenant), Period.at(self._clock()), requests)
