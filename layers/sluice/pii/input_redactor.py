"""Applies `sluice.pii` to request inputs: every string redacted per the route's policy.

One deadline covers the whole input, so a request with many strings cannot stretch the time
budget; running out fails closed (`PII_DETECTION_TIMEOUT`, 503, with Retry-After), never passes
text through. The budget follows from the route's input limit (`sluice.pii.time_budget_for`), so
every input the route accepts fits in it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from sluice.pii.ports import RedactedInput

DEFAULT_TIME_BUDGET_MS = 250.0


class PiiInputRedactor:
    def __init__(
        self,
        *,
        key_provider: Any = None,
        vault: Any = None,
        time_budget_ms: float = DEFAULT_TIME_BUDGET_MS,
    ) -> None:
        self._key_provider = key_provider
        self._vault = vault
        self._time_budget_ms = time_budget_ms

    def redact(
        self,
        value: dict[str, Any],
        *,
        tenant: str,
        allow: tuple[str, ...],
        operators: Mapping[str, str] | None = None,
        max_input_bytes: int | None = None,
    ) -> RedactedInput:
        from sluice import pii  # lazy: importing sluice.pii stays off the cold-start path

        policy = pii.RedactionPolicy.for_route(allow=allow, operators=dict(operators or {}))
        budget_ms = self._time_budget_ms
        if max_input_bytes is not None:
            budget_ms = max(budget_ms, pii.time_budget_for(max_input_bytes))
        # CPU time of this thread, like the detector's own budget (see sluice.pii.detection).
        deadline = time.thread_time() + budget_ms / 1000
        counts: Counter[str] = Counter()

        def redact_text(text: str) -> str:
            remaining_ms = (deadline - time.thread_time()) * 1000
            if remaining_ms <= 0:
                raise pii.PiiDetectionTimeout("PII redaction ran out of its time budget")
            result = pii.redact(
                text,
                policy,
                tenant=tenant,
                key_provider=self._key_provider,
                vault=self._vault,
                time_budget_ms=remaining_ms,
            )
            counts.update(result.counts)
            return str(result.text)

        return RedactedInput(input=_map_strings(value, redact_text), counts=dict(counts))

    def reveal(self, value: dict[str, Any], *, tenant: str, can_reveal: bool) -> dict[str, Any]:
        from sluice import pii

        if not can_reveal:
            raise pii.RevealNotPermitted("This caller may not re-identify pseudonymized values")
        if self._vault is None:
            return value  # no vault, no pseudonyms: nothing to put back
        revealed: dict[str, Any] = _map_strings(
            value, lambda text: pii.reidentify(text, tenant=tenant, vault=self._vault, can_reveal=True)
        )
        return revealed


def _map_strings(node: Any, transform: Callable[[str], str]) -> Any:
    if isinstance(node, str):
        return transform(node)
    if isinstance(node, dict):
        return {key: _map_strings(item, transform) for key, item in node.items()}
    if isinstance(node, list):
        return [_map_strings(item, transform) for item in node]
    return node
