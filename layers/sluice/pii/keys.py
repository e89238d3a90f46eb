"""The secret key behind `hash` and `pseudonymize`: a port and the local key-file adapter.

In AWS the key lives in Secrets Manager (`sluice.adapters.pii_keys.SecretsManagerKeyProvider`);
locally it is a file that is created on first use, readable by its owner only.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Protocol

KEY_BYTES = 32


class KeyProvider(Protocol):
    def key(self) -> bytes: ...


class LocalKeyFile:
    """Reads the key from `path`, creating it (mode 0600) with a fresh random key if absent."""

    def __init__(self, path: str | Path = ".sluice/pii.key") -> None:
        self._path = Path(path)
        self._key: bytes | None = None

    def key(self) -> bytes:
        if self._key is None:
            self._key = self._load_or_create()
        return self._key

    def _load_or_create(self) -> bytes:
        if not self._path.exists():
            self._path.parent.mkdir(parents=True, exist_ok=True)
            try:
                # O_EXCL: two processes starting together agree on one key instead of racing.
                fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(secrets.token_bytes(KEY_BYTES))
        key = self._path.read_bytes()
        if len(key) < 16:
            raise ValueError(f"PII key file {self._path} holds fewer than 16 bytes")
        return key


class StaticKey:
    """A fixed key, for tests and for callers that already hold one."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a PII key needs at least 16 bytes")
        self._key = key

    def key(self) -> bytes:
        return self._key
