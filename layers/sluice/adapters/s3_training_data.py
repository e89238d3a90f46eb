"""Exported feedback in S3, where the retraining pipeline's prepare step reads it:
`<prefix>/<route>/labelled.jsonl`, one `{"text", "label", "created_at", "model_version"}` per line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sluice.lifecycle.feedback import TrainingRow

EXPORT_FILE = "labelled.jsonl"


class S3TrainingData:
    def __init__(self, client: Any, *, bucket: str, prefix: str) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix.strip("/")

    def write(self, route: str, rows: Sequence[TrainingRow]) -> str:
        key = f"{self._prefix}/{route}/{EXPORT_FILE}"
        body = "".join(row.model_dump_json() + "\n" for row in rows).encode()
        # The bucket's default encryption is the platform's KMS key (infra/buckets.py).
        self._client.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/x-ndjson")
        return f"s3://{self._bucket}/{key}"
