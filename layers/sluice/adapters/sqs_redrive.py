"""Moving dead letters back to their queue: SQS's message move task, or receive-send-delete.

`SqsMoveTask` is what AWS offers for this (StartMessageMoveTask, then ListMessageMoveTasks until
the task ends). `ReceiveSendDelete` does the same with the calls moto has, for the local
platform: each message is sent to the queue with its body and attributes, then deleted from the
dead-letter queue; it is received with a long visibility timeout, so no other receiver sees it
in between.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sluice.operations.redrive import Moved, QueuePair

_POLL_SECONDS = 2.0
_FINAL_STATUSES = {"COMPLETED", "CANCELLED", "FAILED"}


class RedriveFailed(RuntimeError):
    pass


class SqsMoveTask:
    def __init__(self, client: Any, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._sleep = sleep

    def move(self, pair: QueuePair, *, progress: Callable[[int], None]) -> Moved:
        task = self._client.start_message_move_task(
            SourceArn=pair.dead_letter_arn, DestinationArn=pair.queue_arn
        )["TaskHandle"]
        while True:
            listed = self._client.list_message_move_tasks(SourceArn=pair.dead_letter_arn, MaxResults=1)
            current: dict[str, Any] = next(
                (t for t in listed.get("Results", []) if t.get("TaskHandle") == task), {}
            )
            moved = int(current.get("ApproximateNumberOfMessagesMoved", 0))
            progress(moved)
            status = str(current.get("Status", "RUNNING"))
            if status == "COMPLETED":
                return Moved(messages=moved, task=task)
            if status in _FINAL_STATUSES:
                raise RedriveFailed(f"message move task {status.lower()}: {current.get('FailureReason', '')}")
            self._sleep(_POLL_SECONDS)


class ReceiveSendDelete:
    def __init__(self, client: Any) -> None:
        self._client = client

    def move(self, pair: QueuePair, *, progress: Callable[[int], None]) -> Moved:
        moved = 0
        while messages := self._client.receive_message(
            QueueUrl=pair.dead_letter_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=300,
            MessageAttributeNames=["All"],
        ).get("Messages", []):
            entries = [
                {"Id": str(n), "MessageBody": m["Body"], **_attributes(m)} for n, m in enumerate(messages)
            ]
            sent = self._client.send_message_batch(QueueUrl=pair.queue_url, Entries=entries)
            done = {entry["Id"] for entry in sent.get("Successful", [])}
            # Only what reached the queue leaves the dead-letter queue; the rest stays there.
            deletions = [
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                for n, m in enumerate(messages)
                if str(n) in done
            ]
            removed = (
                self._client.delete_message_batch(QueueUrl=pair.dead_letter_url, Entries=deletions)
                if deletions
                else {}
            )
            moved += len(removed.get("Successful", []))
            progress(moved)
            if removed.get("Failed"):
                # Sent back but still in the DLQ: a later redrive would send them a second time.
                raise RedriveFailed(
                    f"{len(removed['Failed'])} messages were sent back but not removed from the DLQ; "
                    "purge them from it before redriving again"
                )
            if sent.get("Failed"):
                raise RedriveFailed(
                    f"{len(sent['Failed'])} messages could not be sent back; they stay in the DLQ"
                )
        return Moved(messages=moved)


def _attributes(message: dict[str, Any]) -> dict[str, Any]:
    attributes = message.get("MessageAttributes")
    return {"MessageAttributes": attributes} if attributes else {}
