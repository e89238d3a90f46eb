"""The PII hashing/pseudonym key from AWS Secrets Manager (a `sluice.pii.KeyProvider`).

The secret holds at least 16 random bytes, as SecretBinary or as a hex / base64 SecretString. The
key is read once per cold start; rotating it changes every digest and pseudonym from then on.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any


class SecretsManagerKeyProvider:
    def __init__(self, secret_id: str, client: Any | None = None) -> None:
        self._secret_id = secret_id
        self._client = client
        self._key: bytes | None = None

    def key(self) -> bytes:
        if self._key is None:
            self._key = self._fetch()
        return self._key

    def _fetch(self) -> bytes:
        if self._client is None:
            from sluice.adapters.clients import client

            self._client = client("secretsmanager")
        secret = self._client.get_secret_value(SecretId=self._secret_id)
        key = secret.get("SecretBinary") or _decode(secret["SecretString"])
        if len(key) < 16:
            raise ValueError("the PII key secret holds fewer than 16 bytes")
        return bytes(key)


def _decode(text: str) -> bytes:
    text = text.strip()
    try:
        return bytes.fromhex(text)
    except ValueError:
        pass
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        return text.encode()
