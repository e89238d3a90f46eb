"""SageMaker DataCapture files in S3, read back as the answers the drift monitor tests.

SageMaker writes one JSON line per invocation under `<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/`
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture.html); the local
endpoint writes the same layout to moto. Only `endpointOutput` is read: the monitor never needs the
(already redacted) input.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sluice.lifecycle.ports import CapturedAnswer
from sluice.observability import logger


def capture_record(
    *,
    event_id: str,
    inference_time: datetime,
    request_body: bytes,
    response_body: bytes,
    content_type: str = "application/json",
    response_content_type: str = "application/json",
    json_content_types: Sequence[str] = ("application/json",),
) -> dict[str, Any]:
    """One line as SageMaker's DataCapture writes it (what the local endpoint writes): bodies of
    `json_content_types` (the endpoint config's CaptureContentTypeHeader) as text, others base64;
    the inference time to the second, UTC, as in the page's samples ("2022-02-14T17:25:49Z").
    https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html"""
    return {
        "captureData": {
            "endpointInput": _captured(request_body, content_type, "INPUT", json_content_types),
            "endpointOutput": _captured(response_body, response_content_type, "OUTPUT", json_content_types),
        },
        "eventMetadata": {
            "eventId": event_id,
            "inferenceTime": inference_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "eventVersion": "0",
    }


def _captured(body: bytes, content_type: str, mode: str, json_content_types: Sequence[str]) -> dict[str, str]:
    media_type = content_type.split(";", 1)[0].strip().lower()
    as_json = media_type in {kind.lower() for kind in json_content_types}
    return {
        "observedContentType": content_type,
        "mode": mode,
        "data": body.decode() if as_json else base64.b64encode(body).decode(),
        "encoding": "JSON" if as_json else "BASE64",
    }


def capture_key(prefix: str, endpoint: str, variant: str, when: datetime, name: str) -> str:
    hour = when.astimezone(UTC).strftime("%Y/%m/%d/%H")
    return f"{_folder(prefix)}{endpoint}/{variant}/{hour}/{name}.jsonl"


class S3DataCapture:
    def __init__(self, client: Any, *, bucket: str, prefix: str) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = _folder(prefix)

    def answers(self, endpoint: str, start: datetime, end: datetime) -> Iterator[CapturedAnswer]:
        for variant in self._variants(endpoint):
            for key in self._keys(endpoint, variant, start, end):
                body = self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
                for line_number, line in enumerate(body.splitlines()):
                    if not line.strip():
                        continue
                    try:
                        yield from _answers(json.loads(line), variant, start, end)
                    except (ValueError, KeyError, TypeError):
                        # A line the monitor cannot read is counted, not fatal: the rest of the window stands.
                        logger.warning("unreadable capture line", extra={"key": key, "line": line_number})

    def _variants(self, endpoint: str) -> list[str]:
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=f"{self._prefix}{endpoint}/", Delimiter="/"
        )
        return [
            common["Prefix"].rstrip("/").rsplit("/", 1)[-1]
            for page in pages
            for common in page.get("CommonPrefixes", [])
        ]

    def _keys(self, endpoint: str, variant: str, start: datetime, end: datetime) -> Iterator[str]:
        hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        while hour < end:
            folder = f"{self._prefix}{endpoint}/{variant}/{hour:%Y/%m/%d/%H}/"
            pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=folder)
            for page in pages:
                yield from (item["Key"] for item in page.get("Contents", []))
            hour += timedelta(hours=1)


def _answers(
    record: dict[str, Any], variant: str, start: datetime, end: datetime
) -> Iterator[CapturedAnswer]:
    metadata = record["eventMetadata"]
    when = datetime.fromisoformat(metadata["inferenceTime"].replace("Z", "+00:00"))
    if not start <= when < end:
        return
    output = record["captureData"]["endpointOutput"]
    data = output["data"]
    body = json.loads(base64.b64decode(data) if output.get("encoding") == "BASE64" else data)
    for position, prediction in enumerate(body["predictions"]):
        top = prediction["intents"][0]
        yield CapturedAnswer(
            event_id=f"{metadata['eventId']}:{position}",
            variant=variant,
            model_version=str(body["model_version"]),
            label=str(top["label"]),
            score=float(top["score"]),
            inference_time=when,
        )


def _folder(prefix: str) -> str:
    return prefix.strip("/") + "/" if prefix.strip("/") else ""
