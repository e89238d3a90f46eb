"""What the lifecycle logic needs from the outside world; adapters live in sluice.adapters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from sluice.events import Event
from sluice.lifecycle.drift import DriftBaseline
from sluice.lifecycle.feedback import Feedback


class CapturedAnswer(BaseModel):
    """One prediction from a captured endpoint response: top label, its score, who served it."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    variant: str
    model_version: str
    label: str
    score: float
    inference_time: datetime


class CaptureSource(Protocol):
    def answers(self, endpoint: str, start: datetime, end: datetime) -> Iterator[CapturedAnswer]:
        """Every captured answer of `endpoint` with start <= inference time < end."""
        ...


class BaselineSource(Protocol):
    def baseline(self, model_version: str) -> DriftBaseline | None:
        """The baseline training wrote beside this model version, or None if it has none."""
        ...


class EventSink(Protocol):
    def publish(self, event: Event[Any]) -> None: ...


class FeedbackWindows(Protocol):
    def feedback_between(self, route: str, start: datetime | None, end: datetime) -> Iterator[Feedback]:
        """Every tenant's feedback on `route` stored with start <= time < end, oldest first."""
        ...
