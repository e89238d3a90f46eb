"""Ports every capability shares: object storage and the platform event bus. Adapters implement them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sluice.events import Event


class Objects(Protocol):
    def put(self, bucket: str, key: str, body: bytes, *, content_type: str) -> None: ...

    def get(self, bucket: str, key: str) -> bytes: ...


class EventPublisher(Protocol):
    def publish(self, event: Event[Any]) -> None: ...

    def publish_all(self, events: Sequence[Event[Any]]) -> list[bool]:
        """Publish in as few calls as the bus allows; True for each event that was accepted."""
        ...
