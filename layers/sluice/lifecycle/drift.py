"""Drift statistics over a window of served predictions, compared with the model's baseline.

The monitor reads only what the endpoint answered (each prediction's top label and its score),
never the inputs, so it needs no encoder, no numpy and never touches a request's text. Which
statistic decides was chosen by `make drift-bench` (bench/results/drift.md): the rate of
low-confidence answers, tested exactly against the binomial law the baseline predicts.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ConfidenceBaseline(BaseModel):
    """The share of held-out answers whose top score is below `threshold` (the `quantile`-th score)."""

    model_config = ConfigDict(frozen=True)

    quantile: float = Field(gt=0, lt=1)
    threshold: float = Field(ge=0, le=1)
    rate: float = Field(gt=0, lt=1)


class DriftBaseline(BaseModel):
    """What training writes beside the model (`baseline.json`): the monitor compares windows with it.

    Built from held-out rows the head was not fitted on, so the rates are what the model does on
    unseen traffic from the training distribution, not on rows it has memorised.
    """

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = 1
    model_version: str = Field(min_length=1)
    reference: str = Field(description="which held-out rows the baseline was computed on")
    n_reference: int = Field(ge=100)
    label_shares: dict[str, float] = Field(min_length=1, description="predicted-label distribution")
    confidence: ConfidenceBaseline

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> DriftBaseline:
        total = sum(self.label_shares.values())
        if not math.isclose(total, 1.0, abs_tol=1e-3):
            raise ValueError(f"label_shares sum to {total:.4f}, not 1")
        return self


class Prediction(BaseModel):
    """One answer of the endpoint, as the monitor sees it: the top label and its score."""

    model_config = ConfigDict(frozen=True)

    label: str
    score: float = Field(ge=0, le=1)
    model_version: str
    inference_time: datetime


class DriftTest(BaseModel):
    """One statistic on one window: its value, the value it had to exceed, and the verdict."""

    model_config = ConfigDict(frozen=True)

    method: str
    statistic: float
    threshold: float
    p_value: float | None = None
    window_size: int
    drifted: bool


def binomial_tail(n: int, p: float) -> list[float]:
    """`tail[k]` = P(X >= k) for X ~ Binomial(n, p), k = 0..n+1, summed exactly in log space."""
    if not 0 < p < 1:
        raise ValueError("p must be strictly between 0 and 1")
    log_p, log_q = math.log(p), math.log1p(-p)
    log_n = math.lgamma(n + 1)
    pmf = [
        math.exp(log_n - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q)
        for k in range(n + 1)
    ]
    tail = [0.0] * (n + 2)
    for k in range(n, -1, -1):
        tail[k] = tail[k + 1] + pmf[k]
    return [min(1.0, value) for value in tail]


def low_confidence_test(
    scores: Sequence[float], baseline: DriftBaseline, *, alpha: float = 0.01
) -> DriftTest:
    """Is the share of answers below the baseline's confidence threshold higher than chance allows?

    Under "same distribution as the baseline" the count of low-confidence answers in a window of n
    is Binomial(n, rate); the window drifts when P(X >= count) < alpha. The threshold reported is
    the smallest share that would have fired, so an operator can read how far the window is from it.
    """
    n = len(scores)
    if n == 0:
        raise ValueError("an empty window has no statistic")
    low = sum(1 for score in scores if score < baseline.confidence.threshold)
    tail = binomial_tail(n, baseline.confidence.rate)
    critical = next((k for k in range(n + 1) if tail[k] < alpha), n + 1)
    return DriftTest(
        method="low_confidence_rate",
        statistic=low / n,
        threshold=critical / n,
        p_value=tail[low],
        window_size=n,
        drifted=low >= critical,
    )


def label_psi(labels: Sequence[str], baseline: DriftBaseline, *, threshold: float = 0.25) -> DriftTest:
    """Population stability index of the predicted-label distribution (labels the baseline never
    predicted share one bin). Kept for comparison: with dozens of labels and windows of hundreds,
    its sampling noise alone exceeds the customary 0.25 (see bench/results/drift.md)."""
    n = len(labels)
    if n == 0:
        raise ValueError("an empty window has no statistic")
    counts = Counter(label if label in baseline.label_shares else "__other__" for label in labels)
    floor = 0.5 / max(n, baseline.n_reference)  # an empty bin would make the log infinite
    psi = 0.0
    for label in [*baseline.label_shares, "__other__"]:
        expected = max(baseline.label_shares.get(label, 0.0), floor)
        observed = max(counts.get(label, 0) / n, floor)
        psi += (observed - expected) * math.log(observed / expected)
    return DriftTest(
        method="label_psi", statistic=psi, threshold=threshold, window_size=n, drifted=psi > threshold
    )
