"""Pseudonym vault in DynamoDB (a `sluice.pii.PseudonymVault`).

Expected table (created by the stack, encrypted with a customer-managed KMS key, point-in-time
recovery on, reads granted only to roles that may re-identify):

    pk (S, partition key)  "<tenant>#<token>"          e.g. "acme#7f3a9c2b1d4e"
    entity_type (S)        "PERSON"
    value (S)              the original value
    created_at (S)         ISO-8601 UTC

Tokens are derived from the value (HMAC), so writing the same value twice is a no-op; a write
that meets a different value under the same token (a 48-bit collision) fails closed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from sluice.adapters.dynamodb_conditions import is_condition_failure
from sluice.adapters.dynamodb_items import from_item, placeholders, to_item
from sluice.pii.errors import PiiDetectionError, RevealNotPermitted


class PseudonymCollision(PiiDetectionError):
    code = "PII_PSEUDONYM_COLLISION"


class DynamoPseudonymVault:
    def __init__(self, table_name: str, client: Any | None = None, *, cache_size: int = 4096) -> None:
        self._table = table_name
        self._client = client
        # Values already stored by this process: a hot tenant's names are not rewritten per request.
        self._stored: dict[str, None] = {}
        self._cache_size = cache_size

    @property
    def client(self) -> Any:
        if self._client is None:
            from sluice.adapters.clients import client

            self._client = client("dynamodb")
        return self._client

    def put(self, tenant: str, token: str, entity_type: str, value: str) -> None:
        pk = f"{tenant}#{token}"
        if pk in self._stored:
            return
        try:
            self.client.put_item(
                TableName=self._table,
                Item=to_item(
                    {
                        "pk": pk,
                        "entity_type": entity_type,
                        "value": value,
                        "created_at": datetime.now(UTC).isoformat(),
                    }
                ),
                ConditionExpression="attribute_not_exists(pk) OR #value = :value",
                ExpressionAttributeNames={"#value": "value"},
                ExpressionAttributeValues=placeholders(value=value),
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            raise PseudonymCollision("two values share a pseudonym token") from None
        if len(self._stored) >= self._cache_size:
            self._stored.pop(next(iter(self._stored)))
        self._stored[pk] = None

    def reveal(self, tenant: str, token: str, *, can_reveal: bool) -> str | None:
        if not can_reveal:
            raise RevealNotPermitted("this caller may not re-identify pseudonymized values")
        item = self.client.get_item(
            TableName=self._table, Key=to_item({"pk": f"{tenant}#{token}"}), ConsistentRead=True
        ).get("Item")
        return None if item is None else str(from_item(item)["value"])
