"""EventBridgePublisher: PutEvents' limits and its per-entry failures."""

from __future__ import annotations

from typing import Any

import pytest

from sluice.adapters.eventbridge import EventBridgePublisher, EventPublishFailed
from sluice.events import Event, InferenceCompleted
from sluice.jobs.models import JobStatus


class RecordingEventBridge:
    """Answers PutEvents as EventBridge does: 200, with an ErrorCode on each rejected entry."""

    def __init__(self, reject: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.calls: list[list[dict[str, Any]]] = []
        self._reject = reject

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        results = [
            {"ErrorCode": "InternalFailure", "ErrorMessage": "x"}
            if any(job in entry["Detail"] for job in self._reject)
            else {"EventId": f"e-{i}"}
            for i, entry in enumerate(Entries)
        ]
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


def _event(job_id: str) -> Event[Any]:
    detail = InferenceCompleted(
        job_id=job_id,
        tenant="t",
        route="intent",
        status=JobStatus.SUCCEEDED,
        endpoint="e",
        variant="v",
        model_version=None,
        error_code=None,
    )
    return Event.wrap(detail, correlation_id=job_id)


def test_events_go_out_ten_to_a_call_in_order() -> None:
    # Given 23 events
    client = RecordingEventBridge()
    events = [_event(f"job-{i:02d}") for i in range(23)]

    # When they are published together
    accepted = EventBridgePublisher(client, "bus").publish_all(events)

    # Then three calls carried 10, 10 and 3 entries, in order, and every one was accepted
    assert [len(call) for call in client.calls] == [10, 10, 3]
    assert all(entry["EventBusName"] == "bus" for call in client.calls for entry in call)
    sent = [entry["Detail"] for call in client.calls for entry in call]
    assert all(f"job-{i:02d}" in detail for i, detail in enumerate(sent))
    assert accepted == [True] * 23


def test_a_rejected_entry_is_reported_for_that_event_only() -> None:
    client = RecordingEventBridge(reject={"job-03"})

    accepted = EventBridgePublisher(client, "bus").publish_all([_event(f"job-{i:02d}") for i in range(5)])

    assert accepted == [True, True, True, False, True]


def test_publish_of_one_event_raises_when_it_is_rejected() -> None:
    client = RecordingEventBridge(reject={"job-1"})

    with pytest.raises(EventPublishFailed):
        EventBridgePublisher(client, "bus").publish(_event("job-1"))
