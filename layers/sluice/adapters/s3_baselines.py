"""Drift baselines in S3: `<prefix><model_version>/baseline.json`, beside the model's artifact."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sluice.lifecycle.drift import DriftBaseline


class S3Baselines:
    def __init__(self, client: Any, *, bucket: str, prefix: str) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        # A model version's baseline never changes: read it once per container.
        self.baseline = lru_cache(maxsize=32)(self._read)

    def key(self, model_version: str) -> str:
        return f"{self._prefix}{model_version}/baseline.json"

    def put(self, baseline: DriftBaseline) -> None:
        self._client.put_object(
            Bucket=self._bucket,
            Key=self.key(baseline.model_version),
            Body=baseline.model_dump_json(indent=1).encode(),
            ContentType="application/json",
        )

    def _read(self, model_version: str) -> DriftBaseline | None:
        try:
            body = self._client.get_object(Bucket=self._bucket, Key=self.key(model_version))["Body"].read()
        except self._client.exceptions.NoSuchKey:
            return None
        return DriftBaseline.model_validate_json(body)
