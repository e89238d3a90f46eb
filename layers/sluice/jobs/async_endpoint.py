"""Asynchronous endpoints: jobs go in through S3 and InvokeEndpointAsync, come back through SNS.

The worker writes the model payload of a micro-batch (or of one job, for models that take one
input per call) to `{prefix}/{route}/{inference_id}/input.json`, next to a manifest that lists
the job ids in payload order, and queues the inference. SageMaker writes the output to S3 and
notifies the success or error topic; `async_result` (sluice.jobs.async_results) reads the manifest
next to the input and finishes each job.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import BaseModel

from sluice.ports import Objects
from sluice.routing.model_io import encode
from sluice.routing.ports import AsyncModelEndpoint
from sluice.routing.table import RouteTarget

INPUT_NAME = "input.json"
MANIFEST_NAME = "jobs.json"


class Manifest(BaseModel):
    route: str
    job_ids: list[str]


class AsyncInference:
    def __init__(
        self, *, endpoint: AsyncModelEndpoint, objects: Objects, bucket: str, prefix: str = "async-inference"
    ) -> None:
        self._endpoint = endpoint
        self._objects = objects
        self._bucket = bucket
        self._prefix = prefix

    def submit(self, route: RouteTarget, job_ids: list[str], instances: list[dict[str, Any]]) -> str:
        """Queue one inference for the jobs; returns its inference id."""
        inference_id = uuid.uuid4().hex
        folder = f"{self._prefix}/{route.name}/{inference_id}"
        manifest = Manifest(route=route.name, job_ids=job_ids)
        # The manifest first: a notification can never arrive for an input without one.
        self._objects.put(
            self._bucket,
            f"{folder}/{MANIFEST_NAME}",
            manifest.model_dump_json().encode(),
            content_type="application/json",
        )
        payload = json.dumps(encode(route.wire_format, instances), separators=(",", ":")).encode()
        self._objects.put(self._bucket, f"{folder}/{INPUT_NAME}", payload, content_type="application/json")
        self._endpoint.invoke_async(
            route.endpoint_name,
            input_location=f"s3://{self._bucket}/{folder}/{INPUT_NAME}",
            inference_id=inference_id,
            invocation_timeout_seconds=route.invocation_timeout_seconds,
        )
        return inference_id


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError("not an s3:// object URI")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def manifest_key(input_key: str) -> str:
    return input_key.rsplit("/", 1)[0] + "/" + MANIFEST_NAME
