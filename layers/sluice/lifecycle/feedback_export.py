"""The scheduled export of labelled feedback as training data, and the retraining trigger on it.

Each run writes every labelled feedback of a route (redacted inputs, de-duplicated by text, the
latest label winning; `export_labelled`) as one JSON-lines file where the pipeline's prepare step
reads it (`data/feedback/<route>/labelled.jsonl`, replaced each run; the bucket keeps versions).
When the labelled feedback that arrived since the last trigger reaches the policy's threshold, it
publishes `LabelledFeedbackArrived`, which an EventBridge rule turns into a pipeline execution,
and moves the mark: the next trigger needs as many new rows again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict

from sluice.events import Event
from sluice.lifecycle.config import FeedbackExportPolicy
from sluice.lifecycle.events import LabelledFeedbackArrived
from sluice.lifecycle.feedback import Feedback, TrainingRow, export_labelled
from sluice.lifecycle.ports import EventSink
from sluice.observability import logger, metrics


class FeedbackHistory(Protocol):
    def feedback_between(self, route: str, start: datetime | None, end: datetime) -> Iterator[Feedback]: ...

    def export_mark(self, route: str) -> tuple[datetime | None, int]: ...

    def set_export_mark(self, route: str, exported_at: datetime, labelled: int) -> None: ...


class TrainingDataSink(Protocol):
    def write(self, route: str, rows: Sequence[TrainingRow]) -> str:
        """Replace the route's exported feedback with `rows`; returns where it is (an S3 URI)."""
        ...


class ExportReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    route: str
    exported: int
    new_labelled: int
    triggered: bool
    export_uri: str


class FeedbackExporter:
    def __init__(
        self,
        *,
        history: FeedbackHistory,
        sink: TrainingDataSink,
        events: EventSink,
        policy: FeedbackExportPolicy,
    ) -> None:
        self._history = history
        self._sink = sink
        self._events = events
        self._policy = policy

    def run(self, routes: Sequence[str], *, now: datetime, correlation_id: str | None) -> list[ExportReport]:
        reports = []
        for route in routes:
            feedback = list(self._history.feedback_between(route, None, now))
            rows = export_labelled(feedback)
            uri = self._sink.write(route, rows)
            marked_at, _ = self._history.export_mark(route)
            new = sum(1 for row in rows if marked_at is None or row.created_at > marked_at)
            triggered = new >= self._policy.min_new_labelled
            if triggered:
                detail = LabelledFeedbackArrived(
                    route=route,
                    new_labelled=new,
                    total_labelled=len(rows),
                    threshold=self._policy.min_new_labelled,
                    export_uri=uri,
                )
                self._events.publish(Event.wrap(detail, correlation_id=correlation_id))
                # After the event: a lost publish is retried by the next run, never skipped.
                self._history.set_export_mark(route, now, len(rows))
                metrics.add_metric(name="RetrainingTriggeredByFeedback", unit=MetricUnit.Count, value=1)
            metrics.add_metric(name="FeedbackRowsExported", unit=MetricUnit.Count, value=len(rows))
            logger.info(
                "feedback exported",
                extra={"route": route, "rows": len(rows), "new_labelled": new, "triggered": triggered},
            )
            reports.append(
                ExportReport(
                    route=route, exported=len(rows), new_labelled=new, triggered=triggered, export_uri=uri
                )
            )
        return reports
