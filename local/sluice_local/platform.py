"""`make run`: the whole platform on 127.0.0.1, with the deployed handlers and a real model.

Starts two moto servers (DynamoDB on :5001, every other service on :5000: the services
are independent, and two processes serve twice the calls a single interpreter lock allows), the
local SageMaker-compatible endpoint (:8080) and the API (:8000); creates the stack's resources from cdk.json's typed config; delivers SQS batches
to the real `worker` and `ingest` handlers (an upload to the uploads bucket is ingested);
writes `.sluice/outputs.json`; stops cleanly on Ctrl-C.

State survives restarts: moto restores `.sluice/state/` before it serves and snapshots it while
it runs (`moto_state`). A stop (Ctrl-C or SIGTERM) first closes the API, then lets every handler
invocation in flight finish and hands the messages no handler got back to their queues, and only
then stops the model endpoint and moto, which writes its last snapshot. `make reset` starts clean.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import suppress
from pathlib import Path
from typing import Any

from sluice_local.moto_state import CALLS_PATH
from sluice_local.outputs import DEFAULT_OUTPUTS

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / ".sluice"
DURABLE_STATE = STATE / "state"
OPERATORS_FILE = STATE / "operators.json"
HOST = "127.0.0.1"
REGION = "us-east-1"


def load_config(override: dict[str, Any] | None = None) -> Any:
    """cdk.json's typed config, with `override` merged in (validated by the same model)."""
    from sluice.config import DeploymentConfig

    context = json.loads((ROOT / "cdk.json").read_text())["context"].get("sluice", {})
    return DeploymentConfig.model_validate(_merged(context, override or {}))


def _merged(base: Any, override: Any) -> Any:
    """Objects merge key by key; lists of named objects (routes, variants) merge by name."""
    if isinstance(base, dict) and isinstance(override, dict):
        return {**base, **{key: _merged(base.get(key), value) for key, value in override.items()}}
    if (
        isinstance(base, list)
        and isinstance(override, list)
        and override
        and all(isinstance(item, dict) and "name" in item for item in [*base, *override])
    ):
        named = {item.get("name"): item for item in override}
        merged = [_merged(item, named.pop(item.get("name"), {})) for item in base]
        return merged + list(named.values())
    return override


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((HOST, port)) != 0


def _wait_for(
    url: str, *, timeout_s: float, what: str, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"{what} exited with status {process.returncode}; see the log above")
        with suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            if response.status == 200:
                return
        time.sleep(0.25)
    raise SystemExit(f"{what} did not become ready at {url} within {timeout_s:.0f}s")


def _child_process(argv: list[str]) -> subprocess.Popen[bytes]:
    """A child that the terminal's Ctrl-C does not reach (this process stops it, in order) and
    that Linux stops with SIGTERM if this process dies without stopping it."""

    def die_with_parent() -> None:
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)

    return subprocess.Popen(  # noqa: S603 - our own modules, fixed argv
        [sys.executable, "-m", *argv], cwd=ROOT, process_group=0, preexec_fn=die_with_parent
    )


def _stop_child(child: subprocess.Popen[bytes], *, timeout_s: float) -> None:
    child.terminate()
    with suppress(subprocess.TimeoutExpired):
        child.wait(timeout=timeout_s)
    if child.poll() is None:
        child.kill()
        child.wait()


def _local_api_key() -> str:
    """One key per checkout, kept across restarts so scripts and shells keep working."""
    path = STATE / "api-key"
    if not path.exists():
        STATE.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(30))
        path.chmod(0o600)
    return path.read_text().strip()


def _aws_environment(ports: argparse.Namespace) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": f"http://{HOST}:{ports.moto_port}",
        # boto3's per-service endpoint variable: DynamoDB has a moto server of its own.
        "AWS_ENDPOINT_URL_DYNAMODB": f"http://{HOST}:{ports.dynamodb_port}",
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": f"http://{HOST}:{ports.endpoint_port}",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
        # sluice.observability's Metrics read the namespace once, when first imported, and the
        # platform imports it (sluice_local.cost) before any function's environment is set:
        # without this every metrics flush failed outside pytest ("Must contain a metric namespace").
        "POWERTOOLS_METRICS_NAMESPACE": "Sluice",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--endpoint-port", type=int, default=8080)
    parser.add_argument("--moto-port", type=int, default=5000)
    parser.add_argument("--dynamodb-port", type=int, default=5001, help="moto's DynamoDB server")
    parser.add_argument("--model-dir", type=Path, default=STATE / "model")
    parser.add_argument("--api-concurrency", type=int, default=4, help="simulated api instances")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="pollers per route queue")
    parser.add_argument("--outputs", type=Path, default=DEFAULT_OUTPUTS, help="where to write stack outputs")
    parser.add_argument(
        "--worker-batch-size", type=int, help="override every route's batch size (benchmarks)"
    )
    parser.add_argument("--endpoint-max-batch-size", type=int, help="the local endpoint's micro-batch cap")
    parser.add_argument("--log-level", default="WARNING", help="handler log level (POWERTOOLS_LOG_LEVEL)")
    parser.add_argument(
        "--state-dir", type=Path, default=DURABLE_STATE, help="where the local AWS keeps its state"
    )
    parser.add_argument(
        "--snapshot-interval", type=float, default=2.0, help="seconds between snapshots of the state"
    )
    parser.add_argument(
        "--config-override", type=json.loads, help="JSON merged into cdk.json's config (routes by name)"
    )
    parser.add_argument("--sweep-every-seconds", type=float, default=60.0, help="the sweeper's schedule")
    parser.add_argument("--sweep-grace-seconds", type=int, help="when a missing notification counts as lost")
    parser.add_argument(
        "--inject-faults",
        type=Path,
        help="inject the faults of sluice_local.faults (marked texts, duplicate deliveries); log them here",
    )
    parser.add_argument(
        "--metrics-file",
        type=Path,
        default=STATE / "metrics" / "emf.jsonl",
        help="where EMF metrics are kept",
    )
    args = parser.parse_args(argv)

    busy = [
        p
        for p in (args.api_port, args.endpoint_port, args.moto_port, args.dynamodb_port)
        if not _port_free(p)
    ]
    if busy:
        print(f"Ports {busy} on {HOST} are in use: is another `make run` still running?", file=sys.stderr)
        return 1
    if not (args.model_dir / "metrics.json").exists():
        print(f"No trained model in {args.model_dir}: run `make model` first.", file=sys.stderr)
        return 1

    config = load_config(args.config_override)
    if args.worker_batch_size:
        routes = tuple(
            route.model_copy(update={"batch_size": args.worker_batch_size}) for route in config.routes
        )
        config = config.model_copy(update={"routes": routes})
    os.environ.update(_aws_environment(args))
    os.environ["POWERTOOLS_LOG_LEVEL"] = args.log_level
    # The one Metrics object is process-wide here (sluice_local.runtime) and may be built before
    # any handler's environment is in place: it needs the namespace every function is given.
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Sluice")
    stop = threading.Event()
    children: list[subprocess.Popen[bytes]] = []
    pollers: list[Any] = []
    functions: list[Any] = []
    server: Any = None

    def shutdown(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)

    print(
        f"[1/5] moto servers on {HOST}:{args.moto_port} and {args.dynamodb_port} (DynamoDB); "
        f"state in {args.state_dir}",
        flush=True,
    )
    motos = {
        name: _child_process(
            [
                "sluice_local.moto_server",
                "--host",
                HOST,
                "--port",
                str(port),
                "--name",
                name,
                "--state-file",
                str(args.state_dir / f"{name}.pickle"),
                "--snapshot-interval",
                str(args.snapshot_interval),
            ]
        )
        for name, port in (("moto", args.moto_port), ("moto-dynamodb", args.dynamodb_port))
    }
    children += motos.values()

    from sluice_local.capture import capture_spec, lifecycle_bucket, provision_lifecycle_bucket
    from sluice_local.provision import PREFIX, endpoint_name, function_settings, provision
    from sluice_local.routing import endpoint_spec, provision_routing

    # SageMaker DataCapture of the monitored routes, to the lifecycle bucket (sluice_local.capture).
    capture = capture_spec(config, bucket=lifecycle_bucket(PREFIX), endpoint_name=endpoint_name)

    endpoint_names = [endpoint_name(route.name) for route in config.routes]
    print(f"[2/5] model endpoint on {HOST}:{args.endpoint_port} ({', '.join(endpoint_names)})", flush=True)
    fault_options: list[str] = []
    if args.inject_faults:
        # A `timeout` text is answered after the slowest real-time route's budget: its client has
        # given up by then.
        late = max(r.time_budget_ms for r in config.routes if r.endpoint.mode != "async") / 1000 + 0.5
        fault_options = ["--inject-faults", str(args.inject_faults), "--fault-timeout-seconds", str(late)]
        print(f"      INJECTING FAULTS (sluice_local.faults), logged to {args.inject_faults}", flush=True)
    endpoint = _child_process(
        [
            "sluice_local.variant_endpoint",
            "--spec",
            endpoint_spec(config, model_dir=args.model_dir, max_batch_size=args.endpoint_max_batch_size),
            "--host",
            HOST,
            "--port",
            str(args.endpoint_port),
            *fault_options,
            *(["--capture", capture.model_dump_json()] if capture.endpoints else []),
        ]
    )
    children.append(endpoint)

    try:
        import boto3

        for (name, process), port in zip(motos.items(), (args.moto_port, args.dynamodb_port), strict=True):
            _wait_for(f"http://{HOST}:{port}{CALLS_PATH}", timeout_s=120, what=name, process=process)
        session = boto3.session.Session(region_name=REGION)
        print("[3/5] creating the stack's resources from cdk.json", flush=True)
        resources = provision(
            config,
            dynamodb=session.client("dynamodb"),
            sqs=session.client("sqs"),
            events=session.client("events"),
            region=REGION,
        )
        provision_lifecycle_bucket(session.client("s3"), capture.bucket, served_model=args.model_dir)
        from sluice_local.uploads import provision_uploads

        resources = provision_uploads(
            config,
            resources,
            s3=session.client("s3"),
            sqs=session.client("sqs"),
            dynamodb=session.client("dynamodb"),
        )
        resources = provision_routing(
            config,
            resources,
            dynamodb=session.client("dynamodb"),
            s3=session.client("s3"),
            sns=session.client("sns"),
            sqs=session.client("sqs"),
            ssm=session.client("ssm"),
        )
        environments = function_settings(config, resources, log_level=args.log_level).environments()
        # Cost governance: the cost table, alarms, the alarm-state rule and the budget function.
        from sluice_local.cost import AlarmStateBridge, EventTargetPoller, provision_cost

        cost = provision_cost(
            config,
            resources,
            dynamodb=session.client("dynamodb"),
            cloudwatch=session.client("cloudwatch"),
            events=session.client("events"),
            sqs=session.client("sqs"),
            autoscaling=session.client("application-autoscaling"),
            log_level=args.log_level,
        )
        # The functions that hold the tenants' budgets and meter (the same variables).
        for function in ("api", "worker", "ingest", "async_result", "sweeper"):
            environments[function] = {**environments[function], **cost.api_environment}
        if args.sweep_grace_seconds is not None:
            environments["sweeper"] = {
                **environments["sweeper"],
                "SWEEP_GRACE_SECONDS": str(args.sweep_grace_seconds),
            }
        store_faults = None
        if args.inject_faults:
            from sluice_local.faults import FaultLog, StoreFaults

            # The handlers' clients come from boto3's default session; provisioning's do not.
            boto3.setup_default_session(region_name=REGION)
            store_faults = StoreFaults(FaultLog(args.inject_faults))
            store_faults.install(boto3.DEFAULT_SESSION.events)  # type: ignore[union-attr]
        # The audit trail: the api appends request records, `audit` files the bus's events.
        from sluice_local.observability import EmfSink, provision_audit

        audit = provision_audit(
            resources,
            dynamodb=session.client("dynamodb"),
            sqs=session.client("sqs"),
            events=session.client("events"),
            visibility_timeout_seconds=config.worker_visibility_timeout_seconds,
            log_level=args.log_level,
        )
        environments["api"] = {**environments["api"], **audit.api_environment}
        # A review's resolution is audited too.
        environments["reviews"] = {**environments["reviews"], **audit.api_environment}
        environments["audit"] = audit.settings.environment()
        # The functions' EMF documents, kept as CloudWatch would: `make dashboard` draws them.
        EmfSink.install(args.metrics_file)

        from sluice_local.runtime import FunctionInstances, QueuePoller, Schedule

        def instances(function: str, *, concurrency: int, timeout_seconds: int) -> FunctionInstances:
            return FunctionInstances(
                function,
                environment=environments[function],
                concurrency=concurrency,
                timeout_seconds=timeout_seconds,
            )

        sqs = session.client("sqs")

        def queue_poller(
            queue_url: str,
            queue_arn: str,
            function: FunctionInstances,
            batch_size: int,
            *,
            faulty: bool = False,
        ) -> QueuePoller:
            return QueuePoller(
                sqs=sqs,
                queue_url=queue_url,
                queue_arn=queue_arn,
                region=REGION,
                function=function,
                batch_size=batch_size,
                stop=stop,
                deliver_twice=faulty and store_faults is not None,
                before_delivery=store_faults.learn if faulty and store_faults is not None else None,
            )

        api = instances(
            "api", concurrency=args.api_concurrency, timeout_seconds=config.api_function.timeout_seconds
        )
        worker = instances(
            "worker",
            concurrency=args.worker_concurrency,
            timeout_seconds=config.worker_function.timeout_seconds,
        )
        pollers += [
            queue_poller(route.queue_url, route.queue_arn, worker, route.batch_size, faulty=True)
            for route in resources.routes.values()
            for _ in range(args.worker_concurrency)
        ]
        # S3 ObjectCreated → ingest queue → `ingest`, one file per invocation as deployed.
        ingest = instances("ingest", concurrency=1, timeout_seconds=config.ingest.function.timeout_seconds)
        pollers.append(queue_poller(resources.ingest_queue_url, resources.ingest_queue_arn, ingest, 1))
        # SageMaker async notifications: SNS → results queue → `async_result`.
        async_result = instances(
            "async_result", concurrency=1, timeout_seconds=config.worker_function.timeout_seconds
        )
        pollers.append(
            queue_poller(
                resources.async_results_queue_url, resources.async_results_queue_arn, async_result, 10
            )
        )
        # The sweeper on its schedule (EventBridge every 5 minutes when deployed; every minute here
        # unless --sweep-every-seconds says otherwise).
        sweeper = instances("sweeper", concurrency=1, timeout_seconds=config.worker_function.timeout_seconds)
        pollers.append(Schedule(function=sweeper, every_seconds=args.sweep_every_seconds, stop=stop))
        # Cost alarms: moto's state changes → the default bus → the rule's queue → `budget`.
        budget = FunctionInstances(
            "budget",
            environment=cost.settings.environment(),
            concurrency=1,
            timeout_seconds=config.worker_function.timeout_seconds,
        )
        pollers.append(EventTargetPoller(sqs=sqs, queue_url=cost.rule_queue_url, function=budget, stop=stop))
        audit_function = instances(
            "audit", concurrency=1, timeout_seconds=config.worker_function.timeout_seconds
        )
        pollers.append(queue_poller(audit.queue_url, audit.queue_arn, audit_function, 10))
        # Human review: the review queue → `review_intake`; the operator routes → `reviews`.
        review_intake = instances(
            "review_intake", concurrency=1, timeout_seconds=config.worker_function.timeout_seconds
        )
        pollers.append(
            queue_poller(resources.review_queue_url, resources.review_queue_arn, review_intake, 10)
        )
        reviews = instances("reviews", concurrency=1, timeout_seconds=config.api_function.timeout_seconds)
        bridge = AlarmStateBridge(
            cloudwatch=session.client("cloudwatch"),
            events=session.client("events"),
            alarm_names=sorted(cost.alarm_names),
            region=REGION,
            stop=stop,
        )
        # The first look, now: a state changed once the platform is ready is then a change.
        bridge.poll_once()
        pollers.append(bridge)
        functions += [worker, ingest, async_result, sweeper, budget, audit_function, review_intake]

        print("[4/5] waiting for the model to load", flush=True)
        _wait_for(
            f"http://{HOST}:{args.endpoint_port}/ping",
            timeout_s=300,
            what="the model endpoint",
            process=endpoint,
        )
        # Only now: queues restored with a backlog would otherwise meet an endpoint still loading,
        # open its circuit and leave their jobs for a visibility timeout.
        for poller in pollers:
            poller.start()

        import uvicorn

        from sluice_local.front import build_front

        api_key = _local_api_key()
        tenant = config.api.tenants[0]
        from sluice_local.operator_auth import load_operators

        operators = load_operators(OPERATORS_FILE)
        front = build_front(
            api,
            api_keys={api_key: f"local-{tenant}"},
            stage=config.stage,
            operator_api=reviews,
            operators=operators,
            region=REGION,
        )
        server = uvicorn.Server(
            uvicorn.Config(
                front,
                host=HOST,
                port=args.api_port,
                log_level="warning",
                access_log=False,
                # uvicorn closes idle connections after 5 s; a pooled client that reuses one just
                # then gets a reset. API Gateway keeps them for longer; so does the local front.
                timeout_keep_alive=75,
            )
        )
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        thread = threading.Thread(target=server.run, daemon=True, name="api-front")
        thread.start()
        api_url = f"http://{HOST}:{args.api_port}/"
        _wait_for(f"{api_url}v1/health", timeout_s=30, what="the API")

        outputs = {
            "ApiUrl": api_url,
            "ApiKey": api_key,
            "ApiKeyId": f"local-{tenant}",
            "AwsEndpointUrl": os.environ["AWS_ENDPOINT_URL"],
            "DynamoDbEndpointUrl": os.environ["AWS_ENDPOINT_URL_DYNAMODB"],
            "SageMakerRuntimeEndpointUrl": os.environ["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"],
            **resources.outputs(),
            "CostTableName": cost.table,
            "CostAlarmNames": cost.alarm_names,
            "AuditTableName": audit.table,
            # The local operators' SigV4 credentials are in .sluice/operators.json (make reviews).
            "OperatorsFile": str(OPERATORS_FILE),
            "MetricsFile": str(args.metrics_file),
            "LifecycleBucket": capture.bucket,
        }
        args.outputs.parent.mkdir(parents=True, exist_ok=True)
        args.outputs.write_text(json.dumps(outputs, indent=2) + "\n")
        print("[5/5] ready", flush=True)
        print(_banner(outputs), flush=True)

        while not stop.wait(0.5):
            for name, child in {"model endpoint": endpoint, **motos}.items():
                if child.poll() is not None:
                    print(f"The {name} stopped; shutting down.", file=sys.stderr)
                    return 1
        return 0
    finally:
        stop.set()
        print("Stopping: the API first, then the handlers in flight finish.", flush=True)
        if server is not None:
            server.should_exit = True  # answers the requests it has, takes no new ones
            thread.join(timeout=config.api_function.timeout_seconds)
        # Like Lambda, an invocation in flight runs to its end; the pollers then give back
        # what they received but did not hand to a handler.
        in_flight = sum(function.wind_down() for function in functions)
        print(f"Stopping: {in_flight} handler invocations in flight.", flush=True)
        deadline = time.monotonic() + config.worker_function.timeout_seconds
        for poller in pollers:
            poller.join(timeout=max(0.0, deadline - time.monotonic()))
        unfinished = sum(poller.is_alive() for poller in pollers)
        if unfinished:
            print(f"{unfinished} invocations did not finish in time; their jobs retry after the lease.")
        for child in reversed(children):  # moto last: it writes the state once nobody calls it
            _stop_child(child, timeout_s=60 if child in motos.values() else 10)
        with suppress(FileNotFoundError):
            args.outputs.unlink()
        print("Sluice stopped.", flush=True)


def _banner(outputs: dict[str, Any]) -> str:
    url = outputs["ApiUrl"].rstrip("/")
    return f"""
  Sluice is running locally.
    API           {url}   (key in .sluice/outputs.json)
    AWS (moto)    {outputs["AwsEndpointUrl"]}   (DynamoDB: {outputs["DynamoDbEndpointUrl"]})
    Model         {outputs["SageMakerRuntimeEndpointUrl"]}

  Try it:
    curl -s {url}/v1/inferences -H 'Content-Type: application/json' -H 'x-api-key: {outputs["ApiKey"]}' \\
      -d '{{"route": "intent", "input": {{"text": "I still have not received my new card"}}, "mode": "sync"}}'

  Ctrl-C stops everything.
"""


if __name__ == "__main__":
    sys.exit(main())
