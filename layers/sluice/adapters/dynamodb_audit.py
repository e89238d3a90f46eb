"""The audit trail's table: one item per record, partition `tenant`, sort `at_id` (time, then id).

Items are only ever put, with `attribute_not_exists`: the table holds no item a writer could
update. The record itself is stored whole as its canonical JSON (`record`), so what `verify`
hashes is exactly what was written; `expires_at` is the retention (the table's TTL attribute).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from sluice.observability.audit import AuditRecord, AuditRecordExists

PARTITION_KEY = "tenant"
SORT_KEY = "at_id"
TTL_ATTRIBUTE = "expires_at"


class DynamoAuditStore:
    def __init__(self, client: Any, table_name: str, *, retention: timedelta = timedelta(days=400)) -> None:
        self._client = client
        self._table = table_name
        self._retention = retention

    def append(self, record: AuditRecord) -> None:
        try:
            self._put(record)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise AuditRecordExists(record.audit_id) from error
            raise

    def _put(self, record: AuditRecord) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                PARTITION_KEY: {"S": record.tenant},
                SORT_KEY: {"S": f"{_sortable(record.at)}#{record.audit_id}"},
                "record": {"S": record.model_dump_json()},
                TTL_ATTRIBUTE: {"N": str(int((record.at + self._retention).timestamp()))},
            },
            ConditionExpression=f"attribute_not_exists({PARTITION_KEY})",
        )

    def query(self, tenant: str, *, since: datetime, until: datetime | None = None) -> list[AuditRecord]:
        # Fixed-width UTC times sort as strings; "~" sorts after every "<time>#<id>" of `until`.
        condition = f"{PARTITION_KEY} = :tenant AND {SORT_KEY} BETWEEN :since AND :until"
        values = {
            ":tenant": {"S": tenant},
            ":since": {"S": _sortable(since)},
            ":until": {"S": f"{_sortable(until)}~" if until else "~"},
        }
        records: list[AuditRecord] = []
        paginator = self._client.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table, KeyConditionExpression=condition, ExpressionAttributeValues=values
        ):
            records.extend(AuditRecord.model_validate_json(item["record"]["S"]) for item in page["Items"])
        return records


def _sortable(moment: datetime) -> str:
    """A fixed-width UTC time (a naive time is taken as UTC), so that string order is time order."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
