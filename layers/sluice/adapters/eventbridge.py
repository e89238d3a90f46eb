"""Platform events on the EventBridge bus."""

from __future__ import annotations

from typing import Any

from sluice.events import EVENT_SOURCE, Event


class EventPublishFailed(Exception):
    pass


class EventBridgePublisher:
    def __init__(self, client: Any, bus_name: str) -> None:
        self._client = client
        self._bus_name = bus_name

    def publish(self, event: Event[Any]) -> None:
        response = self._client.put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": event.metadata.name,
                    "Detail": event.model_dump_json(),
                    "EventBusName": self._bus_name,
                }
            ]
        )
        # PutEvents reports per-entry failures in a 200 response; treat them as failures.
        if response.get("FailedEntryCount", 0):
            code = response["Entries"][0].get("ErrorCode", "Unknown")
            raise EventPublishFailed(f"PutEvents rejected {event.metadata.name}: {code}")
