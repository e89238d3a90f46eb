"""The lifecycle part of the deployment config (cdk.json `sluice.lifecycle`), validated at synth."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DriftPolicy(BaseModel):
    """How the monitor decides; the defaults are the ones `make drift-bench` measured."""

    model_config = ConfigDict(frozen=True)

    window_minutes: int = Field(default=60, ge=5, le=7 * 24 * 60)
    alpha: float = Field(default=0.01, gt=0, lt=0.5)
    min_window: int = Field(default=200, ge=20)
    # Bounds the monitor's cost on a busy endpoint: the most recent answers are the window.
    max_window: int = Field(default=5000, ge=100)


class LifecycleConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Routes whose model the platform monitors and retrains (model/train.py trains the intent model).
    routes: list[str] = Field(default_factory=lambda: ["intent"])
    drift: DriftPolicy = DriftPolicy()
    # Retraining also runs on a schedule, so slow drift and accumulated feedback are picked up.
    retrain_schedule: str = Field("cron(0 3 ? * SUN *)", pattern=r"^(cron|rate)\(.+\)$")
    training_instance_type: str = Field("ml.g5.xlarge", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    processing_instance_type: str = Field("ml.m5.xlarge", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
