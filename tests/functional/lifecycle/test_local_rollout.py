"""The local deploy on the local endpoint's router: the same Deployer and DeploymentConfig as in
AWS, the green fleet taking the canary share of real requests, promoted when no alarm fires,
rolled back when a bad version's errors trip the 5XX alarm."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from sluice.events import Event
from sluice.lifecycle.config import RolloutPolicy
from sluice.lifecycle.drift import ConfidenceBaseline, DriftBaseline
from sluice.lifecycle.rollout import Deployer, PackageVersion, RolloutTarget
from sluice_local.local_deploy import (
    FileRolloutLedger,
    LocalGuardedEndpoint,
    LocalServedModels,
    local_incumbent,
)
from sluice_local.variant_endpoint import EndpointSpec, Spec, VariantSpec, build_router

HANDLER = Path(__file__).with_name("versioned_handler.py")
# The latency alarm's threshold is out of reach: a loaded test machine must not decide an outcome
# (these tests are about errors and traffic shares, not speed).
POLICY = RolloutPolicy(
    canary_percent=50, canary_wait_seconds=5, termination_wait_seconds=5, max_latency_ms=600_000
)


class Versions:
    def __init__(self) -> None:
        self.labels = {("intent", "primary"): "v1"}

    def model_version(self, route: str, variant: str) -> str | None:
        return self.labels.get((route, variant))

    def set_model_version(self, route: str, variant: str, version: str) -> None:
        self.labels[(route, variant)] = version


class Baselines:
    """The lifecycle bucket's `baselines/` (S3Baselines on moto in the platform)."""

    def __init__(self) -> None:
        self.stored: dict[str, DriftBaseline] = {}

    def put(self, baseline: DriftBaseline) -> None:
        self.stored[baseline.model_version] = baseline


class Sink:
    def __init__(self) -> None:
        self.events: list[Event[Any]] = []

    def publish(self, event: Event[Any]) -> None:
        self.events.append(event)


class Traffic:
    """Callers keep sending requests while a bake waits; time advances only as they do."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.now = 0.0
        self.served_by: list[str] = []
        self.baselines = Baselines()  # where the rollout publishes each version's drift baseline

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        for _ in range(10):
            self.send()
        self.now += seconds

    def send(self) -> int:
        answer = self.client.post(
            "/endpoints/ep/invocations",
            content=json.dumps({"instances": [{"text": "hi"}]}),
            headers={"content-type": "application/json"},
        )
        if answer.status_code == 200:
            self.served_by.append(answer.json()["outputs"][0]["served_by"])
        return answer.status_code


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Traffic, Deployer, LocalGuardedEndpoint, Versions, Sink]]:
    for name in ("v1", "v2", "broken-v3"):
        (tmp_path / name).mkdir()
    spec = Spec(
        endpoints=[
            EndpointSpec(
                name="ep", variants=[VariantSpec(name="primary", handler=HANDLER, model_dir=tmp_path / "v1")]
            )
        ]
    )
    with TestClient(build_router(spec)) as client:
        traffic = Traffic(client)
        endpoint = LocalGuardedEndpoint(
            endpoint_url="http://unused",
            policy=POLICY,
            fleet=2,
            state_file=tmp_path / "state.json",
            endpoints=("ep",),
            sleep=traffic.sleep,
            clock=traffic.clock,
            progress=lambda _: None,
            client=client,
        )
        versions, sink = Versions(), Sink()
        deployer = Deployer(
            sagemaker=endpoint,
            ledger=FileRolloutLedger(tmp_path / "rollouts"),
            routes=versions,
            served=LocalServedModels(traffic.baselines, tmp_path / "incumbents"),
            events=sink,
            targets={
                "intent": RolloutTarget(
                    route="intent", endpoint="ep", variant="primary", alarms=("ErrorRate", "Latency")
                )
            },
            policy=POLICY,
            clock=lambda: datetime(2026, 12, 2, tzinfo=UTC),
        )
        yield traffic, deployer, endpoint, versions, sink


def package(tmp: Path, name: str, version: str) -> PackageVersion:
    return PackageVersion(
        arn=f"local:{version}",
        route="intent",
        model_version=version,
        image="local",
        model_data_url=str(tmp / name),
        baseline_uri=str(tmp / name / "baseline.json"),
    )


def test_a_good_version_takes_the_canary_share_then_everything(running: Any, tmp_path: Path) -> None:
    traffic, deployer, endpoint, versions, sink = running
    # When v2 rolls out while callers keep sending requests
    deployer.start(package(tmp_path, "v2", "v2"))
    during = list(traffic.served_by)
    outcome = deployer.settle("ep", correlation_id=None)
    traffic.served_by.clear()
    after = [traffic.send() for _ in range(20)]
    # Then during the canary both versions answered, v2 a share of the requests; afterwards v2 alone
    canary = during[:10]
    assert {"v1", "v2"} <= set(canary)
    assert outcome == "deployed"
    assert after == [200] * 20
    assert set(traffic.served_by) == {"v2"}
    assert versions.labels[("intent", "primary")] == "v2"
    assert [event.metadata.name for event in sink.events] == ["ModelDeployed"]
    assert endpoint.model_dir("ep", "primary").endswith("v2")


def test_a_bad_version_trips_the_error_alarm_during_the_canary_and_is_rolled_back(
    running: Any, tmp_path: Path
) -> None:
    traffic, deployer, endpoint, versions, sink = running
    # When a version that fails every request rolls out under traffic
    deployer.start(package(tmp_path, "broken-v3", "v3"))
    outcome = deployer.settle("ep", correlation_id=None)
    traffic.served_by.clear()
    after = [traffic.send() for _ in range(20)]
    # Then the 5XX alarm fired in the canary phase, blue serves everything again, the label stays
    assert endpoint.fired == ["ErrorRate"]
    assert outcome == "rolled_back"
    assert after == [200] * 20
    assert set(traffic.served_by) == {"v1"}
    assert versions.labels[("intent", "primary")] == "v1"
    [event] = sink.events
    assert (event.metadata.name, event.detail.restored_version) == ("ModelRolledBack", "v1")  # type: ignore[attr-defined]


def test_a_restarted_endpoint_is_recorded_afresh_so_a_stale_promotion_is_not_believed(
    running: Any, tmp_path: Path
) -> None:
    _, deployer, endpoint, _, _ = running
    # Given v2 promoted on this endpoint process
    deployer.start(package(tmp_path, "v2", "v2"))
    deployer.settle("ep", correlation_id=None)
    # When another endpoint process (a restart) serves its start-up model again
    state = json.loads((tmp_path / "state.json").read_text())
    state["ep"]["incarnation"] = "an-earlier-process"
    (tmp_path / "state.json").write_text(json.dumps(state))
    # Then the deploy reads what the running endpoint serves, not the old record
    assert endpoint.model_dir("ep", "primary").endswith("v2")
    assert endpoint.endpoint("ep").config_name.startswith("ep-started-")


@pytest.mark.parametrize(
    ("stats", "fired"),
    [
        pytest.param({"invocations": 0, "errors": 0, "p99_ms": None}, [], id="no-traffic"),
        pytest.param({"invocations": 100, "errors": 5, "p99_ms": 50.0}, [], id="at-the-error-threshold"),
        pytest.param({"invocations": 100, "errors": 6, "p99_ms": 50.0}, ["ErrorRate"], id="over-it"),
        pytest.param({"invocations": 10, "errors": 0, "p99_ms": 1500.0}, ["Latency"], id="slow"),
    ],
)
def test_the_local_alarms_apply_the_stacks_thresholds(stats: dict[str, Any], fired: list[str]) -> None:
    # The stack's alarms: 5XX share over max_error_rate (0.05), p99 over max_latency_ms (1000)
    from sluice_local.local_deploy import alarming

    assert alarming(stats, RolloutPolicy()) == fired


def test_a_promoted_version_has_its_baseline_published_and_is_the_next_retrainings_incumbent(
    running: Any, tmp_path: Path
) -> None:
    traffic, deployer, _, _, _ = running
    # Given v2's directory with the baseline training wrote beside the model
    baseline = DriftBaseline(
        model_version="digest-v2",
        reference="held-out rows",
        n_reference=100,
        label_shares={"a": 0.5, "b": 0.5},
        confidence=ConfidenceBaseline(quantile=0.1, threshold=0.6, rate=0.1),
    )
    (tmp_path / "v2" / "baseline.json").write_text(baseline.model_dump_json())
    (tmp_path / "v2" / "model.json").write_text("{}")
    # When v2 rolls out and is promoted
    deployer.start(package(tmp_path, "v2", "v2"))
    assert deployer.settle("ep", correlation_id=None) == "deployed"
    # Then the monitor can judge v2 (its baseline is stored under its own version), and
    # `make retrain` compares the next candidate with v2
    assert traffic.baselines.stored == {"digest-v2": baseline}
    assert local_incumbent("intent", tmp_path / "incumbents") == tmp_path / "v2"
