"""Objects in S3: streamed reads (Range requests to resume) and whole-object writes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

CHUNK_BYTES = 256 * 1024


class S3Objects:
    def __init__(self, client: Any, *, chunk_bytes: int = CHUNK_BYTES) -> None:
        self._client = client
        self._chunk_bytes = chunk_bytes

    def read(self, bucket: str, key: str, *, version_id: str | None, start: int = 0) -> Iterator[bytes]:
        request: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            request["VersionId"] = version_id  # never a newer upload under the same key
        if start:
            request["Range"] = f"bytes={start}-"
        body = self._client.get_object(**request)["Body"]
        try:
            # The body streams from the socket: memory is one chunk, whatever the object's size.
            yield from body.iter_chunks(self._chunk_bytes)
        finally:
            body.close()

    def put(self, bucket: str, key: str, body: bytes, *, content_type: str) -> None:
        self._client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)

    def delete(self, bucket: str, key: str, *, version_id: str | None) -> None:
        request: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            # Deleting a version removes it; without one, a versioned bucket only adds a marker.
            request["VersionId"] = version_id
        self._client.delete_object(**request)

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self._client.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return False
            raise
        return True

    def get(self, bucket: str, key: str) -> bytes:
        """A whole (small) object: async inference inputs, outputs and manifests."""
        body = self._client.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            return bytes(body.read())
        finally:
            body.close()
