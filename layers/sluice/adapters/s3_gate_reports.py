"""The golden-query gate's outputs of a pipeline run in S3: `<prefix>/<route>/<execution id>/evaluation/`."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError


class S3GateReports:
    def __init__(self, client: Any, *, bucket: str, prefix: str = "runs") -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix.strip("/")

    def uri(self, route: str, execution_id: str) -> str:
        return f"s3://{self._bucket}/{self._key(route, execution_id, 'gate_report.json')}"

    def read(self, route: str, execution_id: str, name: str) -> dict[str, Any] | None:
        try:
            body = self._client.get_object(Bucket=self._bucket, Key=self._key(route, execution_id, name))[
                "Body"
            ]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        document: dict[str, Any] = json.loads(body.read())
        return document

    def _key(self, route: str, execution_id: str, name: str) -> str:
        return f"{self._prefix}/{route}/{execution_id}/evaluation/{name}"
