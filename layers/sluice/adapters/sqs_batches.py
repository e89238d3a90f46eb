"""SQS sends in batches (jobs from uploaded files) and raw re-sends (ingest continuations)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sluice.jobs.models import JobMessage


class SendFailed(Exception):
    pass


class SqsBatchSender:
    def __init__(self, client: Any) -> None:
        self._client = client

    def send_batch(self, queue_url: str, messages: Sequence[JobMessage]) -> None:
        entries = {
            str(index): {
                "Id": str(index),
                "MessageBody": message.model_dump_json(exclude_none=True),
                "MessageAttributes": {
                    "job_id": {"DataType": "String", "StringValue": message.job_id},
                    "route": {"DataType": "String", "StringValue": message.route},
                },
            }
            for index, message in enumerate(messages)
        }
        # SendMessageBatch reports per-entry failures in a 200; give those one more try.
        for _ in range(2):
            response = self._client.send_message_batch(QueueUrl=queue_url, Entries=list(entries.values()))
            entries = {failure["Id"]: entries[failure["Id"]] for failure in response.get("Failed", [])}
            if not entries:
                return
        codes = sorted({failure.get("Code", "Unknown") for failure in response.get("Failed", [])})
        raise SendFailed(f"SendMessageBatch rejected {len(entries)} messages: {codes}")

    def send_raw(self, queue_url: str, body: str) -> None:
        self._client.send_message(QueueUrl=queue_url, MessageBody=body)
