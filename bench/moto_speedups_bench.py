"""What `sluice_local.moto_speedups` buys, and proof that moto answers the same with it.

Runs one scenario on in-process moto, once with the patches and once without, each in its own
interpreter: SQS sends, receives, visibility changes and deletes (current, old and unknown
receipt handles) on a queue with a redrive policy; DynamoDB transactions that commit and that
are cancelled by a condition (the items must be as before); an EventBridge rule with an input
path delivering to SQS. Prints the seconds each took and whether every answer was the same.

    .venv/bin/python bench/moto_speedups_bench.py --messages 20000 --items 2000
    .venv/bin/python bench/moto_speedups_bench.py --scenario --patched --messages 50   # one side, JSON
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def scenario(*, messages: int, items: int, patched: bool) -> dict[str, Any]:
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}
    )
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws

    if patched:
        from sluice_local.moto_speedups import speed_up_moto

        speed_up_moto()
    answers: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    with mock_aws():
        sqs, dynamodb, events = (
            boto3.client(name, region_name="us-east-1") for name in ("sqs", "dynamodb", "events")
        )

        started = time.perf_counter()
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
        queue = sqs.create_queue(QueueName="work", Attributes={"RedrivePolicy": redrive})["QueueUrl"]
        for start in range(0, messages, 10):
            entries = [
                {"Id": str(i), "MessageBody": f"m{i}"} for i in range(start, min(start + 10, messages))
            ]
            sqs.send_message_batch(QueueUrl=queue, Entries=entries)
        deleted, kept, old_handles = [], [], []
        while batch := sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=43200
        ).get("Messages", []):
            for message in batch:
                if int(message["Body"][1:]) % 7 == 0:
                    kept.append(message)
                else:
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                    deleted.append(message["Body"])
        # Every seventh comes back at once, is received again and deleted with its old handle.
        for message in kept:
            sqs.change_message_visibility(
                QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        again = []
        while batch := sqs.receive_message(
            QueueUrl=queue,
            MaxNumberOfMessages=10,
            VisibilityTimeout=43200,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", []):
            again += [(m["Body"], m["Attributes"]["ApproximateReceiveCount"]) for m in batch]
        for message in kept:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])  # the old handle
            old_handles.append(message["Body"])
        try:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle="not-a-handle")
            unknown = "accepted"
        except ClientError as error:
            unknown = error.response["Error"]["Code"]
        attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        answers["sqs"] = {
            "deleted": sorted(deleted),
            "received_again": sorted(again),
            "deleted_with_old_handles": sorted(old_handles),
            "unknown_handle": unknown,
            "left": [
                attributes[k]
                for k in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
            ],
        }
        seconds["sqs"] = time.perf_counter() - started

        started = time.perf_counter()
        dynamodb.create_table(
            TableName="t",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for i in range(items):
            dynamodb.put_item(TableName="t", Item={"id": {"S": f"i{i}"}, "n": {"N": "0"}})
        cancelled = 0
        for i in range(0, items - 2, 3):
            add = [
                {
                    "Update": {
                        "TableName": "t",
                        "Key": {"id": {"S": f"i{j}"}},
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                }
                for j in (i, i + 1)
            ]
            # Every other transaction also creates an item that exists: all of it must roll back.
            create = {
                "Put": {
                    "TableName": "t",
                    "Item": {"id": {"S": f"i{i + 2}" if i % 2 else f"new{i}"}, "n": {"N": "9"}},
                    "ConditionExpression": "attribute_not_exists(id)",
                }
            }
            try:
                dynamodb.transact_write_items(TransactItems=[*add, create])
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                cancelled += 1
        scan = dynamodb.scan(TableName="t")["Items"]
        answers["dynamodb"] = {
            "cancelled": cancelled,
            "items": sorted((x["id"]["S"], x["n"]["N"]) for x in scan),
        }
        seconds["dynamodb"] = time.perf_counter() - started

        started = time.perf_counter()
        sink = sqs.create_queue(QueueName="sink")["QueueUrl"]
        sink_arn = sqs.get_queue_attributes(QueueUrl=sink, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(Name="r", EventPattern=json.dumps({"source": ["sluice"]}))
        events.put_targets(
            Rule="r",
            Targets=[
                {
                    "Id": "s",
                    "Arn": sink_arn,
                    "InputTransformer": {"InputPathsMap": {"i": "$.detail.i"}, "InputTemplate": '{"i": <i>}'},
                }
            ],
        )
        for i in range(max(1, messages // 100)):
            events.put_events(
                Entries=[{"Source": "sluice", "DetailType": "T", "Detail": json.dumps({"i": i, "k": [1, 2]})}]
            )
        delivered = []
        while batch := sqs.receive_message(QueueUrl=sink, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                body = json.loads(message["Body"])
                delivered.append(json.dumps(body, sort_keys=True))
                sqs.delete_message(QueueUrl=sink, ReceiptHandle=message["ReceiptHandle"])
        answers["events"] = sorted(delivered)
        seconds["events"] = time.perf_counter() - started
    return {"answers": answers, "seconds": seconds}


def run_side(*, patched: bool, messages: int, items: int) -> dict[str, Any]:
    """One side in a fresh interpreter: the patches change moto for the whole process."""
    argv = [sys.executable, __file__, "--scenario", "--messages", str(messages), "--items", str(items)]
    completed = subprocess.run(
        [*argv, *(["--patched"] if patched else [])], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr[-3000:])
    return json.loads(completed.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--scenario", action="store_true", help="run one side here and print JSON")
    parser.add_argument("--patched", action="store_true")
    args = parser.parse_args()
    if args.scenario:
        print(json.dumps(scenario(messages=args.messages, items=args.items, patched=args.patched)))
        return 0
    print(
        f"moto without and with sluice_local.moto_speedups: {args.messages} messages, {args.items} items",
        flush=True,
    )
    plain = run_side(patched=False, messages=args.messages, items=args.items)
    print("  [1/2] plain moto done", flush=True)
    fast = run_side(patched=True, messages=args.messages, items=args.items)
    print("  [2/2] patched moto done", flush=True)
    print(f"{'part':<10}{'plain s':>10}{'patched s':>11}{'speed-up':>10}")
    for part in plain["seconds"]:
        before, after = plain["seconds"][part], fast["seconds"][part]
        print(f"{part:<10}{before:>10.1f}{after:>11.1f}{before / after:>9.1f}x")
    same = plain["answers"] == fast["answers"]
    print("same answers:", same)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
