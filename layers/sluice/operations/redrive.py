"""Redrive: move a route's dead letters back to its queue, once each, and record who did it.

On AWS the move is SQS's own (StartMessageMoveTask: SQS moves every message once, in order of
arrival, without the caller touching bodies); locally, where moto has no move task, the same
effect by receive, send and delete. Either way the action is a `QueueRedriven` event on the
platform bus, which its archive keeps: the audit record (who, which queue, how many; never a
message body). A redriven job is safe to run again: the worker claims jobs conditionally, so one
already final is acknowledged without a second inference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from sluice.events import Event, EventDetail
from sluice.observability import logger
from sluice.ports import EventPublisher


@dataclass(frozen=True)
class QueuePair:
    """A queue and its dead-letter queue, by URL and ARN."""

    name: str
    queue_url: str
    queue_arn: str
    dead_letter_url: str
    dead_letter_arn: str


@dataclass(frozen=True)
class Moved:
    messages: int
    # SQS's task handle on AWS; None for the local move.
    task: str | None = None


class DeadLetterMover(Protocol):
    def move(self, pair: QueuePair, *, progress: Callable[[int], None]) -> Moved:
        """Move every message of `pair`'s dead-letter queue to the queue; `progress(moved so far)`."""
        ...


class QueueRedriven(EventDetail):
    """An operator moved a queue's dead letters back to it. Ids and counts only."""

    event_name: ClassVar[str] = "QueueRedriven"
    event_version: ClassVar[int] = 1

    queue: str
    messages: int
    operator: str
    task: str | None = None


def redrive(
    pair: QueuePair,
    *,
    mover: DeadLetterMover,
    events: EventPublisher,
    operator: str,
    progress: Callable[[int], None] = lambda _: None,
) -> QueueRedriven:
    moved = mover.move(pair, progress=progress)
    record = QueueRedriven(queue=pair.name, messages=moved.messages, operator=operator, task=moved.task)
    events.publish(Event.wrap(record, correlation_id=None))
    logger.info(
        "queue redriven", extra={"queue": pair.name, "messages": moved.messages, "operator": operator}
    )
    return record
