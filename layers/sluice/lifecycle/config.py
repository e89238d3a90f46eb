"""The lifecycle part of the deployment config (cdk.json `sluice.lifecycle`), validated at synth."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sluice.lifecycle.quality import QualityPolicy


class DriftPolicy(BaseModel):
    """How the monitor decides; the defaults are the ones `make drift-bench` measured."""

    model_config = ConfigDict(frozen=True)

    window_minutes: int = Field(default=60, ge=5, le=7 * 24 * 60)
    alpha: float = Field(default=0.01, gt=0, lt=0.5)
    min_window: int = Field(default=200, ge=20)
    # Bounds the monitor's cost on a busy endpoint: the most recent answers are the window.
    max_window: int = Field(default=5000, ge=100)


class FeedbackExportPolicy(BaseModel):
    """How often labelled feedback is exported for training, and how much new of it starts a retraining."""

    model_config = ConfigDict(frozen=True)

    export_minutes: int = Field(default=60, ge=5, le=7 * 24 * 60)
    # A retraining costs a GPU hour; a few corrections do not move a 10,000-row training set.
    min_new_labelled: int = Field(default=200, ge=1)


class RolloutPolicy(BaseModel):
    """How the deploy function shifts traffic to a new version (SageMaker deployment guardrails)."""

    model_config = ConfigDict(frozen=True)

    # Canary: this share of the endpoint's capacity first, then all of it after the wait.
    canary_percent: int = Field(default=10, ge=1, le=50)
    canary_wait_seconds: int = Field(default=600, ge=0, le=3600)
    # After all traffic moved, the alarms are still watched this long before the old fleet goes.
    termination_wait_seconds: int = Field(default=600, ge=0, le=3600)
    # Per deployment, bounded by UpdateEndpoint's MaximumExecutionTimeoutInSeconds (600..28800).
    maximum_execution_timeout_seconds: int = Field(default=3600, ge=600, le=28800)
    # Rollback alarms: the variant's 5XX share, and its model latency p99 (ms) over one minute.
    max_error_rate: float = Field(default=0.05, gt=0, lt=1)
    max_latency_ms: int = Field(default=1000, ge=10)


class LifecycleConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Routes whose model the platform monitors and retrains (model/train.py trains the intent model).
    routes: list[str] = Field(default_factory=lambda: ["intent"])
    # Each monitored route's base training data, a directory of the repository with train.csv and
    # test.csv (model/train.py's columns): the stack copies it into the lifecycle bucket, where
    # every retraining reads it beside the labelled feedback.
    base_data: dict[str, str] = Field(default_factory=lambda: {"intent": "data/banking77"})
    drift: DriftPolicy = DriftPolicy()
    quality: QualityPolicy = QualityPolicy()
    feedback: FeedbackExportPolicy = FeedbackExportPolicy()
    rollout: RolloutPolicy = RolloutPolicy()
    # Retraining also runs on a schedule, so slow drift and accumulated feedback are picked up.
    retrain_schedule: str = Field("cron(0 3 ? * SUN *)", pattern=r"^(cron|rate)\(.+\)$")
    training_instance_type: str = Field("ml.g5.xlarge", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    processing_instance_type: str = Field("ml.m5.xlarge", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")

    @model_validator(mode="after")
    def _every_route_has_base_data(self) -> LifecycleConfig:
        missing = [route for route in self.routes if route not in self.base_data]
        if missing:
            raise ValueError(f"lifecycle.base_data has no directory for routes {missing}")
        return self
