"""The feedback table on moto, as the stack declares it (infra/lifecycle_feedback.py)."""

from __future__ import annotations

from typing import Any

from sluice.adapters.feedback_table import BY_ROUTE_INDEX, TTL_ATTRIBUTE


def provision_feedback_table(dynamodb: Any, name: str) -> str:
    """Creates the table with its ByRoute index and TTL unless a kept state already has it."""
    if name in dynamodb.list_tables()["TableNames"]:
        return name
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "feedback_route", "AttributeType": "S"},
            {"AttributeName": "created_at", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": BY_ROUTE_INDEX,
                "KeySchema": [
                    {"AttributeName": "feedback_route", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )
    return name
