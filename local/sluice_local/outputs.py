"""What a running local platform publishes in `.sluice/outputs.json`, and a boto3 session for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

DEFAULT_OUTPUTS = Path(__file__).resolve().parents[2] / ".sluice" / "outputs.json"
# moto accepts any credentials; fixed ones keep a developer's real AWS profile out of local runs.
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def read_outputs(path: Path = DEFAULT_OUTPUTS) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def local_session(outputs: dict[str, Any]) -> boto3.session.Session:
    """A session in the platform's region with local credentials; pass `outputs["AwsEndpointUrl"]`
    as `endpoint_url` to its clients."""
    return boto3.session.Session(region_name=outputs["Region"], **LOCAL_CREDENTIALS)


def subscribe_queue(sqs: Any, events: Any, *, bus: str, name: str, pattern: dict[str, Any]) -> str:
    """A queue that receives the platform bus's events matching `pattern`, as a consumer's would
    (tests and benchmarks follow jobs and batches through it); returns the queue's URL."""
    queue_url = str(sqs.create_queue(QueueName=name)["QueueUrl"])
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    return queue_url


def take_events(sqs: Any, queue_url: str, *, wait_seconds: int = 5) -> list[dict[str, Any]]:
    """Up to 10 platform events from a `subscribe_queue` queue (long polling), removed from it:
    each event's versioned detail (`job_id`, `status`, ...)."""
    messages = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
    ).get("Messages", [])
    if messages:
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)],
        )
    return [dict(json.loads(message["Body"])["detail"]["detail"]) for message in messages]
