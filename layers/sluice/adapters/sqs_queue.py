"""Route queues on SQS."""

from __future__ import annotations

from typing import Any

from sluice.jobs.models import JobMessage


class SqsJobQueue:
    def __init__(self, client: Any) -> None:
        self._client = client

    def send(self, queue_url: str, message: JobMessage) -> str:
        # Attributes let consumers and the DLQ redrive tooling route without parsing bodies.
        attributes = {
            "job_id": {"DataType": "String", "StringValue": message.job_id},
            "route": {"DataType": "String", "StringValue": message.route},
        }
        if message.correlation_id:
            # An operator looking at a DLQ message finds its request's logs without the body.
            attributes["correlation_id"] = {"DataType": "String", "StringValue": message.correlation_id}
        response = self._client.send_message(
            QueueUrl=queue_url, MessageBody=message.model_dump_json(), MessageAttributes=attributes
        )
        return str(response["MessageId"])
