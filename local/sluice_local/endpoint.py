"""A local SageMaker endpoint: the Runtime API and the container contract, with micro-batching.

It hosts a SageMaker inference handler (model/inference.py by default) unchanged: `model_fn` once at
start, then `input_fn` / `predict_fn` / `output_fn` per request. boto3's `sagemaker-runtime` client
reaches it through `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=http://127.0.0.1:8080`.

  POST /endpoints/{name}/invocations   InvokeEndpoint: SageMaker's status codes and error shapes
  GET  /ping, POST /invocations        what SageMaker itself calls inside the model container

Concurrent requests are micro-batched: one thread runs `predict_fn` on the instances of every request
that arrived while it was busy (up to `max_batch_size`, waiting at most `max_wait_ms` for company),
and splits the results back. That needs the handler's batching contract: `input_fn` returns a list,
`predict_fn` maps a list to a list of the same length and order.

    python -m sluice_local.endpoint --model-dir .sluice/model --port 8080 --endpoint sluice-intent
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import hashlib
import importlib.util
import ipaddress
import logging
import queue
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_HANDLER = ROOT / "model" / "inference.py"
DEFAULT_VARIANT = "AllTraffic"
ACCOUNT = "123456789012"  # the account id moto and botocore's stubs use
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's real-time payload limit

log = logging.getLogger("sluice_local.endpoint")


# --- the handler ---------------------------------------------------------------------------------


class InferenceHandler(Protocol):
    """SageMaker's handler contract; a module such as model/inference.py satisfies it."""

    def model_fn(self, model_dir: str) -> Any: ...
    def input_fn(self, request_body: bytes, content_type: str) -> Any: ...
    def predict_fn(self, data: Any, model: Any) -> Any: ...
    def output_fn(self, prediction: Any, accept: str) -> Any: ...


def load_handler(path: Path = DEFAULT_HANDLER) -> ModuleType:
    """Import an inference handler by file path, as SageMaker's container imports code/inference.py."""
    # One module per handler file: several models, each with its own handler, share this process.
    name = f"sluice_model_handler_{hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import an inference handler from {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: dataclasses in the handler look their module up in sys.modules.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    missing = [fn for fn in ("model_fn", "input_fn", "predict_fn", "output_fn") if not hasattr(module, fn)]
    if missing:
        raise ImportError(f"{path} lacks {', '.join(missing)}")
    return module


# --- micro-batching ------------------------------------------------------------------------------


@dataclass
class _Pending:
    instances: list[Any]
    future: concurrent.futures.Future[list[Any]] = field(default_factory=concurrent.futures.Future)


class MicroBatcher:
    """Runs `predict` on one thread, merging the requests queued meanwhile into one call.

    One thread, because the model is the bottleneck: a CPU model already uses every core for one
    batch, and a GPU gains nothing from two batches racing for it. Batching is what buys throughput.
    """

    def __init__(
        self, predict: Callable[[list[Any]], Sequence[Any]], *, max_batch_size: int, max_wait_ms: float
    ) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self._predict = predict
        self._max_batch_size = max_batch_size
        self._max_wait_s = max(max_wait_ms, 0.0) / 1000
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        # Read by tests and the benchmark; only the batching thread writes them.
        self.predict_calls = 0
        self.instances_predicted = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="micro-batcher", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def submit(self, instances: list[Any]) -> concurrent.futures.Future[list[Any]]:
        pending = _Pending(instances)
        self._queue.put(pending)
        return pending.future

    async def predict(self, instances: list[Any]) -> list[Any]:
        return await asyncio.wrap_future(self.submit(instances))

    def _run(self) -> None:
        carried: _Pending | None = None
        while True:
            first = carried or self._queue.get()
            if first is None:
                return
            batch, carried, stopping = self._collect(first)
            self._predict_batch([p for p in batch if p.future.set_running_or_notify_cancel()])
            if stopping:
                return

    def _collect(self, first: _Pending) -> tuple[list[_Pending], _Pending | None, bool]:
        """Gather requests after `first` until the batch is full or `max_wait_ms` has passed."""
        batch, size = [first], len(first.instances)
        deadline = time.monotonic() + self._max_wait_s
        while size < self._max_batch_size:
            try:
                remaining = deadline - time.monotonic()
                item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return batch, None, True
            if size + len(item.instances) > self._max_batch_size:
                return batch, item, False  # a request is never split; it opens the next batch
            batch.append(item)
            size += len(item.instances)
        return batch, None, False

    def _predict_batch(self, batch: list[_Pending]) -> None:
        if not batch:
            return
        instances = [instance for pending in batch for instance in pending.instances]
        self.predict_calls += 1
        try:
            outputs = list(self._predict(instances))
            if len(outputs) != len(instances):
                raise RuntimeError(f"predict_fn returned {len(outputs)} outputs for {len(instances)} inputs")
        except Exception as error:
            if len(batch) > 1:
                # One bad request must not fail the others it happened to share a batch with.
                for pending in batch:
                    self._predict_batch([pending])
            else:
                batch[0].future.set_exception(error)
            return
        self.instances_predicted += len(instances)
        offset = 0
        for pending in batch:
            pending.future.set_result(outputs[offset : offset + len(pending.instances)])
            offset += len(pending.instances)


# --- HTTP ----------------------------------------------------------------------------------------


class _PayloadTooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refusing more than `limit` bytes without buffering them all first."""
    if int(request.headers.get("content-length") or 0) > limit:
        raise _PayloadTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _PayloadTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _service_error(status: int, error_type: str, message: str, **fields: Any) -> JSONResponse:
    # botocore reads the error code from x-amzn-ErrorType and the modelled fields from the body.
    return JSONResponse(
        {"message": message, **fields}, status_code=status, headers={"x-amzn-ErrorType": error_type}
    )


class _ModelFailure(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message


def build_app(
    handler: InferenceHandler,
    model: Any,
    *,
    endpoint_names: Sequence[str],
    variant: str = DEFAULT_VARIANT,
    max_batch_size: int = 32,
    max_wait_ms: float = 5.0,
) -> Starlette:
    """The endpoint as an ASGI app hosting `model` (from `handler.model_fn`, or a test's own object).

    `app.state.batcher` is the MicroBatcher, for callers that want its counters.
    """
    endpoints = frozenset(endpoint_names)
    batcher = MicroBatcher(
        lambda instances: handler.predict_fn(instances, model),
        max_batch_size=max_batch_size,
        max_wait_ms=max_wait_ms,
    )

    async def run_model(body: bytes, content_type: str, accept: str) -> tuple[bytes | str, str]:
        """input_fn → batched predict_fn → output_fn; any failure becomes a `_ModelFailure`."""
        try:
            # Parsing and serialising are cheap next to the model, so they run on the event loop.
            instances = handler.input_fn(body, content_type)
            predictions = await batcher.predict(list(instances))
            result = handler.output_fn(predictions, accept)
        except ValueError as error:  # the handler's way of saying "bad input": a 4xx from the model
            raise _ModelFailure(int(getattr(error, "status_code", 400)), str(error)) from None
        except Exception as error:
            log.exception("the model failed")  # the traceback, never the payload
            raise _ModelFailure(500, f"{type(error).__name__} in the model") from None
        # SageMaker's toolkit accepts output_fn returning (body, content_type) or just a body.
        return result if isinstance(result, tuple) else (result, accept or "application/json")

    async def invoke_endpoint(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in endpoints:
            return _service_error(400, "ValidationError", f"Endpoint {name} of account {ACCOUNT} not found.")
        target = request.headers.get("x-amzn-sagemaker-target-variant")
        if target and target != variant:
            return _service_error(
                400,
                "ValidationError",
                f"Target variant {target} is not a production variant of endpoint {name}.",
            )
        try:
            body = await _read_body(request, MAX_PAYLOAD_BYTES)
        except _PayloadTooLarge:
            return _service_error(413, "ValidationError", f"Request body exceeds {MAX_PAYLOAD_BYTES} bytes.")
        try:
            content, content_type = await run_model(
                body, request.headers.get("content-type", ""), request.headers.get("accept", "")
            )
        except _ModelFailure as failure:
            kind = "client" if failure.status < 500 else "server"
            # The shape SageMaker answers when the container does not return 200 (HTTP 424).
            return _service_error(
                424,
                "ModelError",
                f'Received {kind} error ({failure.status}) from primary with message "{failure.message}". '
                f"See the local endpoint's log for more information.",
                ErrorCode=f"{kind.upper()}_ERROR_FROM_MODEL",
                OriginalStatusCode=failure.status,
                OriginalMessage=failure.message,
                LogStreamArn=f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/{name}",
            )
        return Response(
            content,
            media_type=content_type,
            headers={"x-Amzn-Invoked-Production-Variant": variant},
        )

    async def invocations(request: Request) -> Response:
        # The container contract: the model's own status codes, no SageMaker envelope.
        try:
            body = await _read_body(request, MAX_PAYLOAD_BYTES)
            content, content_type = await run_model(
                body, request.headers.get("content-type", ""), request.headers.get("accept", "")
            )
        except _PayloadTooLarge:
            return JSONResponse(
                {"message": f"Request body exceeds {MAX_PAYLOAD_BYTES} bytes"}, status_code=413
            )
        except _ModelFailure as failure:
            return JSONResponse({"message": failure.message}, status_code=failure.status)
        return Response(content, media_type=content_type)

    async def ping(_: Request) -> Response:
        # The model is loaded before the server accepts connections, so being up means being ready.
        return JSONResponse({"status": "Healthy"})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        batcher.start()
        try:
            yield
        finally:
            batcher.stop()

    app = Starlette(
        routes=[
            Route("/endpoints/{name}/invocations", invoke_endpoint, methods=["POST"]),
            Route("/invocations", invocations, methods=["POST"]),
            Route("/ping", ping, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.batcher = batcher
    return app


# --- running it ----------------------------------------------------------------------------------


def _require_loopback(host: str) -> None:
    # No authentication and no TLS: the endpoint must not be reachable from other machines.
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"refusing to bind {host}: the local endpoint listens on loopback only")


def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    model_dir: Path = ROOT / ".sluice" / "model",
    endpoint_names: Sequence[str] = ("sluice-intent",),
    max_batch_size: int = 32,
    max_wait_ms: float = 5.0,
    *,
    handler_path: Path = DEFAULT_HANDLER,
    variant: str = DEFAULT_VARIANT,
) -> None:
    """Load the model, then serve until interrupted (Ctrl-C / SIGTERM stop it cleanly)."""
    import uvicorn

    _require_loopback(host)
    handler = load_handler(handler_path)
    started = time.perf_counter()
    model = handler.model_fn(str(model_dir))
    print(
        f"endpoint: model from {model_dir} loaded in {time.perf_counter() - started:.1f}s; "
        f"serving {', '.join(endpoint_names)} on http://{host}:{port} "
        f"(max_batch_size={max_batch_size}, max_wait_ms={max_wait_ms:g})",
        flush=True,
    )
    app = build_app(
        handler,
        model,
        endpoint_names=endpoint_names,
        variant=variant,
        max_batch_size=max_batch_size,
        max_wait_ms=max_wait_ms,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, default=ROOT / ".sluice" / "model")
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--endpoint", dest="endpoints", action="append", help="endpoint name to answer to (repeatable)"
    )
    parser.add_argument("--variant", default=DEFAULT_VARIANT, help="the production variant it reports")
    parser.add_argument("--max-batch-size", type=int, default=32, help="1 disables micro-batching")
    parser.add_argument("--max-wait-ms", type=float, default=5.0, help="how long a batch waits for company")
    parser.add_argument("--handler", type=Path, default=DEFAULT_HANDLER, help="the inference.py to host")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(
        args.host,
        args.port,
        args.model_dir,
        args.endpoints or ["sluice-intent"],
        args.max_batch_size,
        args.max_wait_ms,
        handler_path=args.handler,
        variant=args.variant,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
