"""Drift statistics and the monitor's decisions, with fakes for captures, baselines and the bus."""

from __future__ import annotations

import importlib.util
import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sluice.events import Event
from sluice.lifecycle.config import DriftPolicy
from sluice.lifecycle.drift import (
    ConfidenceBaseline,
    DriftBaseline,
    binomial_tail,
    label_psi,
    low_confidence_test,
)
from sluice.lifecycle.monitor import DriftMonitor, MonitoredEndpoint
from sluice.lifecycle.ports import CapturedAnswer

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LABELS = ["card_arrival", "top_up_failed", "lost_or_stolen_card", "exchange_rate"]


def make_baseline(model_version: str = "v1", rate: float = 0.1, threshold: float = 0.6) -> DriftBaseline:
    return DriftBaseline(
        model_version=model_version,
        reference="test.csv",
        n_reference=3000,
        label_shares={label: 1 / len(LABELS) for label in LABELS},
        confidence=ConfidenceBaseline(quantile=0.1, threshold=threshold, rate=rate),
    )


def window_scores(n: int, low_share: float, seed: int = 0) -> list[float]:
    """n scores of which a `low_share` fraction (drawn at random) is below 0.6."""
    rng = random.Random(seed)
    return [rng.uniform(0.1, 0.59) if rng.random() < low_share else rng.uniform(0.61, 1.0) for _ in range(n)]


class TestBinomialTail:
    def test_matches_closed_forms(self) -> None:
        # Given a fair coin tossed 10 times
        # When the tail is computed
        tail = binomial_tail(10, 0.5)
        # Then P(X >= 0) is 1, P(X >= 10) is 1/1024 and P(X >= 11) is 0
        assert tail[0] == pytest.approx(1.0)
        assert tail[10] == pytest.approx(1 / 1024)
        assert tail[11] == 0.0
        assert tail[6] == pytest.approx(sum(math.comb(10, k) for k in range(6, 11)) / 1024)

    def test_refuses_degenerate_rates(self) -> None:
        with pytest.raises(ValueError, match="strictly between"):
            binomial_tail(10, 0.0)


class TestLowConfidence:
    def test_an_in_distribution_window_does_not_fire(self) -> None:
        # Given a baseline in which 10% of answers are below 0.6, and windows with the same share
        baseline = make_baseline()
        # When 50 such windows are tested at alpha 0.01
        results = [
            low_confidence_test(window_scores(300, 0.1, seed), baseline, alpha=0.01) for seed in range(50)
        ]
        # Then at most one fires (chance alone: 0.5 expected)
        assert sum(result.drifted for result in results) <= 1

    def test_a_shifted_window_fires_with_its_statistic_and_threshold(self) -> None:
        # Given a window in which 30% of answers are below the baseline's threshold
        baseline = make_baseline()
        scores = window_scores(300, 0.3)
        # When it is tested
        result = low_confidence_test(scores, baseline, alpha=0.01)
        # Then it fires, reporting the share seen, the share that fires and a tiny p-value
        assert result.drifted
        assert result.statistic == pytest.approx(sum(s < 0.6 for s in scores) / 300)
        assert 0.1 < result.threshold < result.statistic
        assert result.p_value is not None
        assert result.p_value < 1e-6
        assert result.window_size == 300

    def test_the_threshold_is_the_smallest_share_that_fires(self) -> None:
        # Given a baseline and the reported threshold of a window of 200
        baseline = make_baseline()
        threshold = low_confidence_test([0.9] * 200, baseline).threshold
        critical = round(threshold * 200)
        # When a window has exactly that many low answers, or one fewer
        at = low_confidence_test([0.1] * critical + [0.9] * (200 - critical), baseline)
        below = low_confidence_test([0.1] * (critical - 1) + [0.9] * (201 - critical), baseline)
        # Then the first fires and the second does not
        assert at.drifted
        assert not below.drifted

    def test_an_empty_window_has_no_statistic(self) -> None:
        with pytest.raises(ValueError, match="empty"):
            low_confidence_test([], make_baseline())


class TestLabelPsi:
    def test_the_baseline_distribution_scores_zero(self) -> None:
        # Given a window whose labels have exactly the baseline's shares
        labels = LABELS * 50
        # When its PSI is computed
        result = label_psi(labels, make_baseline())
        # Then it is zero and does not fire
        assert result.statistic == pytest.approx(0.0, abs=1e-9)
        assert not result.drifted

    def test_labels_the_baseline_never_saw_make_it_fire(self) -> None:
        labels = ["new_intent"] * 100 + LABELS * 25
        assert label_psi(labels, make_baseline()).drifted


class TestBaselineFromTraining:
    def test_model_baseline_writes_what_the_monitor_reads(self) -> None:
        # Given the function train.py calls, on scores of held-out rows
        spec = importlib.util.spec_from_file_location("model_baseline", ROOT / "model" / "baseline.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        scores = np.linspace(0.05, 1.0, 400)
        labels = [LABELS[i % 4] for i in range(400)]
        # When it builds the baseline
        raw = module.build_baseline(
            model_version="v9", top_labels=labels, top_scores=scores, reference="test.csv"
        )
        # Then the monitor's model accepts it, with a tenth of the rows below the threshold
        baseline = DriftBaseline.model_validate(raw)
        assert baseline.confidence.rate == pytest.approx(0.1, abs=0.005)
        assert baseline.label_shares == {label: 0.25 for label in LABELS}


# --- the monitor, with fakes ---------------------------------------------------------------------


class FakeCaptures:
    def __init__(self, answers: list[CapturedAnswer]) -> None:
        self._answers = answers
        self.asked: list[tuple[str, datetime, datetime]] = []

    def answers(self, endpoint: str, start: datetime, end: datetime) -> Iterator[CapturedAnswer]:
        self.asked.append((endpoint, start, end))
        return iter([a for a in self._answers if start <= a.inference_time < end])


class FakeBaselines:
    def __init__(self, *baselines: DriftBaseline) -> None:
        self._by_version = {baseline.model_version: baseline for baseline in baselines}

    def baseline(self, model_version: str) -> DriftBaseline | None:
        return self._by_version.get(model_version)


class RecordingEvents:
    def __init__(self) -> None:
        self.published: list[Event[Any]] = []

    def publish(self, event: Event[Any]) -> None:
        self.published.append(event)


def answers(
    n: int, low_share: float, *, variant: str = "primary", version: str = "v1", seed: int = 0
) -> list[CapturedAnswer]:
    return [
        CapturedAnswer(
            event_id=f"{variant}-{seed}-{i}",
            variant=variant,
            model_version=version,
            label=LABELS[i % 4],
            score=score,
            inference_time=NOW - timedelta(minutes=30, seconds=i),
        )
        for i, score in enumerate(window_scores(n, low_share, seed))
    ]


def run_monitor(
    captured: list[CapturedAnswer], *baselines: DriftBaseline
) -> tuple[list[Any], RecordingEvents]:
    events = RecordingEvents()
    monitor = DriftMonitor(
        captures=FakeCaptures(captured),
        baselines=FakeBaselines(*baselines),
        events=events,
        policy=DriftPolicy(window_minutes=60, alpha=0.01, min_window=200),
    )
    verdicts = monitor.run(
        [MonitoredEndpoint(route="intent", endpoint="sluice-intent")], window_end=NOW, correlation_id="c-1"
    )
    return verdicts, events


class TestDriftMonitor:
    def test_a_shifted_window_publishes_drift_detected(self) -> None:
        # Given an hour of answers, 35% of them below the baseline's threshold
        captured = answers(300, 0.35)
        # When the monitor runs at the end of that hour
        verdicts, events = run_monitor(captured, make_baseline())
        # Then it publishes one DriftDetected with the statistic, threshold and window
        assert [verdict.outcome for verdict in verdicts] == ["drifted"]
        [event] = events.published
        assert event.metadata.name == "DriftDetected"
        assert event.metadata.correlation_id == "c-1"
        detail = event.detail.model_dump()
        assert detail["route"] == "intent"
        assert detail["model_version"] == "v1"
        assert detail["method"] == "low_confidence_rate"
        assert detail["statistic"] > detail["threshold"]
        assert detail["window_start"] == NOW - timedelta(hours=1)
        assert detail["window_end"] == NOW
        assert detail["window_size"] == 300

    def test_an_in_distribution_window_publishes_nothing(self) -> None:
        verdicts, events = run_monitor(answers(300, 0.1), make_baseline())
        assert [verdict.outcome for verdict in verdicts] == ["stable"]
        assert events.published == []

    def test_each_model_version_is_judged_against_its_own_baseline(self) -> None:
        # Given a canary serving v2 (whose baseline expects 40% low answers) beside v1
        captured = answers(300, 0.1) + answers(300, 0.4, variant="canary", version="v2", seed=1)
        # When the monitor runs
        verdicts, events = run_monitor(captured, make_baseline("v1"), make_baseline("v2", rate=0.4))
        # Then neither drifted: v2's low share is normal for v2
        assert {(v.variant, v.outcome) for v in verdicts} == {("primary", "stable"), ("canary", "stable")}
        assert events.published == []

    def test_too_few_answers_or_no_baseline_are_reported_not_published(self) -> None:
        captured = answers(50, 0.9) + answers(300, 0.9, variant="canary", version="v-unknown", seed=2)
        verdicts, events = run_monitor(captured, make_baseline())
        assert {(v.variant, v.outcome) for v in verdicts} == {
            ("primary", "too_few_answers"),
            ("canary", "no_baseline"),
        }
        assert events.published == []

    def test_answers_outside_the_window_are_not_counted(self) -> None:
        # Given drifted answers from two hours ago and normal ones within the hour
        old = [
            a.model_copy(update={"inference_time": NOW - timedelta(hours=2)})
            for a in answers(300, 0.9, seed=3)
        ]
        verdicts, _ = run_monitor(old + answers(300, 0.1), make_baseline())
        assert [(v.answers, v.outcome) for v in verdicts] == [(300, "stable")]
