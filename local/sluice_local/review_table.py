"""The review table on moto, as the stack declares it (infra/review.py)."""

from __future__ import annotations

from typing import Any

from sluice.adapters.review_table import CREATED_ATTRIBUTE, INDEXES, PARTITION_KEY


def provision_review_table(dynamodb: Any, name: str) -> str:
    """Creates the table with its ByState and ByStateRoute indexes unless a kept state has it."""
    if name in dynamodb.list_tables()["TableNames"]:
        return name
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": CREATED_ATTRIBUTE, "AttributeType": "S"},
            *({"AttributeName": partition, "AttributeType": "S"} for _, partition in INDEXES),
        ],
        KeySchema=[{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": partition, "KeyType": "HASH"},
                    {"AttributeName": CREATED_ATTRIBUTE, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, partition in INDEXES
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name
