"""SageMaker DataCapture on the local endpoint: what SageMaker writes for a real-time endpoint with
capture on, written by the local endpoint to the lifecycle bucket on moto, so the drift monitor
reads local traffic exactly as it reads deployed traffic.

SageMaker's format and layout, from "Capture data from real-time endpoint"
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html): one
JSON line per invocation, `{"captureData": {"endpointInput": {"observedContentType", "mode":
"INPUT", "data", "encoding"}, "endpointOutput": {... "mode": "OUTPUT" ...}}, "eventMetadata":
{"eventId", "inferenceTime"}, "eventVersion": "0"}`, in objects named
`<destination>/<endpoint-name>/<variant-name>/yyyy/mm/dd/hh/<filename>.jsonl` by the hour of the
invocation. Bodies of the stack's JSON content types are captured as text (`"encoding": "JSON"`),
any other body as base64 (the DataCaptureConfig page: "by default base64 encode").

The request path only appends to a buffer; a thread writes the buffer to S3 every
`flush_seconds` (SageMaker too delivers capture in batches, "a couple of minutes" late). A write
that fails keeps its records for the next flush: nothing captured is dropped, unless the buffer
outgrows `max_buffered` (SageMaker also stops capturing under disk pressure), which is counted.
Inputs reach the endpoint already redacted by the API; the capture is the endpoint's view of them.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sluice.adapters.s3_capture import capture_key, capture_record

log = logging.getLogger("sluice_local.capture")
# infra/lifecycle.py: the stack's lifecycle bucket keeps capture under this prefix.
CAPTURE_PREFIX = "datacapture"
# The stack's CaptureContentTypeHeader.JsonContentTypes (infra/lifecycle.py, capture_endpoint).
JSON_CONTENT_TYPES = ("application/json",)
_INVOCATIONS = re.compile(r"^/endpoints/(?P<name>[^/]+)/invocations$")
VARIANT_HEADER = b"x-amzn-invoked-production-variant"


class CaptureSpec(BaseModel):
    """What the local endpoint captures and where (`--capture` of sluice_local.variant_endpoint)."""

    bucket: str = Field(min_length=3)
    prefix: str = CAPTURE_PREFIX
    endpoints: list[str]
    json_content_types: list[str] = Field(default_factory=lambda: list(JSON_CONTENT_TYPES))
    flush_seconds: float = Field(1.0, gt=0)
    max_buffered: int = Field(100_000, ge=1)


def lifecycle_bucket(prefix: str) -> str:
    return f"{prefix}-lifecycle"


def capture_spec(config: Any, *, bucket: str, endpoint_name: Callable[[str], str]) -> CaptureSpec:
    """The endpoints the stack captures (infra/lifecycle.py): every real-time endpoint of a
    lifecycle route; asynchronous endpoints keep their inputs and outputs in S3 already."""
    routes = {route.name: route for route in config.routes}
    return CaptureSpec(
        bucket=bucket,
        endpoints=[
            endpoint_name(name)
            for name in config.lifecycle.routes
            if name in routes and routes[name].endpoint.mode == "realtime"
        ],
    )


@dataclass(frozen=True)
class _Captured:
    endpoint: str
    variant: str
    record: dict[str, Any]
    when: datetime


class CaptureWriter:
    """Buffers capture records and writes them in batches, one object per endpoint, variant and hour."""

    def __init__(
        self,
        put_object: Callable[..., Any],
        spec: CaptureSpec,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._put = put_object
        self._spec = spec
        self._clock = clock
        self._lock = threading.Lock()
        self._buffer: list[_Captured] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Read by tests and the demo; counts, never contents.
        self.written = 0
        self.objects = 0
        self.dropped = 0

    def record(
        self,
        *,
        endpoint: str,
        variant: str,
        request_body: bytes,
        request_content_type: str,
        response_body: bytes,
        response_content_type: str,
        event_id: str | None = None,
    ) -> None:
        """One answered invocation; cheap enough for the event loop (no I/O)."""
        when = self._clock()
        record = capture_record(
            event_id=event_id or str(uuid.uuid4()),
            inference_time=when,
            request_body=request_body,
            response_body=response_body,
            content_type=request_content_type,
            response_content_type=response_content_type,
            json_content_types=self._spec.json_content_types,
        )
        with self._lock:
            if len(self._buffer) >= self._spec.max_buffered:
                self.dropped += 1
                return
            self._buffer.append(_Captured(endpoint, variant, record, when))

    def flush(self) -> int:
        """Writes what is buffered; returns the records written. A failed object stays buffered."""
        with self._lock:
            pending, self._buffer = self._buffer, []
        groups: dict[tuple[str, str, str], list[_Captured]] = defaultdict(list)
        for item in pending:
            groups[(item.endpoint, item.variant, item.when.astimezone(UTC).strftime("%Y%m%d%H"))].append(item)
        written, failed = 0, []
        for (endpoint, variant, _), items in groups.items():
            first = min(item.when for item in items).astimezone(UTC)
            # SageMaker's objects are named by the time within the hour, then a unique suffix.
            name = f"{first:%M-%S}-{first.microsecond // 1000:03d}-{uuid.uuid4()}"
            key = capture_key(self._spec.prefix, endpoint, variant, first, name)
            body = "".join(json.dumps(item.record, separators=(",", ":")) + "\n" for item in items)
            try:
                self._put(
                    Bucket=self._spec.bucket, Key=key, Body=body.encode(), ContentType="application/jsonl"
                )
            except Exception:
                log.warning("capture write failed; %d records kept for the next flush", len(items))
                failed.extend(items)
                continue
            written += len(items)
            self.objects += 1
        if failed:
            with self._lock:
                self._buffer[:0] = failed
        self.written += written
        return written

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="data-capture", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stops the thread, then writes what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self._spec.flush_seconds):
            self.flush()


class CaptureMiddleware:
    """Around the local endpoint's app: each InvokeEndpoint of a captured endpoint answered 200 is
    handed to the writer with its request and response bodies and the variant that answered (the
    `x-Amzn-Invoked-Production-Variant` header, as SageMaker names the variant's folder)."""

    def __init__(self, app: ASGIApp, writer: CaptureWriter, endpoints: Sequence[str]) -> None:
        self._app = app
        self._writer = writer
        self._endpoints = frozenset(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _INVOCATIONS.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or scope.get("method") != "POST" or match["name"] not in self._endpoints:
            await self._app(scope, receive, send)
            return
        request: list[bytes] = []
        response: list[bytes] = []
        started: dict[str, Any] = {}

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request.append(message.get("body", b""))
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                started["status"] = message["status"]
                started["headers"] = {key.lower(): value for key, value in message.get("headers", [])}
            elif message["type"] == "http.response.body" and started.get("status") == 200:
                response.append(message.get("body", b""))
            await send(message)

        await self._app(scope, receiving, sending)
        if started.get("status") != 200:
            return  # SageMaker captures what the model answered; an error has no output to capture
        headers: dict[bytes, bytes] = started["headers"]
        request_headers = {key.lower(): value for key, value in scope.get("headers", [])}
        self._writer.record(
            endpoint=match["name"],
            variant=headers.get(VARIANT_HEADER, b"AllTraffic").decode(),
            request_body=b"".join(request),
            request_content_type=request_headers.get(b"content-type", b"").decode(),
            response_body=b"".join(response),
            response_content_type=headers.get(b"content-type", b"").decode(),
        )


def provision_lifecycle_bucket(s3: Any, bucket: str, *, served_model: Path | None = None) -> str:
    """The lifecycle bucket on moto (capture, baselines, exported feedback), as the stack's, with
    the served model's drift baseline where the monitor looks for it (the stack seeds the same,
    infra/lifecycle_seed.py): without it the monitor could only answer `no_baseline`."""
    from sluice.adapters.s3_baselines import S3Baselines
    from sluice_local.local_deploy import LocalServedModels
    from sluice_local.provision import ensure_bucket

    name = str(ensure_bucket(s3, bucket))
    if served_model is not None:
        # As a local rollout publishes a new version's (a model without one is left to the monitor).
        LocalServedModels(S3Baselines(s3, bucket=name, prefix="baselines")).publish_baseline(
            str(served_model / "baseline.json")
        )
    return name


def writer_for(spec: CaptureSpec) -> CaptureWriter:
    """A writer on moto, through boto3's standard variables (AWS_ENDPOINT_URL) like the handlers."""
    import boto3

    return CaptureWriter(boto3.client("s3").put_object, spec)
