"""Lifecycle events on the platform bus: drift found, a candidate judged by the golden-query gate.

They carry statistics, thresholds, windows, ids and slice names only, never a request's text.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sluice.events import EventDetail


class DriftDetected(EventDetail):
    """A window of served answers differs from the model's baseline beyond the test's threshold."""

    event_name: ClassVar[str] = "DriftDetected"
    event_version: ClassVar[int] = 1

    route: str
    endpoint: str
    variant: str
    model_version: str
    method: str
    statistic: float
    threshold: float
    p_value: float | None
    window_start: datetime
    window_end: datetime
    window_size: int


class ModelRejected(EventDetail):
    """The golden-query gate refused a candidate; `failed_slices` says where it was worse."""

    event_name: ClassVar[str] = "ModelRejected"
    event_version: ClassVar[int] = 1

    route: str
    candidate_version: str
    incumbent_version: str
    failed_slices: list[str]
    reasons: list[str]
    report_uri: str | None = None


class ModelApproved(EventDetail):
    """The golden-query gate found the candidate not worse overall, on any protected slice, or in latency."""

    event_name: ClassVar[str] = "ModelApproved"
    event_version: ClassVar[int] = 1

    route: str
    candidate_version: str
    incumbent_version: str
    report_uri: str | None = None
