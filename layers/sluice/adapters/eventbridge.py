"""Platform events on the EventBridge bus."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sluice.events import EVENT_SOURCE, Event
from sluice.observability import logger

# PutEvents takes up to 10 entries and 256 KiB a call; an InferenceCompleted is well under 1 KiB.
_ENTRIES_PER_CALL = 10
_BYTES_PER_CALL = 256 * 1024


class EventPublishFailed(Exception):
    pass


class EventBridgePublisher:
    def __init__(self, client: Any, bus_name: str) -> None:
        self._client = client
        self._bus_name = bus_name

    def publish(self, event: Event[Any]) -> None:
        if not self.publish_all([event])[0]:
            raise EventPublishFailed(f"PutEvents rejected {event.metadata.name}")

    def publish_all(self, events: Sequence[Event[Any]]) -> list[bool]:
        """One PutEvents per 10 events; PutEvents reports each entry's failure in a 200 response."""
        accepted: list[bool] = []
        for chunk in _chunks([self._entry(event) for event in events]):
            response = self._client.put_events(Entries=chunk)
            results = response.get("Entries", [])
            for index in range(len(chunk)):
                result = results[index] if index < len(results) else {"ErrorCode": "Missing"}
                accepted.append("ErrorCode" not in result or not result["ErrorCode"])
                if not accepted[-1]:
                    logger.warning("PutEvents rejected an event", extra={"error_code": result["ErrorCode"]})
        return accepted

    def _entry(self, event: Event[Any]) -> dict[str, str]:
        return {
            "Source": EVENT_SOURCE,
            "DetailType": event.metadata.name,
            "Detail": event.model_dump_json(),
            "EventBusName": self._bus_name,
        }


def _chunks(entries: list[dict[str, str]]) -> list[list[dict[str, str]]]:
    """Groups within PutEvents' limits (entry size counted as AWS does: source, type, detail)."""
    chunks: list[list[dict[str, str]]] = []
    size = 0
    for entry in entries:
        entry_size = sum(len(entry[k].encode()) for k in ("Source", "DetailType", "Detail"))
        if not chunks or len(chunks[-1]) == _ENTRIES_PER_CALL or size + entry_size > _BYTES_PER_CALL:
            chunks.append([])
            size = 0
        chunks[-1].append(entry)
        size += entry_size
    return chunks
