"""Feedback accuracy per window (QualityDegraded) and the training export's de-duplication."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sluice.events import Event
from sluice.lifecycle.config import DriftPolicy
from sluice.lifecycle.feedback import Feedback, export_labelled
from sluice.lifecycle.monitor import DriftMonitor
from sluice.lifecycle.quality import QualityPolicy, feedback_accuracy_test

END = datetime(2026, 12, 1, 12, tzinfo=UTC)


def feedback(
    n: int, correct: int, *, version: str = "v1", at: datetime = END - timedelta(minutes=30)
) -> list[Feedback]:
    return [
        Feedback(
            tenant="a",
            job_id=f"{version}-{i}",
            route="intent",
            variant="primary",
            model_version=version,
            rating=5 if i < correct else 1,
            label=None,
            predicted_label="card_arrival",
            comment=None,
            created_at=at,
        )
        for i in range(n)
    ]


class Windows:
    def __init__(self, items: list[Feedback]) -> None:
        self.items = items

    def feedback_between(self, route: str, start: datetime | None, end: datetime) -> Iterator[Feedback]:
        yield from (
            f
            for f in self.items
            if f.route == route and (start is None or f.created_at >= start) and f.created_at < end
        )


class Sink:
    def __init__(self) -> None:
        self.events: list[Event[Any]] = []

    def publish(self, event: Event[Any]) -> None:
        self.events.append(event)


def monitor(items: list[Feedback], sink: Sink) -> DriftMonitor:
    return DriftMonitor(
        captures=None,  # type: ignore[arg-type]  # judge_quality reads no capture
        baselines=None,  # type: ignore[arg-type]
        events=sink,
        policy=DriftPolicy(window_minutes=60),
        feedback=Windows(items),
        quality=QualityPolicy(min_accuracy=0.8, alpha=0.01, min_feedback=50),
    )


@pytest.mark.parametrize(
    ("n", "correct", "degraded"),
    [
        pytest.param(100, 80, False, id="at-the-floor"),
        pytest.param(100, 72, False, id="a-little-below-within-chance"),
        pytest.param(100, 65, True, id="well-below"),
        pytest.param(60, 30, True, id="half-wrong"),
    ],
)
def test_accuracy_is_degraded_only_when_significantly_below_the_floor(
    n: int, correct: int, degraded: bool
) -> None:
    test = feedback_accuracy_test(
        [i < correct for i in range(n)], QualityPolicy(min_accuracy=0.8, alpha=0.01)
    )
    assert test.degraded is degraded
    assert test.statistic == pytest.approx(correct / n)


def test_the_monitor_publishes_quality_degraded_for_the_version_that_answers_worse() -> None:
    # Given one window's feedback: v1 right 85 of 100 times, the canary's v2 right 55 of 100
    sink = Sink()
    items = feedback(100, 85, version="v1") + feedback(100, 55, version="v2")
    # When the monitor judges the window ending at 12:00
    verdicts = monitor(items, sink).judge_quality(["intent"], window_end=END, correlation_id="c1")
    # Then v2 alone is degraded, and one QualityDegraded names it with the statistic and window
    assert [(v.model_version, v.outcome) for v in verdicts] == [("v1", "healthy"), ("v2", "degraded")]
    [event] = sink.events
    assert event.metadata.name == "QualityDegraded"
    assert event.detail.model_version == "v2"  # type: ignore[attr-defined]
    assert event.detail.statistic == pytest.approx(0.55)  # type: ignore[attr-defined]
    assert event.detail.window_end == END  # type: ignore[attr-defined]


def test_too_little_feedback_or_feedback_outside_the_window_is_not_judged() -> None:
    sink = Sink()
    items = feedback(20, 0) + feedback(200, 0, version="old", at=END - timedelta(hours=3))
    verdicts = monitor(items, sink).judge_quality(["intent"], window_end=END, correlation_id=None)
    assert [(v.model_version, v.outcome) for v in verdicts] == [("v1", "too_little_feedback")]
    assert sink.events == []


def test_the_export_keeps_one_row_per_text_the_latest_label_and_never_the_comment() -> None:
    base = dict(tenant="a", route="intent", variant="p", model_version="v1", rating=1, predicted_label="x")
    items = [
        Feedback(
            job_id="1",
            label="card_arrival",
            comment="see jo",
            input={"text": "Where is my card"},
            created_at=END - timedelta(hours=2),
            **base,
        ),  # type: ignore[arg-type]
        Feedback(
            job_id="2",
            label="card_delivery_estimate",
            comment=None,
            input={"text": "where  is my CARD "},
            created_at=END - timedelta(hours=1),
            **base,
        ),  # type: ignore[arg-type]
        Feedback(job_id="3", label=None, comment=None, input={"text": "rated only"}, created_at=END, **base),  # type: ignore[arg-type]
    ]
    rows = export_labelled(items)
    assert [(row.text, row.label) for row in rows] == [("where  is my CARD", "card_delivery_estimate")]
    assert "comment" not in rows[0].model_dump()
