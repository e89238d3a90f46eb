"""PII detection and redaction: keeps personal data out of models, logs, queues and buckets.

`detect(text)` finds spans (Presidio's entity names); `redact(text, policy)` replaces them per
entity type (mask, keyed hash, pseudonym, drop, or allow). Both fail closed with
`PiiDetectionError` (HTTP 503) on error or when the time budget runs out. Importing this package
is cheap: the word lists load on the first `detect`, or on `warm()` during a Lambda's init.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sluice.pii.detection import DEFAULT_MIN_SCORE, DEFAULT_TIME_BUDGET_MS, detect, time_budget_for, warm
from sluice.pii.errors import PiiDetectionError, PiiDetectionTimeout, RevealNotPermitted
from sluice.pii.keys import KeyProvider, LocalKeyFile, StaticKey
from sluice.pii.spans import Span
from sluice.pii.vault import InMemoryVault, PseudonymVault

if TYPE_CHECKING:
    from sluice.pii.policy import Operator, RedactionPolicy
    from sluice.pii.redaction import PiiPolicyError, RedactionResult, redact, reidentify

# Redaction pulls in pydantic (policy validation): imported on first use so that code that only
# detects, and cold starts, do not pay for it.
_LAZY = {
    "Operator": "sluice.pii.policy",
    "RedactionPolicy": "sluice.pii.policy",
    "PiiPolicyError": "sluice.pii.redaction",
    "RedactionResult": "sluice.pii.redaction",
    "redact": "sluice.pii.redaction",
    "reidentify": "sluice.pii.redaction",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sluice.pii' has no attribute {name!r}")


__all__ = [
    "DEFAULT_MIN_SCORE",
    "DEFAULT_TIME_BUDGET_MS",
    "InMemoryVault",
    "KeyProvider",
    "LocalKeyFile",
    "Operator",
    "PiiDetectionError",
    "PiiDetectionTimeout",
    "PiiPolicyError",
    "PseudonymVault",
    "RedactionPolicy",
    "RedactionResult",
    "RevealNotPermitted",
    "Span",
    "StaticKey",
    "detect",
    "redact",
    "reidentify",
    "time_budget_for",
    "warm",
]
