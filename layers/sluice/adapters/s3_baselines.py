"""Drift baselines in S3: `<prefix><model_version>/baseline.json`, beside the model's artifact."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sluice.lifecycle.drift import DriftBaseline
from sluice.observability import logger


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


def _bucket_and_key(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError("not an s3://bucket/key URI")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


class S3ServedModels:
    """The lifecycle bucket's record of the versions in service (`sluice.lifecycle.rollout.ServedModels`):
    each version's baseline under `baselines/`, and the artifact in service as
    `<models_prefix>/<route>/current/model.tar.gz`, the retraining pipeline's default incumbent."""

    def __init__(
        self, client: Any, *, bucket: str, baselines: S3Baselines, models_prefix: str = "models"
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._baselines = baselines
        self._models_prefix = models_prefix.strip("/")

    def incumbent_key(self, route: str) -> str:
        return f"{self._models_prefix}/{route}/current/model.tar.gz"

    def publish_baseline(self, baseline_uri: str) -> str | None:
        from botocore.exceptions import ClientError
        from pydantic import ValidationError

        try:
            bucket, key = _bucket_and_key(baseline_uri)
            body = self._client.get_object(Bucket=bucket, Key=key)["Body"].read()
            baseline = DriftBaseline.model_validate_json(body)
        except (ClientError, ValidationError, ValueError) as unreadable:
            # Missing (404, or 403 without s3:ListBucket), outside what this function may read,
            # or not a baseline: the version rolls out without one, and the rollout says so.
            code = unreadable.response["Error"]["Code"] if isinstance(unreadable, ClientError) else "invalid"
            logger.warning("drift baseline unreadable", extra={"error_code": code})
            return None
        self._baselines.put(baseline)
        return baseline.model_version

    def set_incumbent(self, route: str, model_data_url: str) -> None:
        bucket, key = _bucket_and_key(model_data_url)
        # A managed copy: one CopyObject up to 5 GB, a multipart copy above; S3 copies, the
        # function never holds the artifact. The bucket's default encryption (KMS) applies.
        self._client.copy({"Bucket": bucket, "Key": key}, self._bucket, self.incumbent_key(route))
