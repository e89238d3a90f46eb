"""Rollout with deployment guardrails: the DeploymentConfig's rules, a canary promoted, a canary
rolled back when its alarm fires, an operator's rollback, and a gate rejection's event.

SageMaker runs the canary and the rollback; `GuardedEndpoint` below plays its documented part
(https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green-canary.html):
the new config takes the canary share, and if any rollback alarm is in ALARM during the bake,
all traffic returns to the old config; else the new config takes everything.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sluice.events import Event
from sluice.lifecycle.config import RolloutPolicy
from sluice.lifecycle.deploy import DeployEvents
from sluice.lifecycle.rollout import (
    Deployer,
    EndpointState,
    PackageVersion,
    Rollout,
    RolloutRejected,
    RolloutTarget,
    VariantSpec,
    deployment_config,
    resource_name,
)

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
TARGET = RolloutTarget(
    route="intent", endpoint="sluice-intent", variant="canary", alarms=("errors", "latency")
)


class GuardedEndpoint:
    """The SageMaker control plane of one endpoint, with blue/green canary semantics."""

    def __init__(self, instances: int = 2) -> None:
        self.config = "cfg-v1"
        self.configs: dict[str, dict[str, str]] = {"cfg-v1": {"primary": "model-v1", "canary": "model-v1c"}}
        self.models: dict[str, dict[str, str]] = {"model-v1": {}, "model-v1c": {}}
        self.instances = instances
        self.status = "InService"
        self.alarming: set[str] = set()
        self.update: tuple[str, dict[str, Any]] | None = None

    def endpoint(self, name: str) -> EndpointState:
        return EndpointState(
            status=self.status,
            config_name=self.config,
            variants=tuple(
                VariantSpec(name=variant, model_name=model, instance_count=self.instances)
                for variant, model in self.configs[self.config].items()
            ),
        )

    def create_model_like(self, *, name: str, template_model: str, image: str, model_data_url: str) -> None:
        self.models[name] = {"image": image, "data": model_data_url, "template": template_model}

    def create_config_like(self, *, name: str, template_config: str, variant: str, model_name: str) -> None:
        self.configs[name] = {**self.configs[template_config], variant: model_name}

    def update_endpoint(self, *, endpoint: str, config_name: str, deployment: dict[str, Any]) -> None:
        self.status = "Updating"
        self.update = (config_name, deployment)

    def bake(self) -> None:
        """The canary's bake ends: rolled back if any of the update's alarms is in ALARM."""
        assert self.update is not None
        config_name, deployment = self.update
        alarms = {alarm["AlarmName"] for alarm in deployment["AutoRollbackConfiguration"]["Alarms"]}
        if not alarms & self.alarming:
            self.config = config_name
        self.status = "InService"
        self.update = None


class Ledger:
    def __init__(self) -> None:
        self.inflight: dict[str, Rollout] = {}
        self.done: list[tuple[Rollout, str]] = []

    def pending(self, endpoint: str) -> Rollout | None:
        return self.inflight.get(endpoint)

    def start(self, rollout: Rollout) -> None:
        self.inflight[rollout.endpoint] = rollout

    def finish(self, rollout: Rollout, outcome: str) -> None:
        del self.inflight[rollout.endpoint]
        self.done.append((rollout, outcome))


class Versions:
    def __init__(self) -> None:
        self.labels = {("intent", "primary"): "v1", ("intent", "canary"): "v1"}

    def model_version(self, route: str, variant: str) -> str | None:
        return self.labels.get((route, variant))

    def set_model_version(self, route: str, variant: str, version: str) -> None:
        self.labels[(route, variant)] = version


class Sink:
    def __init__(self) -> None:
        self.events: list[Event[Any]] = []

    def publish(self, event: Event[Any]) -> None:
        self.events.append(event)


class Served:
    """The lifecycle bucket's baselines and incumbent; `baselines` maps a URI to its version."""

    def __init__(self, baselines: dict[str, str] | None = None) -> None:
        self.baselines = baselines or {}
        self.published: list[str] = []
        self.incumbents: dict[str, str] = {}

    def publish_baseline(self, baseline_uri: str) -> str | None:
        version = self.baselines.get(baseline_uri)
        if version is not None:
            self.published.append(version)
        return version

    def set_incumbent(self, route: str, model_data_url: str) -> None:
        self.incumbents[route] = model_data_url


def package(version: str = "v2", *, baseline: bool = True) -> PackageVersion:
    return PackageVersion(
        arn=f"arn:aws:sagemaker:us-east-1:1:model-package/g/{version[1:]}",
        route="intent",
        model_version=version,
        image="image:1",
        model_data_url=f"s3://lifecycle/runs/intent/{version}/model.tar.gz",
        baseline_uri=f"s3://lifecycle/runs/intent/{version}/evaluation/baseline.json" if baseline else None,
    )


def deployer(
    endpoint: GuardedEndpoint, ledger: Ledger, versions: Versions, sink: Sink, served: Served | None = None
) -> Deployer:
    return Deployer(
        sagemaker=endpoint,
        ledger=ledger,
        routes=versions,
        served=served or Served(),
        events=sink,
        targets={"intent": TARGET},
        policy=RolloutPolicy(canary_percent=50, canary_wait_seconds=600, termination_wait_seconds=300),
        clock=lambda: NOW,
    )


def test_a_canary_that_bakes_without_an_alarm_is_promoted_and_the_route_table_follows() -> None:
    # Given the endpoint on v1 and an approved v2
    endpoint, ledger, versions, sink = GuardedEndpoint(), Ledger(), Versions(), Sink()
    deploy = deployer(endpoint, ledger, versions, sink)
    # When the rollout starts, the canary bakes with no alarm, and the endpoint settles
    rollout = deploy.start(package("v2"))
    config, deployment = endpoint.update or ("", {})
    endpoint.bake()
    outcome = deploy.settle("sluice-intent", correlation_id="c1")
    # Then the update was blue/green with a canary and both alarms, the canary variant serves v2's
    # model (primary untouched), the route table says v2, and ModelDeployed records it
    assert deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "CANARY"
    assert [a["AlarmName"] for a in deployment["AutoRollbackConfiguration"]["Alarms"]] == [
        "errors",
        "latency",
    ]
    assert endpoint.configs[config] == {"primary": "model-v1", "canary": rollout.model_name}
    assert endpoint.models[rollout.model_name]["data"].endswith("v2/model.tar.gz")
    assert outcome == "deployed"
    assert versions.labels == {("intent", "primary"): "v1", ("intent", "canary"): "v2"}
    [event] = sink.events
    assert (event.metadata.name, event.detail.model_version, event.detail.previous_version) == (  # type: ignore[attr-defined]
        "ModelDeployed",
        "v2",
        "v1",
    )


def test_a_canary_whose_alarm_fires_is_rolled_back_and_the_route_table_keeps_the_old_version() -> None:
    # Given a rollout of v2 in flight
    endpoint, ledger, versions, sink = GuardedEndpoint(), Ledger(), Versions(), Sink()
    deploy = deployer(endpoint, ledger, versions, sink)
    deploy.start(package("v2"))
    # When the error-rate alarm fires during the bake (SageMaker rolls back) and the endpoint settles
    endpoint.alarming = {"errors"}
    endpoint.bake()
    outcome = deploy.settle("sluice-intent", correlation_id=None)
    # Then the old config serves, the label stays v1, and ModelRolledBack names the alarms watched
    assert endpoint.config == "cfg-v1"
    assert outcome == "rolled_back"
    assert versions.labels[("intent", "canary")] == "v1"
    [event] = sink.events
    assert event.metadata.name == "ModelRolledBack"
    assert (event.detail.model_version, event.detail.restored_version) == ("v2", "v1")  # type: ignore[attr-defined]
    assert event.detail.alarms == ["errors", "latency"]  # type: ignore[attr-defined]
    assert ledger.done[0][1] == "rolled_back"


def test_an_endpoint_still_updating_settles_nothing_and_a_second_rollout_waits() -> None:
    endpoint, ledger, versions, sink = GuardedEndpoint(), Ledger(), Versions(), Sink()
    deploy = deployer(endpoint, ledger, versions, sink)
    deploy.start(package("v2"))
    assert deploy.settle("sluice-intent", correlation_id=None) is None
    with pytest.raises(RolloutRejected, match="in flight"):
        deploy.start(package("v3"))
    assert sink.events == []


def test_an_operators_rollback_deploys_the_older_version_and_is_recorded_as_a_rollback() -> None:
    # Given v2 in service on the canary variant
    endpoint, ledger, versions, sink = GuardedEndpoint(), Ledger(), Versions(), Sink()
    versions.labels[("intent", "canary")] = "v2"
    deploy = deployer(endpoint, ledger, versions, sink)
    # When an operator rolls back to v1 and the update completes
    deploy.start(package("v1"), reason="operator")
    endpoint.bake()
    deploy.settle("sluice-intent", correlation_id=None)
    # Then v1 is the label again and the event says who and from what
    assert versions.labels[("intent", "canary")] == "v1"
    [event] = sink.events
    assert (event.metadata.name, event.detail.reason) == ("ModelRolledBack", "operator")  # type: ignore[attr-defined]
    assert (event.detail.model_version, event.detail.restored_version) == ("v2", "v1")  # type: ignore[attr-defined]


class Reports:
    def __init__(self, documents: dict[str, dict[str, Any]]) -> None:
        self.documents = documents

    def read(self, route: str, execution_id: str, name: str) -> dict[str, Any] | None:
        return self.documents.get(f"{route}/{execution_id}/{name}")

    def uri(self, route: str, execution_id: str) -> str:
        return f"s3://lifecycle/runs/{route}/{execution_id}/evaluation/gate_report.json"


class Packages:
    def package(self, arn: str, *, route: str) -> PackageVersion:
        return package(f"v{arn.rsplit('/', 1)[-1]}")

    def packages(self, group: str) -> list[dict[str, Any]]:
        return [
            {
                "ModelPackageVersion": n,
                "ModelPackageArn": f"arn:aws:sagemaker:us-east-1:1:model-package/{group}/{n}",
            }
            for n in (2, 1)
        ]


def events_handler(reports: Reports, sink: Sink, endpoint: GuardedEndpoint | None = None) -> DeployEvents:
    endpoint = endpoint or GuardedEndpoint()
    return DeployEvents(
        deployer=deployer(endpoint, Ledger(), Versions(), sink),
        packages=Packages(),
        reports=reports,
        events=sink,
        groups={"sluice-intent": "intent"},
        pipelines={"sluice-retrain-intent": "intent"},
        endpoints={"sluice-intent": "intent"},
    )


def test_a_failed_run_whose_gate_rejected_the_candidate_publishes_model_rejected_with_the_slice() -> None:
    # Given a run whose evaluate step rejected the candidate on the typos slice
    sink = Sink()
    reports = Reports(
        {
            "intent/exec1/evaluation.json": {
                "approved": 0,
                "candidate_version": "cand",
                "incumbent_version": "inc",
                "failed_slices": ["typos"],
            },
            "intent/exec1/gate_report.json": {
                "reasons": ["typos: accuracy 0.600 against the incumbent's 0.733"]
            },
        }
    )
    # When SageMaker reports the pipeline execution failed
    outcome = events_handler(reports, sink).handle(
        {
            "id": "e1",
            "detail-type": "SageMaker Model Building Pipeline Execution Status Change",
            "detail": {
                "currentPipelineExecutionStatus": "Failed",
                "pipelineExecutionArn": "arn:aws:sagemaker:us-east-1:1:pipeline/sluice-retrain-intent/execution/exec1",
            },
        }
    )
    # Then ModelRejected names the failing slice, why, and where the report is
    assert outcome.outcome == "rejected"
    [event] = sink.events
    assert event.metadata.name == "ModelRejected"
    assert event.detail.failed_slices == ["typos"]  # type: ignore[attr-defined]
    assert event.detail.report_uri.endswith("exec1/evaluation/gate_report.json")  # type: ignore[attr-defined]


def test_a_run_that_failed_before_the_gate_rejects_nothing() -> None:
    sink = Sink()
    outcome = events_handler(Reports({}), sink).handle(
        {
            "detail-type": "SageMaker Model Building Pipeline Execution Status Change",
            "detail": {
                "currentPipelineExecutionStatus": "Failed",
                "pipelineExecutionArn": "arn:aws:sagemaker:us-east-1:1:pipeline/sluice-retrain-intent/execution/x",
            },
        }
    )
    assert (outcome.outcome, sink.events) == ("failed_before_the_gate", [])


def test_an_approved_package_of_the_routes_group_starts_a_rollout_and_others_do_not() -> None:
    endpoint, sink = GuardedEndpoint(), Sink()
    handler = events_handler(Reports({}), sink, endpoint)
    change = {"detail-type": "SageMaker Model Package State Change"}
    other = handler.handle(
        {**change, "detail": {"ModelPackageGroupName": "other", "ModelApprovalStatus": "Approved"}}
    )
    pending = handler.handle(
        {
            **change,
            "detail": {
                "ModelPackageGroupName": "sluice-intent",
                "ModelApprovalStatus": "PendingManualApproval",
            },
        }
    )
    started = handler.handle(
        {
            **change,
            "detail": {
                "ModelPackageGroupName": "sluice-intent",
                "ModelApprovalStatus": "Approved",
                "ModelPackageArn": "arn:aws:sagemaker:us-east-1:1:model-package/sluice-intent/2",
            },
        }
    )
    assert (other.outcome, pending.outcome, started.outcome) == (
        "not_approved_or_not_ours",
        "not_approved_or_not_ours",
        "started",
    )
    assert endpoint.status == "Updating"


# Deploy-time rules of UpdateEndpoint that no linter checks (the template never holds this
# DeploymentConfig: the deploy function sends it), each with the page that states it.


def test_the_canary_is_at_most_half_of_the_new_fleet_or_the_shift_is_all_at_once() -> None:
    # "the canary size should be less than or equal to 50% of the new fleet's capacity"
    # https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green-canary.html
    policy = RolloutPolicy(canary_percent=10)
    fleet_of_four = deployment_config(policy, instance_count=4, alarms=("a",))
    fleet_of_one = deployment_config(policy, instance_count=1, alarms=("a",))
    assert fleet_of_four["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["CanarySize"] == {
        "Type": "CAPACITY_PERCENT",
        "Value": 10,
    }
    # One instance: a canary would be the whole fleet; all at once, still baked and guarded.
    routing = fleet_of_one["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "ALL_AT_ONCE"
    assert fleet_of_one["AutoRollbackConfiguration"]["Alarms"] == [{"AlarmName": "a"}]


def test_the_execution_timeout_exceeds_the_waits_and_the_waits_are_in_range() -> None:
    # "MaximumExecutionTimeoutInSeconds ... should be larger than the total waiting time specified in
    # TerminationWaitInSeconds and WaitIntervalInSeconds"; 600-28800; TerminationWait 0-3600.
    # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_BlueGreenUpdatePolicy.html
    with pytest.raises(RolloutRejected, match="exceed"):
        deployment_config(
            RolloutPolicy(
                canary_wait_seconds=3600,
                termination_wait_seconds=3600,
                maximum_execution_timeout_seconds=3600,
            ),
            instance_count=2,
            alarms=("a",),
        )
    policy = RolloutPolicy()
    update = deployment_config(policy, instance_count=2, alarms=("a",))["BlueGreenUpdatePolicy"]
    assert 600 <= update["MaximumExecutionTimeoutInSeconds"] <= 28800
    assert 0 <= update["TerminationWaitInSeconds"] <= 3600
    assert 0 <= update["TrafficRoutingConfiguration"]["WaitIntervalInSeconds"] <= 3600
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="greater than or equal to 600"):
        RolloutPolicy(maximum_execution_timeout_seconds=599)


def test_one_to_ten_rollback_alarms() -> None:
    # AutoRollbackConfig.Alarms: "Minimum number of 1 item. Maximum number of 10 items."
    # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AutoRollbackConfig.html
    with pytest.raises(RolloutRejected):
        deployment_config(RolloutPolicy(), instance_count=2, alarms=())
    with pytest.raises(RolloutRejected):
        deployment_config(RolloutPolicy(), instance_count=2, alarms=tuple(f"a{i}" for i in range(11)))


def test_the_new_config_keeps_the_old_configs_variant_names() -> None:
    # "your new endpoint configuration must have the same variant name as the old endpoint configuration"
    # https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html
    endpoint = GuardedEndpoint()
    deployer(endpoint, Ledger(), Versions(), Sink()).start(package("v2"))
    new_config = endpoint.update[0] if endpoint.update else ""
    assert set(endpoint.configs[new_config]) == set(endpoint.configs["cfg-v1"])


def test_names_fit_sagemakers_63_characters_of_letters_digits_and_hyphens() -> None:
    name = resource_name(
        "Sluice-ModelintentEndpoint1234567890ABCDEF", "banking77-minilm-lr-84824fb65983", "20261202030000"
    )
    assert len(name) <= 63
    assert all(c.isalnum() or c == "-" for c in name)


def test_a_version_rolling_out_has_its_baseline_published_and_becomes_the_incumbent_once_in_service() -> None:
    # Given an approved v2 whose evaluation holds its drift baseline
    endpoint, ledger, versions, sink = GuardedEndpoint(), Ledger(), Versions(), Sink()
    served = Served({"s3://lifecycle/runs/intent/v2/evaluation/baseline.json": "digest-v2"})
    deploy = deployer(endpoint, ledger, versions, sink, served)
    # When its rollout starts, the baseline is published before the canary takes traffic
    deploy.start(package("v2"))
    assert served.published == ["digest-v2"]
    assert served.incumbents == {}
    # And once the endpoint settles on it, its artifact is the next retraining's incumbent
    endpoint.bake()
    assert deploy.settle("sluice-intent", correlation_id=None) == "deployed"
    assert served.incumbents == {"intent": "s3://lifecycle/runs/intent/v2/model.tar.gz"}


def test_a_rolled_back_version_leaves_the_incumbent_as_it_was() -> None:
    endpoint, ledger, versions, sink = GuardedEndpoint(), Ledger(), Versions(), Sink()
    served = Served({"s3://lifecycle/runs/intent/v2/evaluation/baseline.json": "digest-v2"})
    deploy = deployer(endpoint, ledger, versions, sink, served)
    deploy.start(package("v2"))
    endpoint.alarming = {"latency"}
    endpoint.bake()
    assert deploy.settle("sluice-intent", correlation_id=None) == "rolled_back"
    assert served.incumbents == {}


def test_a_version_without_a_baseline_still_rolls_out() -> None:
    # A package registered by hand has no baseline: the rollout goes on, the monitor will say so
    endpoint, ledger, versions, sink = GuardedEndpoint(), Ledger(), Versions(), Sink()
    served = Served()
    deploy = deployer(endpoint, ledger, versions, sink, served)
    deploy.start(package("v2", baseline=False))
    endpoint.bake()
    assert deploy.settle("sluice-intent", correlation_id=None) == "deployed"
    assert served.published == []
    assert served.incumbents == {"intent": "s3://lifecycle/runs/intent/v2/model.tar.gz"}


def test_an_incumbent_copy_that_fails_leaves_the_rollout_settled_and_announced() -> None:
    # Given the copy to models/<route>/current/ failing (a denied or timed-out S3 copy)
    class FailingCopy(Served):
        def set_incumbent(self, route: str, model_data_url: str) -> None:
            raise TimeoutError("copy timed out")

    endpoint, ledger, versions, sink = GuardedEndpoint(), Ledger(), Versions(), Sink()
    deploy = deployer(endpoint, ledger, versions, sink, FailingCopy())
    deploy.start(package("v2"))
    endpoint.bake()
    # When the endpoint settles on v2
    outcome = deploy.settle("sluice-intent", correlation_id=None)
    # Then v2 is deployed and announced, nothing is left in flight, and the next rollout may start
    assert outcome == "deployed"
    assert [event.metadata.name for event in sink.events] == ["ModelDeployed"]
    assert ledger.pending("sluice-intent") is None
    deploy.start(package("v3"))
