"""Feedback accuracy per window: is a model version answering worse than the policy's floor?

Feedback is a biased sample (callers write more often when an answer was wrong), so the test is
against a stated floor, not against the held-out accuracy: with H0 "accuracy >= floor", the count
of correct answers among n feedback is at least Binomial(n, floor); the window is degraded when
P(X <= correct) < alpha, an exact one-sided test, and never on fewer than `min_feedback`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from sluice.lifecycle.drift import binomial_tail


class QualityPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    min_accuracy: float = Field(default=0.80, gt=0, lt=1)
    alpha: float = Field(default=0.01, gt=0, lt=0.5)
    min_feedback: int = Field(default=50, ge=10)


class QualityTest(BaseModel):
    model_config = ConfigDict(frozen=True)

    method: str = "feedback_accuracy_binomial"
    statistic: float
    threshold: float
    p_value: float
    window_size: int
    degraded: bool


def feedback_accuracy_test(correct: Sequence[bool], policy: QualityPolicy) -> QualityTest:
    """`correct`: one verdict per feedback in the window (Feedback.correct)."""
    n = len(correct)
    if n == 0:
        raise ValueError("an empty window has no statistic")
    right = sum(correct)
    tail = binomial_tail(n, policy.min_accuracy)
    p_value = 1.0 - tail[right + 1]  # P(X <= right)
    return QualityTest(
        statistic=right / n,
        threshold=policy.min_accuracy,
        p_value=max(0.0, p_value),
        window_size=n,
        degraded=p_value < policy.alpha,
    )
