"""What the request path needs of redaction: an input redactor (`PiiInputRedactor` is the one)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class RedactedInput:
    input: dict[str, Any]
    counts: dict[str, int]


class InputRedactor(Protocol):
    """Strips personal data from a request input before it is routed anywhere."""

    def redact(
        self,
        value: dict[str, Any],
        *,
        tenant: str,
        allow: tuple[str, ...],
        operators: Mapping[str, str] | None = None,
        max_input_bytes: int | None = None,
    ) -> RedactedInput:
        """`max_input_bytes`: the route's input limit, from which the time budget follows."""
        ...

    def reveal(self, value: dict[str, Any], *, tenant: str, can_reveal: bool) -> dict[str, Any]:
        """Puts back the values behind pseudonyms; refuses callers without the permission."""
        ...
