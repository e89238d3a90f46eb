"""The scheduled drift monitor: one window of captured answers per endpoint, tested per model version,
and the same window's feedback accuracy per model version (`QualityDegraded`).

Each model version is compared with its own baseline (a canary serving v2 beside v1 is two
populations, not one drift). A window with fewer than `min_window` answers of a version is not
tested: its verdict says so, and no event is published on too little evidence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict

from sluice.events import Event
from sluice.lifecycle.config import DriftPolicy
from sluice.lifecycle.drift import DriftTest, low_confidence_test
from sluice.lifecycle.events import DriftDetected, QualityDegraded
from sluice.lifecycle.feedback import Feedback
from sluice.lifecycle.ports import BaselineSource, CapturedAnswer, CaptureSource, EventSink, FeedbackWindows
from sluice.lifecycle.quality import QualityPolicy, QualityTest, feedback_accuracy_test
from sluice.observability import logger, metrics


class MonitoredEndpoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    route: str
    endpoint: str


class WindowVerdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    route: str
    endpoint: str
    variant: str
    model_version: str
    answers: int
    outcome: Literal["drifted", "stable", "too_few_answers", "no_baseline"]
    test: DriftTest | None = None


class QualityVerdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    route: str
    variant: str
    model_version: str
    feedback: int
    outcome: Literal["degraded", "healthy", "too_little_feedback"]
    test: QualityTest | None = None


class DriftMonitor:
    def __init__(
        self,
        *,
        captures: CaptureSource,
        baselines: BaselineSource,
        events: EventSink,
        policy: DriftPolicy,
        feedback: FeedbackWindows | None = None,
        quality: QualityPolicy | None = None,
    ) -> None:
        self._feedback = feedback
        self._quality = quality or QualityPolicy()
        self._captures = captures
        self._baselines = baselines
        self._events = events
        self._policy = policy

    def run(
        self, endpoints: Sequence[MonitoredEndpoint], *, window_end: datetime, correlation_id: str | None
    ) -> list[WindowVerdict]:
        window_start = window_end - timedelta(minutes=self._policy.window_minutes)
        verdicts: list[WindowVerdict] = []
        for monitored in endpoints:
            groups: dict[tuple[str, str], list[CapturedAnswer]] = defaultdict(list)
            for answer in self._captures.answers(monitored.endpoint, window_start, window_end):
                groups[(answer.variant, answer.model_version)].append(answer)
            for (variant, model_version), answers in sorted(groups.items()):
                verdict = self._judge(monitored, variant, model_version, answers)
                verdicts.append(verdict)
                logger.info(
                    "drift window judged",
                    extra={
                        "route": monitored.route,
                        "variant": variant,
                        "model_version": model_version,
                        "answers": verdict.answers,
                        "outcome": verdict.outcome,
                    },
                )
                metrics.add_metric(name="DriftWindowsJudged", unit=MetricUnit.Count, value=1)
                if verdict.test is not None and verdict.test.drifted:
                    metrics.add_metric(name="DriftDetected", unit=MetricUnit.Count, value=1)
                    detail = DriftDetected(
                        route=monitored.route,
                        endpoint=monitored.endpoint,
                        variant=variant,
                        model_version=model_version,
                        method=verdict.test.method,
                        statistic=verdict.test.statistic,
                        threshold=verdict.test.threshold,
                        p_value=verdict.test.p_value,
                        window_start=window_start,
                        window_end=window_end,
                        window_size=verdict.test.window_size,
                    )
                    self._events.publish(Event.wrap(detail, correlation_id=correlation_id))
        return verdicts

    def judge_quality(
        self, routes: Sequence[str], *, window_end: datetime, correlation_id: str | None
    ) -> list[QualityVerdict]:
        """Each route's feedback of the window, per variant and model version, against the floor."""
        if self._feedback is None:
            return []
        window_start = window_end - timedelta(minutes=self._policy.window_minutes)
        verdicts: list[QualityVerdict] = []
        for route in sorted(set(routes)):
            groups: dict[tuple[str, str], list[Feedback]] = defaultdict(list)
            for feedback in self._feedback.feedback_between(route, window_start, window_end):
                groups[(feedback.variant or "", feedback.model_version or "")].append(feedback)
            for (variant, model_version), items in sorted(groups.items()):
                common = {"route": route, "variant": variant, "model_version": model_version}
                if len(items) < self._quality.min_feedback:
                    verdicts.append(
                        QualityVerdict(feedback=len(items), outcome="too_little_feedback", **common)
                    )
                    continue
                test = feedback_accuracy_test([item.correct for item in items], self._quality)
                verdicts.append(
                    QualityVerdict(
                        feedback=len(items),
                        outcome="degraded" if test.degraded else "healthy",
                        test=test,
                        **common,
                    )
                )
                logger.info(
                    "feedback window judged",
                    extra={**common, "feedback": len(items), "degraded": test.degraded},
                )
                if test.degraded:
                    metrics.add_metric(name="QualityDegraded", unit=MetricUnit.Count, value=1)
                    detail = QualityDegraded(
                        **common,
                        method=test.method,
                        statistic=test.statistic,
                        threshold=test.threshold,
                        p_value=test.p_value,
                        window_start=window_start,
                        window_end=window_end,
                        window_size=test.window_size,
                    )
                    self._events.publish(Event.wrap(detail, correlation_id=correlation_id))
        return verdicts

    def _judge(
        self, monitored: MonitoredEndpoint, variant: str, model_version: str, answers: list[CapturedAnswer]
    ) -> WindowVerdict:
        common = {
            "route": monitored.route,
            "endpoint": monitored.endpoint,
            "variant": variant,
            "model_version": model_version,
            "answers": len(answers),
        }
        if len(answers) < self._policy.min_window:
            return WindowVerdict(outcome="too_few_answers", **common)
        baseline = self._baselines.baseline(model_version)
        if baseline is None:
            return WindowVerdict(outcome="no_baseline", **common)
        recent = sorted(answers, key=lambda answer: answer.inference_time)[-self._policy.max_window :]
        test = low_confidence_test([answer.score for answer in recent], baseline, alpha=self._policy.alpha)
        return WindowVerdict(outcome="drifted" if test.drifted else "stable", test=test, **common)
