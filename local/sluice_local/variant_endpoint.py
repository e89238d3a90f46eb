"""The local platform's SageMaker endpoints: several production variants, and asynchronous inference.

Wraps `sluice_local.endpoint` (one model, one variant per app) without changing it: one inner app
per (endpoint, variant), a router in front that picks the inner app by `TargetVariant` (or the
first variant when none is named), and SageMaker's asynchronous API on top:

  POST /endpoints/{name}/invocations         InvokeEndpoint, on the targeted variant
  POST /endpoints/{name}/async-invocations   InvokeEndpointAsync: 202 now; then, in the
      background, the input is read from S3 (moto), run through the variant's container
      contract (`POST /invocations`), the output written to S3 and the notification published
      to the success or error SNS topic, as SageMaker does.

Variants are backed by local model versions: with one trained model, `intent`'s variants host
the same artifact (and report its version); the `chat` route is a labelled stand-in
(`sluice_local.standin_chat`), as no LLM runs offline.

    python -m sluice_local.variant_endpoint --spec '<json>' --port 8080
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from sluice_local.endpoint import ACCOUNT, build_app, load_handler
from sluice_local.faults import EndpointFaults, FaultLog, drops_notification

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("sluice_local.variant_endpoint")


class VariantSpec(BaseModel):
    name: str
    handler: Path = ROOT / "model" / "inference.py"
    model_dir: Path = ROOT / ".sluice" / "model"


class EndpointSpec(BaseModel):
    name: str
    variants: list[VariantSpec] = Field(min_length=1)


class AsyncSpec(BaseModel):
    """Where asynchronous inferences write their output and send their notifications (moto)."""

    output_bucket: str
    success_topic_arn: str
    error_topic_arn: str


class Spec(BaseModel):
    endpoints: list[EndpointSpec]
    asynchronous: AsyncSpec | None = None
    max_batch_size: int = 32
    max_wait_ms: float = 5.0


def _error(status: int, error_type: str, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status, headers={"x-amzn-ErrorType": error_type})


def build_router(
    spec: Spec, models: dict[tuple[str, str], Any] | None = None, *, faults: FaultLog | None = None
) -> Starlette:
    """The router over one inner app per (endpoint, variant); `models` skips loading (tests);
    `faults` drops the notifications of requests marked `lost` (sluice_local.faults)."""
    loaded: dict[tuple[str, str], tuple[Any, Any]] = {}
    handlers: dict[tuple[str, str], Path] = {}
    inner: dict[str, dict[str, Starlette]] = {}
    for endpoint in spec.endpoints:
        inner[endpoint.name] = {}
        for variant in endpoint.variants:
            key = (str(variant.handler), str(variant.model_dir))
            if key not in loaded:  # two variants of one artifact share the loaded model
                handler = load_handler(variant.handler)
                model = models[key] if models and key in models else handler.model_fn(str(variant.model_dir))
                loaded[key] = (handler, model)
            handler, model = loaded[key]
            handlers[(endpoint.name, variant.name)] = variant.handler
            inner[endpoint.name][variant.name] = build_app(
                handler,
                model,
                endpoint_names=[endpoint.name],
                variant=variant.name,
                max_batch_size=spec.max_batch_size,
                max_wait_ms=spec.max_wait_ms,
            )
    background: set[asyncio.Task[None]] = set()
    # Guarded updates in flight (sluice_local.local_deploy): a green app taking a share of a variant.
    rollouts: dict[tuple[str, str], GreenFleet] = {}
    # What each variant serves now, and this process's identity: a restarted endpoint serves its
    # spec again, so a deploy's record of a promoted version is stale (sluice_local.local_deploy).
    serving = {(e.name, v.name): str(v.model_dir) for e in spec.endpoints for v in e.variants}
    incarnation = uuid.uuid4().hex

    def pick(request: Request) -> tuple[str, Starlette] | Response:
        name = request.path_params["name"]
        variants = inner.get(name)
        if variants is None:
            return _error(400, "ValidationError", f"Endpoint {name} of account {ACCOUNT} not found.")
        target = request.headers.get("x-amzn-sagemaker-target-variant") or next(iter(variants))
        if target not in variants:
            return _error(
                400, "ValidationError", f"Target variant {target} is not a production variant of {name}."
            )
        green = rollouts.get((name, target))
        if green is not None and green.takes_this_request():
            return target, green.app
        return target, variants[target]

    async def start_rollout(request: Request) -> Response:
        """What SageMaker's blue/green update does first: a green fleet with the new model beside
        the blue one, taking `share` of the variant's traffic."""
        name, variant = request.path_params["name"], request.path_params["variant"]
        if variant not in inner.get(name, {}):
            return _error(400, "ValidationError", "No such endpoint or variant.")
        body = await request.json()
        # The new model is served by the variant's own container code (its inference handler).
        key = (str(handlers[(name, variant)]), str(body["model_dir"]))
        if key not in loaded:
            handler = load_handler(Path(key[0]))
            loaded[key] = (handler, await asyncio.to_thread(handler.model_fn, key[1]))
        handler, model = loaded[key]
        app = build_app(
            handler,
            model,
            endpoint_names=[name],
            variant=variant,
            max_batch_size=spec.max_batch_size,
            max_wait_ms=spec.max_wait_ms,
        )
        app.state.batcher.start()
        previous = rollouts.pop((name, variant), None)
        if previous is not None:
            previous.app.state.batcher.stop()
        rollouts[(name, variant)] = GreenFleet(
            app=MeasuredApp(app), inner=app, share=float(body["share"]), model_dir=key[1]
        )
        return JSONResponse({"status": "Updating"})

    async def describe(request: Request) -> Response:
        name = request.path_params["name"]
        variants = {
            variant: directory for (endpoint, variant), directory in serving.items() if endpoint == name
        }
        return JSONResponse({"incarnation": incarnation, "variants": variants})

    async def rollout(request: Request) -> Response:
        key = (request.path_params["name"], request.path_params["variant"])
        green = rollouts.get(key)
        if green is None:
            return _error(400, "ValidationError", "No update in flight.")
        if request.method == "GET":
            return JSONResponse(green.app.stats())
        if request.method == "PUT":  # shift more of the traffic
            green.share = float((await request.json())["share"])
            return JSONResponse({"status": "Updating"})
        rollouts.pop(key)
        if request.method == "DELETE":  # rolled back: blue serves everything again
            green.inner.state.batcher.stop()
            return JSONResponse({"status": "InService", "outcome": "rolled_back"})
        old = inner[key[0]][key[1]]
        inner[key[0]][key[1]] = green.inner  # promoted: green is the variant now
        serving[key] = green.model_dir
        if all(app is not old for variants in inner.values() for app in variants.values()):
            old.state.batcher.stop()
        return JSONResponse({"status": "InService", "outcome": "promoted"})

    class Invoke:
        """A raw ASGI endpoint: the chosen inner app answers exactly as a one-variant endpoint."""

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            chosen = pick(Request(scope, receive))
            app = chosen if isinstance(chosen, Response) else chosen[1]
            await app(scope, receive, send)

    async def invoke_async(request: Request) -> Response:
        chosen = pick(request)
        if isinstance(chosen, Response):
            return chosen
        if spec.asynchronous is None:
            return _error(400, "ValidationError", "This endpoint has no asynchronous inference config.")
        location = request.headers.get("x-amzn-sagemaker-inputlocation", "")
        if not location.startswith("s3://"):
            return _error(400, "ValidationError", "InputLocation must be an s3:// URI.")
        inference_id = request.headers.get("x-amzn-sagemaker-inference-id") or uuid.uuid4().hex
        name = request.path_params["name"]
        output = f"s3://{spec.asynchronous.output_bucket}/async-output/{name}/{inference_id}.out"
        failure = f"s3://{spec.asynchronous.output_bucket}/async-failures/{name}/{inference_id}.out"
        received = _sagemaker_time()  # SageMaker's `receivedTime`: when it accepted the request
        task = asyncio.create_task(
            _run_async(
                spec.asynchronous, chosen[1], name, inference_id, location, output, failure, received, faults
            )
        )
        background.add(task)
        task.add_done_callback(background.discard)
        return JSONResponse(
            {"InferenceId": inference_id},
            status_code=202,
            headers={"X-Amzn-SageMaker-OutputLocation": output, "X-Amzn-SageMaker-FailureLocation": failure},
        )

    async def ping(_: Request) -> Response:
        return JSONResponse({"status": "Healthy"})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        apps = [app for variants in inner.values() for app in variants.values()]
        for app in apps:
            app.state.batcher.start()
        try:
            yield
        finally:
            for app in apps:
                app.state.batcher.stop()

    return Starlette(
        routes=[
            Route("/endpoints/{name}/invocations", Invoke(), methods=["POST"]),
            Route("/endpoints/{name}/async-invocations", invoke_async, methods=["POST"]),
            Route("/ping", ping, methods=["GET"]),
            Route("/_local/endpoints/{name}", describe, methods=["GET"]),
            Route("/_local/rollouts/{name}/{variant}", start_rollout, methods=["POST"]),
            Route("/_local/rollouts/{name}/{variant}", rollout, methods=["GET", "PUT", "DELETE"]),
            Route("/_local/rollouts/{name}/{variant}/promote", rollout, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


class MeasuredApp:
    """An inner app whose answers are counted as CloudWatch would: invocations, 5XX, latency."""

    def __init__(self, app: Starlette) -> None:
        self._app = app
        self.invocations = 0
        self.errors = 0
        self.latencies_ms: list[float] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        import time

        started = time.perf_counter()
        status = 500
        body = b""

        async def observed(message: Any) -> None:
            nonlocal status, body
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and status == 424:
                body += message.get("body", b"")
            await send(message)

        try:
            await self._app(scope, receive, observed)
        finally:
            self.invocations += 1
            # Invocation5XXErrors: the model answered 5xx (SageMaker's 424 ModelError says which).
            model_status = json.loads(body or b"{}").get("OriginalStatusCode", 0) if status == 424 else status
            self.errors += int(int(model_status) >= 500)
            self.latencies_ms.append((time.perf_counter() - started) * 1000)

    def stats(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else None
        return {"invocations": self.invocations, "errors": self.errors, "p99_ms": p99}


class GreenFleet:
    def __init__(self, *, app: MeasuredApp, inner: Starlette, share: float, model_dir: str) -> None:
        import random

        self.model_dir = model_dir
        self.app = app
        self.inner = inner
        self.share = share
        # Seeded: a traffic split, not a secret; the same requests take the same side in a test.
        self._random = random.Random(0)  # noqa: S311

    def takes_this_request(self) -> bool:
        return self._random.random() < self.share


async def _run_async(
    config: AsyncSpec,
    app: Starlette,
    endpoint: str,
    inference_id: str,
    location: str,
    output: str,
    failure: str,
    received: str,
    faults: FaultLog | None = None,
) -> None:
    """What SageMaker does for one queued request: S3 in, the container, S3 out, a notification."""
    import boto3
    import httpx

    s3, sns = boto3.client("s3"), boto3.client("sns")
    notification: dict[str, Any] = {
        "eventVersion": "1.0",
        "eventSource": "aws:sagemaker",
        "eventName": "InferenceResult",
        "inferenceId": inference_id,
        "receivedTime": received,
        "requestParameters": {
            "endpointName": endpoint,
            "inputLocation": location,
            "contentType": "application/json",
        },
    }
    try:
        bucket, key = location[5:].split("/", 1)
        body = await asyncio.to_thread(lambda: s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://container"
        ) as client:
            answer = await client.post(
                "/invocations", content=body, headers={"content-type": "application/json"}
            )
        target = output if answer.status_code == 200 else failure
        out_bucket, out_key = target[5:].split("/", 1)
        await asyncio.to_thread(s3.put_object, Bucket=out_bucket, Key=out_key, Body=answer.content)
        if answer.status_code == 200:
            notification |= {
                "invocationStatus": "Completed",
                "responseParameters": {"contentType": "application/json", "outputLocation": output},
            }
            topic = config.success_topic_arn
        else:
            notification |= {
                "invocationStatus": "Failed",
                "failureReason": f"ClientError: Received server error ({answer.status_code}) from model",
                "responseParameters": {"contentType": "text/plain", "failureLocation": failure},
            }
            topic = config.error_topic_arn
        # `eventTime`: when the result was written (the platform meters the span as model time).
        notification["eventTime"] = _sagemaker_time()
        if faults is not None and drops_notification(faults, body):
            return  # the notification lost on its way: the sweeper must finish the job
        await asyncio.to_thread(sns.publish, TopicArn=topic, Message=json.dumps(notification))
    except Exception:
        log.exception("async inference failed before a notification could be sent")


def _sagemaker_time() -> str:
    """A timestamp as SageMaker writes them in notifications: UTC, milliseconds, `Z`."""
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spec", required=True, help="the endpoints and variants, as JSON (see Spec)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--inject-faults", type=Path, help="fault log: inject sluice_local.faults' faults")
    parser.add_argument(
        "--fault-timeout-seconds", type=float, default=11.0, help="how late a `timeout` text is answered"
    )
    parser.add_argument("--capture", help="DataCapture to S3, as JSON (sluice_local.capture.CaptureSpec)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import uvicorn

    from sluice_local.endpoint import _require_loopback

    _require_loopback(args.host)  # no authentication and no TLS: loopback only
    spec = Spec.model_validate_json(args.spec)
    log = FaultLog(args.inject_faults) if args.inject_faults else None
    app: Any = build_router(spec, faults=log)
    writer = None
    if args.capture:
        from sluice_local.capture import CaptureMiddleware, CaptureSpec, writer_for

        capture = CaptureSpec.model_validate_json(args.capture)
        writer = writer_for(capture)
        app = CaptureMiddleware(app, writer, capture.endpoints)
        writer.start()
    if log is not None:
        app = EndpointFaults(app, log, timeout_seconds=args.fault_timeout_seconds)
        print(f"endpoint: injecting faults (log: {log.path})", flush=True)
    names = ", ".join(f"{e.name}[{'/'.join(v.name for v in e.variants)}]" for e in spec.endpoints)
    print(f"endpoint: serving {names} on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    if writer is not None:
        writer.stop()  # what is still buffered reaches S3 before moto stops (the platform stops it last)
    return 0


if __name__ == "__main__":
    sys.exit(main())
