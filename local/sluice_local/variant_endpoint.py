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
            inner[endpoint.name][variant.name] = build_app(
                handler,
                model,
                endpoint_names=[endpoint.name],
                variant=variant.name,
                max_batch_size=spec.max_batch_size,
                max_wait_ms=spec.max_wait_ms,
            )
    background: set[asyncio.Task[None]] = set()

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
        return target, variants[target]

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
        ],
        lifespan=lifespan,
    )


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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import uvicorn

    from sluice_local.endpoint import _require_loopback

    _require_loopback(args.host)  # no authentication and no TLS: loopback only
    spec = Spec.model_validate_json(args.spec)
    log = FaultLog(args.inject_faults) if args.inject_faults else None
    app: Any = build_router(spec, faults=log)
    if log is not None:
        app = EndpointFaults(app, log, timeout_seconds=args.fault_timeout_seconds)
        print(f"endpoint: injecting faults (log: {log.path})", flush=True)
    names = ", ".join(f"{e.name}[{'/'.join(v.name for v in e.variants)}]" for e in spec.endpoints)
    print(f"endpoint: serving {names} on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
