"""A key's first answer is kept for the deployment's idempotency TTL, not Powertools' default.

`config.api.idempotency_ttl_seconds` may be anything from a minute to a week; its default (an
hour) happens to be Powertools' own, so no platform test would notice the setting being lost.
"""

from __future__ import annotations

import time
from typing import Any

import boto3
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from moto import mock_aws

from sluice.serving.idempotency import IdempotentSubmit

REGION = "us-east-1"
TABLE = "idempotency"


def _expiry_of_the_stored_answer(ttl_seconds: int) -> tuple[float, float]:
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    submit = IdempotentSubmit(
        DynamoDBPersistenceLayer(table_name=TABLE, boto3_client=client), ttl_seconds=ttl_seconds
    )
    answer: dict[str, Any] = {"status": 202, "body": {"id": "a" * 32}}

    before = time.time()
    assert (
        submit(
            key="tenant-acme#order-1", request={"route": "intent"}, submit=lambda: answer, lambda_context=None
        )
        == answer
    )
    items = client.scan(TableName=TABLE)["Items"]
    assert len(items) == 1
    return before, float(items[0]["expiration"]["N"])


@mock_aws
def test_a_first_answer_expires_after_the_configured_ttl() -> None:
    before, expiration = _expiry_of_the_stored_answer(ttl_seconds=120)
    assert before + 120 - 5 <= expiration <= time.time() + 120 + 5
