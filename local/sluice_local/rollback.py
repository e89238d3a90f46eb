"""`make rollback ROUTE=<route> TO=v<n> [STACK=<stack>]` and `make deploy-model ROUTE=<route> VERSION=v<n>`:
a registered version rolled out with the same guardrails as an approved one.

With STACK: the stack's `deploy` function is invoked with `{"action": "rollback"}` (the caller
needs lambda:InvokeFunction on it); SageMaker runs the guarded update and the function records
`ModelRolledBack` when the endpoint settles. Without STACK: the running local platform's endpoint,
through `sluice_local.local_deploy` (the same Deployer), from the local registry `make retrain`
writes; `v0` is the model the platform started with (`.sluice/model`).
"""

from __future__ import annotations

import argparse
import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sluice.adapters.eventbridge import EventBridgePublisher
from sluice.adapters.route_versions import ParameterRouteVersions
from sluice.adapters.s3_baselines import S3Baselines
from sluice.config import DeploymentConfig
from sluice.lifecycle.rollout import Deployer, PackageVersion, RolloutTarget
from sluice_local.local_deploy import FileRolloutLedger, LocalGuardedEndpoint, LocalServedModels
from sluice_local.models import REGISTRY, ROOT, SERVING
from sluice_local.outputs import DEFAULT_OUTPUTS, local_session, read_outputs


def _config() -> DeploymentConfig:
    context = json.loads((ROOT / "cdk.json").read_text())["context"].get("sluice", {})
    return DeploymentConfig.model_validate(context)


def local_package(route: str, version: str) -> PackageVersion:
    if version == "v0":
        return PackageVersion(
            arn="local:v0",
            route=route,
            model_version="v0",
            image="local",
            model_data_url=str(SERVING),
            baseline_uri=str(SERVING / "baseline.json"),
        )
    path = REGISTRY / f"sluice-local-{route}.json"
    for package in json.loads(path.read_text()) if path.exists() else []:
        if f"v{package['version']}" == version:
            if package["approval"] != "Approved":
                raise SystemExit(f"{version} of {route} is {package['approval']}, not Approved")
            return PackageVersion(
                arn=f"local:sluice-local-{route}/{package['version']}",
                route=route,
                model_version=version,
                image="local",
                model_data_url=str(package["model_data"]),
                baseline_uri=str(Path(package["model_data"]) / "baseline.json"),
            )
    raise SystemExit(f"no registered version {version} of {route}: see `make models`")


def local_deployer(
    outputs: dict[str, Any],
    route: str,
    *,
    bake_seconds: int,
    state_dir: Path | None = None,
    progress: Callable[[str], None] = print,
) -> tuple[Deployer, str, str]:
    """The Deployer on a running local platform's endpoint (with its route table and bus), and the
    endpoint and variant a new version of `route` goes to; `state_dir` keeps its records apart
    (`make drift-demo`), by default `.sluice/lifecycle/`."""
    config = _config()
    hosting = next(r for r in config.routes if r.name == route).endpoint
    variant = hosting.production_variants[-1].name
    endpoint_name = outputs[f"EndpointName{route.title().replace('-', '')}"]
    policy = config.lifecycle.rollout.model_copy(
        update={"canary_wait_seconds": bake_seconds, "termination_wait_seconds": bake_seconds}
    )
    session = local_session(outputs)
    aws = outputs["AwsEndpointUrl"]
    deployer = Deployer(
        sagemaker=LocalGuardedEndpoint(
            endpoint_url=outputs["SageMakerRuntimeEndpointUrl"],
            policy=policy,
            endpoints=(endpoint_name,),
            progress=progress,
            **({"state_file": state_dir / "local-endpoints.json"} if state_dir else {}),
        ),
        ledger=FileRolloutLedger(state_dir / "rollouts") if state_dir else FileRolloutLedger(),
        routes=ParameterRouteVersions(
            session.client("ssm", endpoint_url=aws), outputs["RouteTableParameter"]
        ),
        served=LocalServedModels(
            S3Baselines(
                session.client("s3", endpoint_url=aws), bucket=outputs["LifecycleBucket"], prefix="baselines"
            ),
            *([state_dir / "incumbents"] if state_dir else []),
        ),
        events=EventBridgePublisher(session.client("events", endpoint_url=aws), outputs["EventBusName"]),
        targets={
            route: RolloutTarget(
                route=route, endpoint=endpoint_name, variant=variant, alarms=("ErrorRate", "Latency")
            )
        },
        policy=policy,
        clock=lambda: datetime.now(UTC),
    )
    return deployer, endpoint_name, variant


def roll_out_locally(
    route: str,
    version: str,
    *,
    reason: Literal["approved", "operator"],
    bake_seconds: int,
    outputs_file: Path,
) -> str | None:
    if not outputs_file.exists():
        raise SystemExit("the local platform is not running: start it with `make run`")
    deployer, endpoint_name, variant = local_deployer(
        read_outputs(outputs_file), route, bake_seconds=bake_seconds
    )
    package = local_package(route, version)
    print(f"rolling {route} ({endpoint_name}, variant {variant}) to {version} [{reason}]", flush=True)
    deployer.start(package, reason=reason)
    outcome = deployer.settle(endpoint_name, correlation_id=None)
    print(f"outcome: {outcome}")
    return outcome


def rollback_on_stack(stack: str, route: str, version: str) -> dict[str, Any]:
    import boto3

    session = boto3.session.Session()
    described = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    if "DeployFunctionName" not in outputs:
        raise SystemExit(f"stack {stack} has no deploy function (no real-time lifecycle route)")
    answer = session.client("lambda").invoke(
        FunctionName=outputs["DeployFunctionName"],
        Payload=json.dumps({"action": "rollback", "route": route, "to": version}).encode(),
        LogType="Tail",
    )
    result: dict[str, Any] = json.loads(answer["Payload"].read())
    if "FunctionError" in answer:
        # The function's own error names only its type (sluice.observability.errors); the
        # reason is in its log, whose last 4 KB Lambda returns with LogType=Tail (redacted lines).
        tail = base64.b64decode(answer.get("LogResult", "")).decode(errors="replace")
        raise SystemExit(f"the rollback failed: {result.get('errorMessage', result)}\n{tail}")
    print(json.dumps(result))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--route", required=True)
    parser.add_argument("--to", required=True, help="a registered version, v<n> (`make models`)")
    parser.add_argument("--stack", help="a deployed stack's name; without it, the local platform")
    parser.add_argument("--reason", choices=("approved", "operator"), default="operator")
    parser.add_argument(
        "--bake-seconds", type=int, default=20, help="local canary and final bake (AWS: the policy's)"
    )
    parser.add_argument("--outputs", type=Path, default=DEFAULT_OUTPUTS)
    args = parser.parse_args(argv)
    if args.stack:
        rollback_on_stack(args.stack, args.route, args.to)
        return 0
    outcome = roll_out_locally(
        args.route, args.to, reason=args.reason, bake_seconds=args.bake_seconds, outputs_file=args.outputs
    )
    return 0 if outcome in ("deployed", None) else 1


if __name__ == "__main__":
    raise SystemExit(main())
