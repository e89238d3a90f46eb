"""Lifecycle events on the platform bus: drift found, a candidate judged by the golden-query gate.

They carry statistics, thresholds, windows, ids and slice names only, never a request's text.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

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


class QualityDegraded(EventDetail):
    """A window's feedback accuracy of one model version is significantly below the policy's floor."""

    event_name: ClassVar[str] = "QualityDegraded"
    event_version: ClassVar[int] = 1

    route: str
    variant: str
    model_version: str
    method: str
    statistic: float
    threshold: float
    p_value: float
    window_start: datetime
    window_end: datetime
    window_size: int


class LabelledFeedbackArrived(EventDetail):
    """Enough new labelled feedback since the last export that did: retraining can use it."""

    event_name: ClassVar[str] = "LabelledFeedbackArrived"
    event_version: ClassVar[int] = 1

    route: str
    new_labelled: int
    total_labelled: int
    threshold: int
    export_uri: str


class ModelDeployed(EventDetail):
    """A model version took all of its route's traffic after its canary passed."""

    event_name: ClassVar[str] = "ModelDeployed"
    event_version: ClassVar[int] = 1

    route: str
    endpoint: str
    model_version: str
    previous_version: str | None
    endpoint_config: str
    model_package_arn: str | None = None


class ModelRolledBack(EventDetail):
    """A rollout was undone: an alarm fired during the canary, or an operator asked for a version."""

    event_name: ClassVar[str] = "ModelRolledBack"
    event_version: ClassVar[int] = 1

    route: str
    endpoint: str
    model_version: str
    restored_version: str
    reason: str
    alarms: list[str] = Field(default_factory=list)
