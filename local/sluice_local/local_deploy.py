"""The local deploy: a registered version rolled out on the local endpoint as SageMaker's
deployment guardrails would, through the same `sluice.lifecycle.rollout.Deployer` as in AWS.

`LocalGuardedEndpoint` is the local stand-in for SageMaker's control plane. Its UpdateEndpoint
runs the DeploymentConfig the Deployer built: the green fleet (the new model, loaded by the local
endpoint beside the old one) takes the canary share (`CanarySize`, all of it for `ALL_AT_ONCE`),
bakes for `WaitIntervalInSeconds`, then takes all traffic and bakes for `TerminationWaitInSeconds`;
during both bakes the rollback alarms are evaluated on the green fleet's own answers with the
thresholds the stack's alarms use (5XX share, p99 latency). An alarm rolls everything back to
blue; otherwise green replaces blue. Then the Deployer settles: the route table's version label
and `ModelDeployed` / `ModelRolledBack` on the local bus, as in AWS.

The local endpoint has no instances: it is treated as a fleet of `fleet` (2) so the canary rule
(at most half of the fleet) leaves room for a canary; in AWS the live instance count decides.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from sluice.lifecycle.config import RolloutPolicy
from sluice.lifecycle.rollout import EndpointState, Rollout, VariantSpec

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / ".sluice" / "lifecycle" / "local-endpoints.json"


class LocalConfig(BaseModel):
    variants: dict[str, str]  # variant -> model name


class LocalState(BaseModel):
    incarnation: str = ""
    config: str
    configs: dict[str, LocalConfig]
    models: dict[str, str]  # model name -> model directory


def alarming(stats: dict[str, Any], policy: RolloutPolicy) -> list[str]:
    """The rollback alarms' rules (infra/lifecycle_rollout.py) on the green fleet's answers."""
    fired = []
    invocations = int(stats.get("invocations") or 0)
    if invocations and int(stats.get("errors") or 0) / invocations > policy.max_error_rate:
        fired.append("ErrorRate")
    if stats.get("p99_ms") is not None and float(stats["p99_ms"]) > policy.max_latency_ms:
        fired.append("Latency")
    return fired


class LocalGuardedEndpoint:
    def __init__(
        self,
        *,
        endpoint_url: str,
        policy: RolloutPolicy,
        fleet: int = 2,
        state_file: Path = STATE,
        endpoints: tuple[str, ...] = (),
        sleep: Callable[[float], None] = time.sleep,
        progress: Callable[[str], None] = print,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        # Tests pass the endpoint app's TestClient (an httpx.Client) instead of a URL.
        self._client = client
        self._url = endpoint_url.rstrip("/")
        self._policy = policy
        self._fleet = fleet
        self._file = state_file
        self._endpoints = endpoints
        self._sleep = sleep
        self._progress = progress
        self.fired: list[str] = []

    def _opened(self) -> Any:
        return (
            contextlib.nullcontext(self._client)
            if self._client
            else httpx.Client(base_url=self._url, timeout=600)
        )

    def _states(self) -> dict[str, LocalState]:
        """The recorded configs, checked against the running endpoint: one that restarted since
        (another incarnation) serves its start-up models again, and is recorded afresh."""
        stored = json.loads(self._file.read_text()) if self._file.exists() else {}
        states = {name: LocalState.model_validate(value) for name, value in stored.items()}
        with self._opened() as client:
            for endpoint in self._endpoints:
                live = client.get(f"/_local/endpoints/{endpoint}").raise_for_status().json()
                state = states.get(endpoint)
                if state is not None and state.incarnation == live["incarnation"]:
                    continue
                variants = live["variants"]
                config = f"{endpoint}-started-{live['incarnation'][:8]}"
                states[endpoint] = LocalState(
                    incarnation=live["incarnation"],
                    config=config,
                    configs={config: LocalConfig(variants={v: f"{config}-{v}" for v in variants})},
                    models={f"{config}-{v}": directory for v, directory in variants.items()},
                )
        return states

    def _save(self, states: dict[str, LocalState]) -> None:
        self._file.parent.mkdir(parents=True, exist_ok=True)
        self._file.write_text(json.dumps({k: v.model_dump() for k, v in states.items()}, indent=1) + "\n")

    def model_dir(self, endpoint: str, variant: str) -> str:
        state = self._states()[endpoint]
        return state.models[state.configs[state.config].variants[variant]]

    def endpoint(self, name: str) -> EndpointState:
        state = self._states()[name]
        return EndpointState(
            status="InService",
            config_name=state.config,
            variants=tuple(
                VariantSpec(name=variant, model_name=model, instance_count=self._fleet)
                for variant, model in state.configs[state.config].variants.items()
            ),
        )

    def create_model_like(self, *, name: str, template_model: str, image: str, model_data_url: str) -> None:
        states = self._states()
        for state in states.values():
            if template_model in state.models:
                state.models[name] = model_data_url  # a local model directory
        self._save(states)

    def create_config_like(self, *, name: str, template_config: str, variant: str, model_name: str) -> None:
        states = self._states()
        for state in states.values():
            if template_config in state.configs:
                variants = dict(state.configs[template_config].variants)
                variants[variant] = model_name
                state.configs[name] = LocalConfig(variants=variants)
        self._save(states)

    def update_endpoint(self, *, endpoint: str, config_name: str, deployment: dict[str, Any]) -> None:
        states = self._states()
        state = states[endpoint]
        old, new = state.configs[state.config].variants, state.configs[config_name].variants
        changed = [variant for variant in new if new[variant] != old.get(variant)]
        update = deployment["BlueGreenUpdatePolicy"]
        routing = update["TrafficRoutingConfiguration"]
        alarms = [alarm["AlarmName"] for alarm in deployment["AutoRollbackConfiguration"]["Alarms"]]
        share = routing["CanarySize"]["Value"] / 100 if routing["Type"] == "CANARY" else 1.0
        opened = (
            contextlib.nullcontext(self._client)
            if self._client
            else httpx.Client(base_url=self._url, timeout=600)
        )
        with opened as client:
            for variant in changed:
                self._progress(f"  green fleet for {variant}: loading {state.models[new[variant]]}")
                client.post(
                    f"/_local/rollouts/{endpoint}/{variant}",
                    json={"model_dir": state.models[new[variant]], "share": share},
                ).raise_for_status()
            phases = [(share, int(routing.get("WaitIntervalInSeconds", 0)))]
            if share < 1.0:
                phases.append((1.0, int(update.get("TerminationWaitInSeconds", 0))))
            self.fired = []
            for phase_share, seconds in phases:
                for variant in changed:
                    client.put(f"/_local/rollouts/{endpoint}/{variant}", json={"share": phase_share})
                self._progress(
                    f"  {routing['Type'].lower()}: green takes {phase_share:.0%}, baking {seconds}s, alarms {alarms}"
                )
                self.fired = self._bake(client, endpoint, changed, seconds)
                if self.fired:
                    break
            for variant in changed:
                if self.fired:
                    client.delete(f"/_local/rollouts/{endpoint}/{variant}").raise_for_status()
                else:
                    client.post(f"/_local/rollouts/{endpoint}/{variant}/promote").raise_for_status()
        if self.fired:
            self._progress(f"  alarm {self.fired} in ALARM: rolled back, blue serves all traffic")
        else:
            state.config = config_name
            self._progress("  no alarm: green promoted, blue retired")
        self._save(states)

    def _bake(self, client: httpx.Client, endpoint: str, variants: list[str], seconds: int) -> list[str]:
        deadline = self._clock() + seconds
        while True:
            for variant in variants:
                stats = client.get(f"/_local/rollouts/{endpoint}/{variant}").json()
                fired = alarming(stats, self._policy)
                if fired:
                    return fired
            if self._clock() >= deadline:
                return []
            self._sleep(min(1.0, max(0.0, deadline - self._clock())))


class FileRolloutLedger:
    """The rollout in flight and the history, in `.sluice/lifecycle/rollouts/` (S3 in AWS)."""

    def __init__(self, folder: Path = ROOT / ".sluice" / "lifecycle" / "rollouts") -> None:
        self._folder = folder

    def pending(self, endpoint: str) -> Rollout | None:
        path = self._folder / endpoint / "pending.json"
        return Rollout.model_validate_json(path.read_text()) if path.exists() else None

    def start(self, rollout: Rollout) -> None:
        path = self._folder / rollout.endpoint / "pending.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rollout.model_dump_json())

    def finish(self, rollout: Rollout, outcome: str) -> None:
        history = self._folder / rollout.endpoint / "history"
        history.mkdir(parents=True, exist_ok=True)
        record = {**rollout.model_dump(mode="json"), "outcome": outcome}
        (history / f"{rollout.started_at.strftime('%Y%m%dT%H%M%S')}.json").write_text(
            json.dumps(record) + "\n"
        )
        (self._folder / rollout.endpoint / "pending.json").unlink()


class LocalServedModels:
    """The local `ServedModels`: a version's baseline (`baseline.json` in its model directory)
    published to the lifecycle bucket on moto, where the local drift monitor reads it as the
    deployed one does; the version in service recorded in `<folder>/<route>.json`, which
    `make retrain` takes as its incumbent (model/pipeline/run_local.py)."""

    def __init__(self, baselines: Any, folder: Path = ROOT / ".sluice" / "lifecycle" / "incumbents") -> None:
        self._baselines = baselines
        self._folder = folder

    def publish_baseline(self, baseline_uri: str) -> str | None:
        from pydantic import ValidationError

        from sluice.lifecycle.drift import DriftBaseline

        path = Path(baseline_uri)
        if not path.is_file():
            return None
        try:
            baseline = DriftBaseline.model_validate_json(path.read_text())
        except ValidationError:
            return None  # not a baseline: the rollout goes on without one, and says so
        self._baselines.put(baseline)
        return baseline.model_version

    def set_incumbent(self, route: str, model_data_url: str) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        (self._folder / f"{route}.json").write_text(json.dumps({"model_data_url": model_data_url}) + "\n")


def local_incumbent(route: str, folder: Path = ROOT / ".sluice" / "lifecycle" / "incumbents") -> Path | None:
    """The model directory a local rollout last put in service for `route`, if it still exists."""
    path = folder / f"{route}.json"
    if not path.exists():
        return None
    model_dir = Path(json.loads(path.read_text())["model_data_url"])
    return model_dir if (model_dir / "model.json").exists() else None
