"""Redrive: a route's dead letters go back to its queue once each, and the action is audited."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sluice.adapters.eventbridge import EventBridgePublisher
from sluice.adapters.sqs_redrive import ReceiveSendDelete, RedriveFailed, SqsMoveTask
from sluice.operations.redrive import QueuePair, redrive
from sluice_local.outputs import subscribe_queue, take_events
from tests.functional.conftest import Platform


def _pair(platform: Platform, route: str = "intent") -> QueuePair:
    queues = platform.resources.routes[route]
    dlq_arn = platform.sqs.get_queue_attributes(
        QueueUrl=queues.dead_letter_queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    return QueuePair(route, queues.queue_url, queues.queue_arn, queues.dead_letter_queue_url, dlq_arn)


def _bodies(platform: Platform, queue_url: str) -> list[str]:
    bodies = []
    while messages := platform.sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300
    ).get("Messages", []):
        bodies += [message["Body"] for message in messages]
    return bodies


def test_redrive_moves_every_dead_letter_back_once_and_publishes_an_audit_event(platform: Platform) -> None:
    # Given 25 messages in the intent route's dead-letter queue, and a consumer of platform events
    pair = _pair(platform)
    for n in range(25):
        platform.sqs.send_message(QueueUrl=pair.dead_letter_url, MessageBody=json.dumps({"n": n}))
    audit = subscribe_queue(
        platform.sqs,
        platform.events,
        bus=platform.resources.event_bus,
        name="audit",
        pattern={"source": ["sluice"], "detail-type": ["QueueRedriven"]},
    )
    seen: list[int] = []

    # When an operator redrives the route
    record = redrive(
        pair,
        mover=ReceiveSendDelete(platform.sqs),
        events=EventBridgePublisher(platform.events, platform.resources.event_bus),
        operator="local:ops",
        progress=seen.append,
    )

    # Then each message is on the queue exactly once, the DLQ is empty, progress was shown
    assert sorted(json.loads(body)["n"] for body in _bodies(platform, pair.queue_url)) == list(range(25))
    assert _bodies(platform, pair.dead_letter_url) == []
    assert record.messages == 25
    assert seen[-1] == 25
    # And the audit event names the queue, the count and the operator, never a body
    (event,) = take_events(platform.sqs, audit, wait_seconds=0)
    assert event == {"queue": "intent", "messages": 25, "operator": "local:ops", "task": None}


class FakeMoveTask:
    """SQS's move task as ListMessageMoveTasks reports it, one answer per poll."""

    def __init__(self, statuses: list[dict[str, Any]]) -> None:
        self.statuses = statuses
        self.started: list[dict[str, str]] = []

    def start_message_move_task(self, **request: str) -> dict[str, str]:
        self.started.append(request)
        return {"TaskHandle": "task-1"}

    def list_message_move_tasks(self, **_: Any) -> dict[str, Any]:
        return {"Results": [{"TaskHandle": "task-1", **self.statuses.pop(0)}]}


PAIR = QueuePair(
    "intent", "https://q", "arn:aws:sqs:eu-west-1:1:q", "https://dlq", "arn:aws:sqs:eu-west-1:1:dlq"
)


def test_on_aws_the_move_is_sqs_own_task_followed_until_it_completes() -> None:
    client = FakeMoveTask(
        [
            {"Status": "RUNNING", "ApproximateNumberOfMessagesMoved": 3},
            {"Status": "COMPLETED", "ApproximateNumberOfMessagesMoved": 7},
        ]
    )
    seen: list[int] = []

    moved = SqsMoveTask(client, sleep=lambda _: None).move(PAIR, progress=seen.append)

    assert client.started == [{"SourceArn": PAIR.dead_letter_arn, "DestinationArn": PAIR.queue_arn}]
    assert (moved.messages, moved.task, seen) == (7, "task-1", [3, 7])


def test_a_failed_move_task_is_reported_not_taken_for_done() -> None:
    client = FakeMoveTask([{"Status": "FAILED", "FailureReason": "AccessDenied on kms:Decrypt"}])

    with pytest.raises(RedriveFailed, match="failed: AccessDenied"):
        SqsMoveTask(client, sleep=lambda _: None).move(PAIR, progress=lambda _: None)


def test_a_dead_letter_sent_back_but_not_removed_stops_the_redrive_and_is_not_counted() -> None:
    class DeleteRefused:
        """SQS accepting the copy and refusing to delete the original (an expired receipt)."""

        def __init__(self) -> None:
            self.received = False

        def receive_message(self, **_: Any) -> dict[str, Any]:
            if self.received:
                return {}
            self.received = True
            return {"Messages": [{"Body": "{}", "ReceiptHandle": "handle", "MessageId": "m"}]}

        def send_message_batch(self, **_: Any) -> dict[str, Any]:
            return {"Successful": [{"Id": "0"}]}

        def delete_message_batch(self, **_: Any) -> dict[str, Any]:
            return {"Failed": [{"Id": "0", "Code": "ReceiptHandleIsInvalid"}]}

    pair = QueuePair("intent", "queue-url", "queue-arn", "dlq-url", "dlq-arn")
    seen: list[int] = []

    # When the copy reaches the queue but the original stays in the DLQ
    with pytest.raises(RedriveFailed, match="not removed from the DLQ"):
        ReceiveSendDelete(DeleteRefused()).move(pair, progress=seen.append)

    # Then it is not counted as moved: a second redrive would deliver it twice
    assert seen == [0]
