"""Composition root of the `deploy` function: rollouts with guardrails, their outcomes, rejections."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from sluice.lifecycle.config import RolloutPolicy
from sluice.lifecycle.rollout import RolloutTarget
from sluice.runtime import shared

if TYPE_CHECKING:
    from sluice.lifecycle.deploy import DeployEvents


class Settings(shared.PowertoolsSettings, shared.EventSettings):
    lifecycle_bucket: str = Field(alias="LIFECYCLE_BUCKET_NAME", min_length=3)
    # Where the drift monitor reads each version's baseline, and where the incumbent is kept.
    baseline_prefix: str = Field(alias="BASELINE_PREFIX", default="baselines")
    models_prefix: str = Field(alias="MODELS_PREFIX", default="models")
    route_table_parameter: str = Field(alias="ROUTE_TABLE_PARAMETER", min_length=1)
    targets: list[RolloutTarget] = Field(alias="ROLLOUT_TARGETS", min_length=1)
    # Model package group -> route, pipeline name -> route.
    package_groups: dict[str, str] = Field(alias="MODEL_PACKAGE_GROUPS", min_length=1)
    pipelines: dict[str, str] = Field(alias="RETRAINING_PIPELINES")
    policy: RolloutPolicy = Field(alias="ROLLOUT_POLICY", default_factory=RolloutPolicy)

    @field_validator("targets", "package_groups", "pipelines", "policy", mode="before")
    @classmethod
    def _structured_from_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


def build(settings: Settings, *, clients: shared.ClientFactory | None = None) -> DeployEvents:
    from sluice.adapters.clients import client
    from sluice.adapters.eventbridge import EventBridgePublisher
    from sluice.adapters.route_versions import ParameterRouteVersions
    from sluice.adapters.s3_baselines import S3Baselines, S3ServedModels
    from sluice.adapters.s3_gate_reports import S3GateReports
    from sluice.adapters.sagemaker_rollout import S3RolloutLedger, SageMakerRollouts
    from sluice.lifecycle.deploy import DeployEvents
    from sluice.lifecycle.rollout import Deployer

    make = clients or client
    s3, sagemaker = make("s3"), SageMakerRollouts(make("sagemaker"))
    events = EventBridgePublisher(make("events"), settings.event_bus_name)
    deployer = Deployer(
        sagemaker=sagemaker,
        ledger=S3RolloutLedger(s3, bucket=settings.lifecycle_bucket),
        routes=ParameterRouteVersions(make("ssm"), settings.route_table_parameter),
        served=S3ServedModels(
            s3,
            bucket=settings.lifecycle_bucket,
            baselines=S3Baselines(s3, bucket=settings.lifecycle_bucket, prefix=settings.baseline_prefix),
            models_prefix=settings.models_prefix,
        ),
        events=events,
        targets={target.route: target for target in settings.targets},
        policy=settings.policy,
        clock=lambda: datetime.now(UTC),
    )
    return DeployEvents(
        deployer=deployer,
        packages=sagemaker,
        reports=S3GateReports(s3, bucket=settings.lifecycle_bucket),
        events=events,
        groups=settings.package_groups,
        pipelines={name.lower(): route for name, route in settings.pipelines.items()},
        endpoints={target.endpoint: target.route for target in settings.targets},
    )
