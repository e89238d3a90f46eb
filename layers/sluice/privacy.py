"""Redacts every string in a request input with `sluice.pii`, per the route's opt-outs."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sluice.ports import RedactedInput


class PiiInputRedactor:
    def __init__(self, *, time_budget_ms: float = 50.0, **redact_options: Any) -> None:
        self._time_budget_ms = time_budget_ms
        self._options = redact_options

    def redact(self, value: dict[str, Any], *, tenant: str, allow: tuple[str, ...]) -> RedactedInput:
        from sluice import pii  # lazy: the detector's tables load on first use, not at cold start

        policy = pii.RedactionPolicy.for_route(allow=allow)
        counts: Counter[str] = Counter()

        def walk(node: Any) -> Any:
            if isinstance(node, str):
                result = pii.redact(
                    node, policy, tenant=tenant, time_budget_ms=self._time_budget_ms, **self._options
                )
                counts.update(result.counts)
                return result.text
            if isinstance(node, dict):
                return {key: walk(item) for key, item in node.items()}
            if isinstance(node, list):
                return [walk(item) for item in node]
            return node

        return RedactedInput(input=walk(value), counts=dict(counts))
