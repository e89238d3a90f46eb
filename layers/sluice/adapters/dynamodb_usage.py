"""Tenant usage in DynamoDB: one item per tenant and month, with the day's counters in it.

Every change is one UpdateItem. Admission is a conditional ADD whose condition says "every
limit still holds after this": DynamoDB applies a conditional write to an item atomically and
in some order, so however many functions reserve at once, exactly as many succeed as the limits
leave room for. Keeping the day's counters in the month's item lets one condition cover the
monthly budget, the monthly quota, a budget action's lower quota and the daily quota together.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from sluice.cost.models import Limits, Period, Reservation, Usage

# A month's item is kept for the cost report for about 13 months, then DynamoDB forgets it.
_TTL_SECONDS = 400 * 24 * 3600


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


class DynamoUsageLedger:
    """Table schema: partition key `id` (S); TTL attribute `expires_at`."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    @staticmethod
    def item_id(tenant: str, period: Period) -> str:
        return f"usage#{tenant}#{period.month}"

    def reserve(self, reservation: Reservation, limits: Limits) -> Usage | None:
        cost, count = reservation.cost_micros, reservation.requests
        names = {"#day_requests": f"d{reservation.period.day_of_month}_requests"}
        values: dict[str, Any] = {
            ":cost": _n(cost),
            ":count": _n(count),
            ":tenant": {"S": reservation.tenant},
            ":month": {"S": reservation.period.month},
            ":expires": _n(int(time.time()) + _TTL_SECONDS),
        }
        conditions = [
            # A budget action's lower quota; its clause compares with `<`, so one request at a time.
            "(attribute_not_exists(quota_cap) OR month_requests < quota_cap)"
        ]
        for attribute, limit, amount, key in (
            ("spent_micros", limits.budget_micros, cost, ":budget_room"),
            ("month_requests", limits.monthly_requests, count, ":month_room"),
            ("#day_requests", limits.daily_requests, count, ":day_room"),
        ):
            if limit is None:
                continue
            room = limit - amount
            if room < 0:
                return None  # more than the whole limit: no write would ever be allowed
            values[key] = _n(room)
            conditions.append(f"(attribute_not_exists({attribute}) OR {attribute} <= {key})")
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"id": {"S": self.item_id(reservation.tenant, reservation.period)}},
                UpdateExpression=(
                    "ADD spent_micros :cost, reserved_micros :cost, month_requests :count, "
                    "#day_requests :count SET tenant = :tenant, billing_month = :month, "
                    "expires_at = if_not_exists(expires_at, :expires)"
                ),
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return _usage(response["Attributes"], reservation.period)

    def usage(self, tenant: str, period: Period) -> Usage:
        item = self._client.get_item(
            TableName=self._table, Key={"id": {"S": self.item_id(tenant, period)}}, ConsistentRead=True
        ).get("Item")
        return _usage(item or {}, period)

    def settle(self, reservation: Reservation, cost_micros: int) -> None:
        # No condition: the work is done and must be paid for, even past the limit.
        self._add(reservation, spent=cost_micros - reservation.cost_micros, requests=0, settled=cost_micros)

    def release(self, reservation: Reservation) -> None:
        self._add(reservation, spent=-reservation.cost_micros, requests=-reservation.requests, settled=0)

    def _add(self, reservation: Reservation, *, spent: int, requests: int, settled: int) -> None:
        self._client.update_item(
            TableName=self._table,
            Key={"id": {"S": self.item_id(reservation.tenant, reservation.period)}},
            UpdateExpression=(
                "ADD spent_micros :spent, reserved_micros :unreserve, settled_micros :settled, "
                "month_requests :requests, #day_requests :requests"
            ),
            ExpressionAttributeNames={"#day_requests": f"d{reservation.period.day_of_month}_requests"},
            ExpressionAttributeValues={
                ":spent": _n(spent),
                ":unreserve": _n(-reservation.cost_micros),
                ":settled": _n(settled),
                ":requests": _n(requests),
            },
        )

    def set_quota_cap(self, tenant: str, period: Period, requests: int | None) -> None:
        key = {"id": {"S": self.item_id(tenant, period)}}
        if requests is None:
            self._client.update_item(TableName=self._table, Key=key, UpdateExpression="REMOVE quota_cap")
            return
        # month_requests must exist for the reserve condition's comparison with the cap.
        self._client.update_item(
            TableName=self._table,
            Key=key,
            UpdateExpression=(
                "SET quota_cap = :cap, month_requests = if_not_exists(month_requests, :zero), "
                "tenant = :tenant, billing_month = :month, expires_at = if_not_exists(expires_at, :expires)"
            ),
            ExpressionAttributeValues={
                ":cap": _n(requests),
                ":zero": _n(0),
                ":tenant": {"S": tenant},
                ":month": {"S": period.month},
                ":expires": _n(int(time.time()) + _TTL_SECONDS),
            },
        )


def _usage(item: dict[str, Any], period: Period) -> Usage:
    def number(name: str) -> int:
        return int(item[name]["N"]) if name in item else 0

    return Usage(
        spent_micros=number("spent_micros"),
        month_requests=number("month_requests"),
        day_requests=number(f"d{period.day_of_month}_requests"),
        quota_cap=int(item["quota_cap"]["N"]) if "quota_cap" in item else None,
    )
