"""Python values to DynamoDB's typed attribute values and back, through boto3's serializers.

The adapters use the low-level client (one code path with moto and in Lambda, no resource
layer at cold start); `boto3.dynamodb.types` does the marshalling. Numbers come back as int
when whole, else float: Sluice stores no value that needs Decimal's precision (model outputs
are kept as JSON strings, see `DynamoJobStore`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def to_attribute(value: Any) -> dict[str, Any]:
    # TypeSerializer refuses floats (they lose precision as Decimal); a repr round-trips exactly.
    if isinstance(value, float):
        value = Decimal(repr(value))
    return _SERIALIZER.serialize(value)  # type: ignore[no-any-return]


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """An item from plain values; None means the attribute is absent."""
    return {name: to_attribute(value) for name, value in values.items() if value is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _plain(_DESERIALIZER.deserialize(value)) for name, value in item.items()}


def placeholders(**values: Any) -> dict[str, Any]:
    """ExpressionAttributeValues: `placeholders(now=...)` gives `{":now": {...}}`."""
    return {f":{name}": to_attribute(value) for name, value in values.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
