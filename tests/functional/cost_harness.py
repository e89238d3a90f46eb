"""DynamoDB for the cost tests: moto in process or as a threaded HTTP server, and what moto lacks.

DynamoDB applies the writes to one item one after another (a conditional write sees every write
before it). moto's in-memory backend does not: two threads can both read an item, both pass the
condition and both write. `item_writes_in_order` gives moto that one guarantee, with a lock
around its UpdateItem, so a test measures the code under test and not a moto race. What the lock
does not give is a limit: `test_a_read_then_write_guard_over_admits_under_the_same_lock` shows a
guard without the condition expression over-admitting with the lock on.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config

REGION = "us-east-1"


def create_cost_table(client: Any, name: str | None = None) -> str:
    # A name of its own: the threaded moto server shares its backend with every test in the process.
    name = name or f"sluice-test-cost-{uuid.uuid4().hex[:12]}"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def lambda_like_client(endpoint_url: str | None) -> Any:
    """A client of its own, from a session of its own, as each Lambda instance has."""
    session = boto3.session.Session(region_name=REGION)
    return session.client(
        "dynamodb",
        endpoint_url=endpoint_url,
        # Fail loudly rather than retry: a retried conditional write would hide a lost answer.
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}, max_pool_connections=2),
    )


@contextmanager
def item_writes_in_order() -> Iterator[None]:
    """UpdateItem applied one at a time, as DynamoDB applies the writes to one item; and GetItem
    answered from the item as it is between writes, as DynamoDB answers a consistent read. moto's
    GetItem serializes the live item after its backend call, so a concurrent UpdateItem changed it
    mid-read ("dictionary changed size during iteration" under load). Both are locked in moto's
    request handler, which the in-process mock and the threaded server share."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    patched = [(DynamoDBBackend, "update_item"), (DynamoHandler, "update_item"), (DynamoHandler, "get_item")]
    originals = {(owner, name): getattr(owner, name) for owner, name in patched}

    def locked(original: Any) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(self, *args, **kwargs)

        return call

    for (owner, name), original in originals.items():
        setattr(owner, name, locked(original))
    try:
        yield
    finally:
        for (owner, name), original in originals.items():
            setattr(owner, name, original)


@contextmanager
def dynamodb_writes_in_order() -> Iterator[None]:
    """`item_writes_in_order` for every kind of write: moto's PutItem and TransactWriteItems are
    not safe across threads either (a transaction deep-copies tables others are writing to),
    while DynamoDB serializes them. For tests whose code under test also creates items."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    names = ("update_item", "put_item", "transact_write_items")
    originals = {name: getattr(DynamoDBBackend, name) for name in names}

    def locked(original: Any) -> Any:
        def write(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(self, *args, **kwargs)

        return write

    for name, original in originals.items():
        setattr(DynamoDBBackend, name, locked(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(DynamoDBBackend, name, original)
