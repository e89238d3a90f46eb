"""The local endpoint's DataCapture: SageMaker's record format and S3 layout, written in batches.

Format and layout as "Capture data from real-time endpoint" states them
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html):
`<prefix>/<endpoint-name>/<variant-name>/yyyy/mm/dd/hh/<filename>.jsonl`, one JSON line per
invocation with captureData.endpointInput/endpointOutput {observedContentType, mode, data,
encoding}, eventMetadata {eventId, inferenceTime} and eventVersion "0".
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from sluice.config import DeploymentConfig
from sluice_local.capture import CaptureMiddleware, CaptureSpec, CaptureWriter, capture_spec

KEY = re.compile(
    r"^datacapture/sluice-local-intent/primary/2026/12/02/(?P<hour>\d\d)/\d\d-\d\d-\d{3}-[0-9a-f-]{36}\.jsonl$"
)
ROOT = Path(__file__).resolve().parents[3]


class Bucket:
    def __init__(self, *, failures: int = 0) -> None:
        self.objects: dict[str, bytes] = {}
        self.failures = failures

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("S3 unreachable")
        assert Bucket == "sluice-local-lifecycle"
        self.objects[Key] = Body

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for body in self.objects.values() for line in body.decode().splitlines()]


class Clock:
    """One second later at each call; by default the second call is 08:00:00."""

    def __init__(self, start: datetime = datetime(2026, 12, 2, 7, 59, 58, 250_000, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


SPEC = CaptureSpec(bucket="sluice-local-lifecycle", endpoints=["sluice-local-intent"])


def record(writer: CaptureWriter, text: str = "where is <PERSON>'s card", **overrides: Any) -> None:
    fields: dict[str, Any] = {
        "endpoint": "sluice-local-intent",
        "variant": "primary",
        "request_body": json.dumps({"instances": [{"text": text}]}).encode(),
        "request_content_type": "application/json",
        "response_body": b'{"model_version":"v1","predictions":[{"intents":[{"label":"card_arrival","score":0.9}]}]}',
        "response_content_type": "application/json",
    } | overrides
    writer.record(**fields)


def test_records_follow_sagemakers_capture_format() -> None:
    # Given a writer and one answered invocation with JSON bodies
    bucket = Bucket()
    writer = CaptureWriter(bucket.put_object, SPEC, clock=Clock())
    record(writer)
    # When it flushes
    assert writer.flush() == 1
    # Then the line is SageMaker's: JSON bodies as text, the time to the second in UTC, version "0"
    [line] = bucket.lines()
    assert set(line) == {"captureData", "eventMetadata", "eventVersion"}
    assert line["eventVersion"] == "0"
    assert line["captureData"]["endpointInput"] == {
        "observedContentType": "application/json",
        "mode": "INPUT",
        "data": json.dumps({"instances": [{"text": "where is <PERSON>'s card"}]}),
        "encoding": "JSON",
    }
    assert line["captureData"]["endpointOutput"]["mode"] == "OUTPUT"
    assert line["captureData"]["endpointOutput"]["encoding"] == "JSON"
    assert json.loads(line["captureData"]["endpointOutput"]["data"])["model_version"] == "v1"
    assert line["eventMetadata"]["inferenceTime"] == "2026-12-02T07:59:59Z"
    assert re.fullmatch(r"[0-9a-f-]{36}", line["eventMetadata"]["eventId"])


def test_a_body_of_another_content_type_is_captured_as_base64() -> None:
    bucket = Bucket()
    writer = CaptureWriter(bucket.put_object, SPEC, clock=Clock())
    record(writer, request_body=b"a,b\n1,2\n", request_content_type="text/csv")
    writer.flush()
    [line] = bucket.lines()
    captured = line["captureData"]["endpointInput"]
    assert (captured["encoding"], captured["observedContentType"]) == ("BASE64", "text/csv")
    assert base64.b64decode(captured["data"]) == b"a,b\n1,2\n"


def test_one_object_per_endpoint_variant_and_hour_named_by_the_hour_of_the_invocation() -> None:
    # Given three invocations: two before 08:00, one after
    bucket = Bucket()
    writer = CaptureWriter(bucket.put_object, SPEC, clock=Clock())
    for _ in range(3):
        record(writer)
    # When one flush writes them
    writer.flush()
    # Then the layout is <prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl, one object per hour
    hours = sorted(KEY.match(key)["hour"] for key in bucket.objects)  # type: ignore[index]
    assert hours == ["07", "08"]
    assert sorted(len(body.decode().splitlines()) for body in bucket.objects.values()) == [1, 2]


def test_a_failed_write_keeps_its_records_for_the_next_flush() -> None:
    # Given S3 fails once
    bucket = Bucket(failures=1)
    writer = CaptureWriter(bucket.put_object, SPEC, clock=Clock(datetime(2026, 12, 2, 7, tzinfo=UTC)))
    record(writer)
    record(writer)
    # When the first flush fails and the next succeeds
    assert writer.flush() == 0
    assert writer.flush() == 2
    # Then nothing was lost or written twice
    assert len(bucket.lines()) == 2
    assert (writer.written, writer.dropped) == (2, 0)


def test_the_middleware_captures_answered_invocations_of_captured_endpoints_only() -> None:
    # Given an endpoint app that answers 200 for the intent endpoint and names its variant
    async def invoke(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "broken":
            return JSONResponse({"message": "model error"}, status_code=424)
        body = await request.json()
        return JSONResponse(
            {"model_version": "v1", "predictions": [{"intents": [{"label": "x", "score": 0.5}]}] * 1},
            headers={"x-Amzn-Invoked-Production-Variant": "primary", "x-echo": str(len(body))},
        )

    app = Starlette(routes=[Route("/endpoints/{name}/invocations", invoke, methods=["POST"])])
    bucket = Bucket()
    writer = CaptureWriter(bucket.put_object, SPEC, clock=Clock())
    spec = CaptureSpec(bucket="sluice-local-lifecycle", endpoints=["sluice-local-intent", "broken"])
    client = TestClient(CaptureMiddleware(app, writer, spec.endpoints))
    body = {"instances": [{"text": "my card <CREDIT_CARD> is lost"}]}
    # When the captured endpoint answers, an uncaptured one answers, and a failing one refuses
    answered = client.post("/endpoints/sluice-local-intent/invocations", json=body)
    client.post("/endpoints/other/invocations", json=body)
    client.post("/endpoints/broken/invocations", json=body)
    writer.flush()
    # Then only the answered invocation of a captured endpoint is captured, byte for byte as sent
    assert answered.status_code == 200
    [key] = bucket.objects
    assert key.startswith("datacapture/sluice-local-intent/primary/2026/12/02/07/")
    [line] = bucket.lines()
    assert json.loads(line["captureData"]["endpointInput"]["data"]) == body
    assert json.loads(line["captureData"]["endpointOutput"]["data"]) == answered.json()


def test_the_platform_captures_the_real_time_endpoints_of_its_lifecycle_routes() -> None:
    # Given cdk.json's config: `intent` is a real-time lifecycle route, `chat` an asynchronous route
    context = json.loads((ROOT / "cdk.json").read_text())["context"]["sluice"]
    config = DeploymentConfig.model_validate(context)
    # When the local platform derives its capture
    spec = capture_spec(config, bucket="sluice-local-lifecycle", endpoint_name=lambda r: f"sluice-local-{r}")
    # Then it captures the intent endpoint only, under the stack's prefix and JSON content types
    assert spec.endpoints == ["sluice-local-intent"]
    assert (spec.prefix, spec.json_content_types) == ("datacapture", ["application/json"])
