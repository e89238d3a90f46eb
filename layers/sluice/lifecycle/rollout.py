"""Rollout of an approved model version: a new model and endpoint config, an UpdateEndpoint with
SageMaker deployment guardrails (blue/green, canary traffic shifting, automatic rollback on
CloudWatch alarms), then the route table's version label once the endpoint is in service again.

SageMaker runs the canary and the rollback itself; this module prepares the update, checks the
deploy-time rules the API only reports after the fact, and reads the outcome when the endpoint
settles: the new config in service is `ModelDeployed`, the old one back is `ModelRolledBack`.
https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green-canary.html
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any, Literal, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from sluice.events import Event
from sluice.lifecycle.config import RolloutPolicy
from sluice.lifecycle.events import ModelDeployed, ModelRolledBack
from sluice.lifecycle.ports import EventSink
from sluice.observability import logger, metrics

# UpdateEndpoint: "AutoRollbackConfiguration.Alarms: Minimum 1, Maximum 10 items."
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AutoRollbackConfig.html
MAX_ROLLBACK_ALARMS = 10
_NAME = re.compile(r"[^a-zA-Z0-9-]+")


class RolloutRejected(ValueError):
    """A rollout that SageMaker would refuse or run without its guardrails."""


class RolloutTarget(BaseModel):
    """Where a route's new versions go: its endpoint, the variant that takes them, the alarms."""

    model_config = ConfigDict(frozen=True)

    route: str
    endpoint: str
    variant: str
    alarms: tuple[str, ...] = Field(min_length=1)


class VariantSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    model_name: str
    instance_count: int


class EndpointState(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: str
    config_name: str
    variants: tuple[VariantSpec, ...]
    failure_reason: str | None = None


class PackageVersion(BaseModel):
    """An approved model package: its version label and where its artifact is."""

    model_config = ConfigDict(frozen=True)

    arn: str
    route: str
    model_version: str
    image: str
    model_data_url: str
    # Its drift baseline (the golden-query gate's evaluation output holds the candidate's), or None
    # for a package registered without one: the monitor then reports `no_baseline` for it.
    baseline_uri: str | None = None


class Rollout(BaseModel):
    """A rollout in flight: kept until the endpoint settles, then judged."""

    model_config = ConfigDict(frozen=True)

    route: str
    endpoint: str
    variant: str
    model_version: str
    previous_version: str | None
    previous_config: str
    new_config: str
    model_name: str
    model_package_arn: str | None
    # What becomes the retraining's incumbent once the version is in service (None in a record
    # written before this field existed: the incumbent is then left as it was).
    model_data_url: str | None = None
    reason: Literal["approved", "operator"]
    alarms: tuple[str, ...]
    started_at: datetime


class EndpointControl(Protocol):
    """The SageMaker control plane, as much of it as a rollout needs (sluice.adapters)."""

    def endpoint(self, name: str) -> EndpointState: ...

    def create_model_like(self, *, name: str, template_model: str, image: str, model_data_url: str) -> None:
        """A model with `template_model`'s role and environment, serving this image and artifact."""
        ...

    def create_config_like(self, *, name: str, template_config: str, variant: str, model_name: str) -> None:
        """A copy of `template_config` (variants, capture, keys) with `variant` on `model_name`."""
        ...

    def update_endpoint(self, *, endpoint: str, config_name: str, deployment: dict[str, Any]) -> None: ...


class RolloutLedger(Protocol):
    def pending(self, endpoint: str) -> Rollout | None: ...

    def start(self, rollout: Rollout) -> None: ...

    def finish(self, rollout: Rollout, outcome: str) -> None: ...


class ServedModels(Protocol):
    """What the lifecycle keeps of the versions it serves (sluice.adapters): each one's drift
    baseline where the monitor looks for it, and the artifact in service, which the next
    retraining's golden-query gate compares its candidate with."""

    def publish_baseline(self, baseline_uri: str) -> str | None:
        """Store the baseline found at `baseline_uri` for the monitor; its model version, or None
        if nothing is there."""
        ...

    def set_incumbent(self, route: str, model_data_url: str) -> None: ...


class RouteVersions(Protocol):
    def model_version(self, route: str, variant: str) -> str | None: ...

    def set_model_version(self, route: str, variant: str, version: str) -> None: ...


def deployment_config(
    policy: RolloutPolicy, *, instance_count: int, alarms: tuple[str, ...]
) -> dict[str, Any]:
    """UpdateEndpoint's DeploymentConfig: blue/green with a canary, rolled back on any alarm.

    The rules SageMaker states and a linter cannot see (tests/infra/test_rollout_rules.py):
    - the canary is at most 50% of the new fleet's capacity (the canary page), so a fleet of one
      instance cannot have a canary: it shifts all at once, still baked and still rolled back
      on the alarms, and the report says so;
    - MaximumExecutionTimeoutInSeconds (600-28800) exceeds the canary wait plus the termination
      wait (BlueGreenUpdatePolicy), each 0-3600;
    - 1 to 10 rollback alarms (AutoRollbackConfig).
    """
    if not 1 <= len(alarms) <= MAX_ROLLBACK_ALARMS:
        raise RolloutRejected(
            f"a rollout needs 1 to {MAX_ROLLBACK_ALARMS} rollback alarms, not {len(alarms)}"
        )
    waits = policy.canary_wait_seconds + policy.termination_wait_seconds
    if policy.maximum_execution_timeout_seconds <= waits:
        raise RolloutRejected(
            "maximum_execution_timeout_seconds must exceed the canary and termination waits"
        )
    canary_instances = math.ceil(instance_count * policy.canary_percent / 100)
    if canary_instances * 2 <= instance_count:
        routing: dict[str, Any] = {
            "Type": "CANARY",
            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": policy.canary_percent},
            "WaitIntervalInSeconds": policy.canary_wait_seconds,
        }
    else:
        routing = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": policy.canary_wait_seconds}
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": policy.termination_wait_seconds,
            "MaximumExecutionTimeoutInSeconds": policy.maximum_execution_timeout_seconds,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in alarms]},
    }


def resource_name(*parts: str, limit: int = 63) -> str:
    """A SageMaker model or endpoint config name: [a-zA-Z0-9-], at most 63 characters."""
    name = "-".join(_NAME.sub("-", part).strip("-") for part in parts if part)
    return name[:limit].rstrip("-")


class Deployer:
    def __init__(
        self,
        *,
        sagemaker: EndpointControl,
        ledger: RolloutLedger,
        routes: RouteVersions,
        served: ServedModels,
        events: EventSink,
        targets: dict[str, RolloutTarget],
        policy: RolloutPolicy,
        clock: Any,
    ) -> None:
        self._sagemaker = sagemaker
        self._ledger = ledger
        self._routes = routes
        self._served = served
        self._events = events
        self._targets = targets
        self._policy = policy
        self._clock = clock

    def start(
        self, package: PackageVersion, *, reason: Literal["approved", "operator"] = "approved"
    ) -> Rollout:
        """Create the model and config for `package` and start the guarded update."""
        target = self._targets.get(package.route)
        if target is None:
            raise RolloutRejected("the package's route has no rollout target")
        pending = self._ledger.pending(target.endpoint)
        if pending is not None:
            # One update at a time: SageMaker refuses UpdateEndpoint while one is running.
            raise RolloutRejected("a rollout of this endpoint is already in flight")
        state = self._sagemaker.endpoint(target.endpoint)
        if state.status != "InService":
            raise RolloutRejected("the endpoint is not in service")
        variant = next((v for v in state.variants if v.name == target.variant), None)
        if variant is None:
            raise RolloutRejected("the endpoint has no variant of the rollout target's name")
        stamp = self._clock().strftime("%Y%m%d%H%M%S")
        model_name = resource_name(target.endpoint, package.model_version, stamp)
        config_name = resource_name(target.endpoint, package.model_version, stamp, "cfg")
        deployment = deployment_config(
            self._policy, instance_count=variant.instance_count, alarms=target.alarms
        )
        # Published before the canary takes traffic, so the monitor judges its first window too;
        # and before anything is created, so a failure here leaves nothing behind.
        self._publish_baseline(package)
        self._sagemaker.create_model_like(
            name=model_name,
            template_model=variant.model_name,
            image=package.image,
            model_data_url=package.model_data_url,
        )
        # Same variant names as the config in service: blue/green requires it (exclusions page).
        self._sagemaker.create_config_like(
            name=config_name, template_config=state.config_name, variant=target.variant, model_name=model_name
        )
        rollout = Rollout(
            route=package.route,
            endpoint=target.endpoint,
            variant=target.variant,
            model_version=package.model_version,
            previous_version=self._routes.model_version(package.route, target.variant),
            previous_config=state.config_name,
            new_config=config_name,
            model_name=model_name,
            model_package_arn=package.arn,
            model_data_url=package.model_data_url,
            reason=reason,
            alarms=target.alarms,
            started_at=self._clock(),
        )
        # Recorded before the update: an endpoint that settles must find what it was asked to do.
        self._ledger.start(rollout)
        self._sagemaker.update_endpoint(
            endpoint=target.endpoint, config_name=config_name, deployment=deployment
        )
        logger.info(
            "rollout started",
            extra={
                "route": rollout.route,
                "model_version": rollout.model_version,
                "traffic": deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"],
            },
        )
        return rollout

    def _publish_baseline(self, package: PackageVersion) -> None:
        published = self._served.publish_baseline(package.baseline_uri) if package.baseline_uri else None
        if published is None:
            # Not a reason to hold the rollout back (a rollback to a version registered by hand
            # must still go), but the drift monitor cannot judge this version: say so, and count it.
            logger.warning(
                "rollout without a drift baseline",
                extra={"route": package.route, "model_version": package.model_version},
            )
            metrics.add_metric(name="RolloutWithoutBaseline", unit=MetricUnit.Count, value=1)
        else:
            logger.info(
                "drift baseline published",
                extra={
                    "route": package.route,
                    "model_version": package.model_version,
                    "baseline_of": published,
                },
            )

    def _record_incumbent(self, route: str, model_data_url: str) -> None:
        """After the rollout is settled and announced: a copy that fails must not leave the rollout
        pending (every later one would be refused as in flight). The next retraining then gates
        against the previous incumbent; the metric and the log say so."""
        try:
            self._served.set_incumbent(route, model_data_url)
        except Exception as error:  # any failure of the copy, reported below
            logger.warning(
                "incumbent not recorded", extra={"route": route, "error_type": type(error).__name__}
            )
            metrics.add_metric(name="IncumbentNotRecorded", unit=MetricUnit.Count, value=1)

    def settle(self, endpoint: str, *, correlation_id: str | None) -> str | None:
        """The endpoint is no longer updating: judge the rollout in flight, if any."""
        rollout = self._ledger.pending(endpoint)
        if rollout is None:
            return None
        state = self._sagemaker.endpoint(endpoint)
        if state.status in ("Updating", "SystemUpdating", "RollingBack", "Creating"):
            return None  # not settled yet: a later state change settles it
        detail: ModelDeployed | ModelRolledBack
        if state.status == "InService" and state.config_name == rollout.new_config:
            self._routes.set_model_version(rollout.route, rollout.variant, rollout.model_version)
            outcome = "deployed"
            if rollout.reason == "operator":
                # An operator's rollback to an earlier version, done: recorded as a rollback.
                detail = ModelRolledBack(
                    route=rollout.route,
                    endpoint=endpoint,
                    model_version=rollout.previous_version or "",
                    restored_version=rollout.model_version,
                    reason="operator",
                )
            else:
                detail = ModelDeployed(
                    route=rollout.route,
                    endpoint=endpoint,
                    model_version=rollout.model_version,
                    previous_version=rollout.previous_version,
                    endpoint_config=rollout.new_config,
                    model_package_arn=rollout.model_package_arn,
                )
        else:
            # SageMaker rolled back (an alarm fired, or the new fleet never became healthy): the
            # old config serves and the route table keeps the old version.
            detail = ModelRolledBack(
                route=rollout.route,
                endpoint=endpoint,
                model_version=rollout.model_version,
                restored_version=rollout.previous_version or "",
                reason="alarm_or_failure"
                if state.status == "InService"
                else f"endpoint_{state.status.lower()}",
                alarms=list(rollout.alarms),
            )
            outcome = "rolled_back"
        self._ledger.finish(rollout, outcome)
        self._events.publish(Event.wrap(detail, correlation_id=correlation_id))
        if outcome == "deployed" and rollout.model_data_url is not None:
            self._record_incumbent(rollout.route, rollout.model_data_url)
        metrics.add_metric(
            name="ModelDeployed" if isinstance(detail, ModelDeployed) else "ModelRolledBack",
            unit=MetricUnit.Count,
            value=1,
        )
        logger.info(
            "rollout settled",
            extra={"route": rollout.route, "model_version": rollout.model_version, "outcome": outcome},
        )
        return outcome
