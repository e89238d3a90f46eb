"""What the `deploy` function does with each event it is sent (EventBridge rules on SageMaker's
own events, and an operator's rollback):

- "SageMaker Model Package State Change", approved, in a route's package group: start a rollout;
- "SageMaker Endpoint State Change" of a route's endpoint: settle the rollout in flight
  (`ModelDeployed` or `ModelRolledBack`);
- "SageMaker Model Building Pipeline Execution Status Change", failed: `ModelRejected` with the
  failing slices if the golden-query gate rejected the candidate;
- `{"action": "rollback", "route": ..., "to": "v3"}`: roll the route back to that version.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from sluice.events import Event
from sluice.lifecycle.ports import EventSink
from sluice.lifecycle.rejections import GateReports, rejection
from sluice.lifecycle.rollout import Deployer, PackageVersion, RolloutRejected
from sluice.observability import logger


class PackageSource(Protocol):
    def package(self, arn: str, *, route: str) -> PackageVersion: ...

    def packages(self, group: str) -> list[dict[str, Any]]: ...


class DeployOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: str
    route: str | None = None
    outcome: str


class DeployEvents:
    def __init__(
        self,
        *,
        deployer: Deployer,
        packages: PackageSource,
        reports: GateReports,
        events: EventSink,
        groups: dict[str, str],
        pipelines: dict[str, str],
        endpoints: dict[str, str],
    ) -> None:
        self._deployer = deployer
        self._packages = packages
        self._reports = reports
        self._events = events
        self._groups = groups  # package group -> route
        self._pipelines = pipelines  # pipeline name -> route
        self._endpoints = endpoints  # endpoint -> route

    def handle(self, event: dict[str, Any]) -> DeployOutcome:
        kind = event.get("detail-type")
        detail = event.get("detail") or {}
        correlation_id = str(event.get("id") or "") or None
        if event.get("action") == "rollback":
            return self._rollback(str(event["route"]), str(event["to"]))
        if kind == "SageMaker Model Package State Change":
            return self._approved(detail)
        if kind == "SageMaker Endpoint State Change":
            endpoint = str(detail.get("EndpointName", ""))
            if endpoint not in self._endpoints:
                return DeployOutcome(action="settle", outcome="not_ours")
            outcome = self._deployer.settle(endpoint, correlation_id=correlation_id)
            return DeployOutcome(
                action="settle", route=self._endpoints[endpoint], outcome=outcome or "nothing_in_flight"
            )
        if kind == "SageMaker Model Building Pipeline Execution Status Change":
            return self._pipeline_failed(event, detail, correlation_id)
        return DeployOutcome(action="ignore", outcome="unknown_event")

    def _approved(self, detail: dict[str, Any]) -> DeployOutcome:
        route = self._groups.get(str(detail.get("ModelPackageGroupName", "")))
        if route is None or detail.get("ModelApprovalStatus") != "Approved":
            return DeployOutcome(action="rollout", route=route, outcome="not_approved_or_not_ours")
        package = self._packages.package(str(detail["ModelPackageArn"]), route=route)
        return self._start(package, reason="approved")

    def _rollback(self, route: str, version: str) -> DeployOutcome:
        group = next((g for g, r in self._groups.items() if r == route), None)
        if group is None:
            return DeployOutcome(action="rollback", route=route, outcome="unknown_route")
        for described in self._packages.packages(group):
            if f"v{described['ModelPackageVersion']}" == version:
                package = self._packages.package(described["ModelPackageArn"], route=route)
                return self._start(package, reason="operator")
        return DeployOutcome(action="rollback", route=route, outcome="unknown_version")

    def _start(self, package: PackageVersion, *, reason: Any) -> DeployOutcome:
        try:
            self._deployer.start(package, reason=reason)
        except RolloutRejected as refused:
            # Logged with the route and why (a rule), never more; the package stays approved.
            logger.warning("rollout refused", extra={"route": package.route, "why": str(refused)})
            return DeployOutcome(action="rollout", route=package.route, outcome=f"refused: {refused}")
        return DeployOutcome(action="rollout", route=package.route, outcome="started")

    def _pipeline_failed(
        self, event: dict[str, Any], detail: dict[str, Any], correlation_id: str | None
    ) -> DeployOutcome:
        if detail.get("currentPipelineExecutionStatus") != "Failed":
            return DeployOutcome(action="judge", outcome="not_failed")
        arn = str(detail.get("pipelineExecutionArn") or next(iter(event.get("resources") or []), ""))
        # arn:aws:sagemaker:<region>:<account>:pipeline/<name>/execution/<id>
        parts = arn.split("/")
        if len(parts) < 4 or parts[-2] != "execution":
            return DeployOutcome(action="judge", outcome="no_execution")
        route = self._pipelines.get(parts[-3].lower())
        if route is None:
            return DeployOutcome(action="judge", outcome="not_ours")
        rejected = rejection(route, parts[-1], self._reports)
        if rejected is None:
            return DeployOutcome(action="judge", route=route, outcome="failed_before_the_gate")
        self._events.publish(Event.wrap(rejected, correlation_id=correlation_id))
        return DeployOutcome(action="judge", route=route, outcome="rejected")
