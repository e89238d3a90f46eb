"""`redact(text, policy)`: detected values replaced per the policy's operator for their type."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import Counter
from dataclasses import dataclass, field

from sluice.pii.detect import DEFAULT_TIME_BUDGET_MS, detect
from sluice.pii.errors import PiiDetectionError
from sluice.pii.keys import KeyProvider
from sluice.pii.policy import Operator, RedactionPolicy
from sluice.pii.spans import Span
from sluice.pii.vault import PseudonymVault

_PSEUDONYM = re.compile(r"<([A-Z][A-Z0-9_]{1,40})_([0-9a-f]{12})>")
_DEFAULT_POLICY = RedactionPolicy()


class PiiPolicyError(PiiDetectionError):
    """The policy needs a key or vault the caller did not provide: fail closed, not open."""

    code = "PII_POLICY_MISCONFIGURED"


@dataclass(frozen=True, slots=True)
class RedactionResult:
    """Redacted text, the spans acted on (offsets into the input) and their counts per type."""

    text: str
    spans: tuple[Span, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)


def _digest(key: bytes, *parts: str) -> str:
    # "|" cannot occur in an entity type, so (tenant, type, value) tuples cannot collide by concatenation.
    return hmac.new(key, "|".join(parts).encode(), hashlib.sha256).hexdigest()


def redact(
    text: str,
    policy: RedactionPolicy | None = None,
    *,
    tenant: str = "default",
    key_provider: KeyProvider | None = None,
    vault: PseudonymVault | None = None,
    time_budget_ms: float | None = DEFAULT_TIME_BUDGET_MS,
) -> RedactionResult:
    """Replaces every detected value (unless its type is allowed) and reports what was replaced."""
    policy = policy or _DEFAULT_POLICY
    spans = [
        s
        for s in detect(text, min_score=policy.min_score, time_budget_ms=time_budget_ms)
        if policy.operator_for(s.entity_type) is not Operator.ALLOW
    ]
    if not spans:
        return RedactionResult(text)
    key = _key(policy, spans, key_provider)
    pieces: list[str] = []
    cursor = 0
    for span in spans:
        value = text[span.start : span.end]
        pieces.append(text[cursor : span.start])
        pieces.append(
            _replacement(policy.operator_for(span.entity_type), span.entity_type, value, tenant, key, vault)
        )
        cursor = span.end
    pieces.append(text[cursor:])
    counts = Counter(s.entity_type for s in spans)
    return RedactionResult("".join(pieces), tuple(spans), dict(sorted(counts.items())))


def _key(policy: RedactionPolicy, spans: list[Span], key_provider: KeyProvider | None) -> bytes:
    keyed = {Operator.HASH, Operator.PSEUDONYMIZE}
    if not any(policy.operator_for(s.entity_type) in keyed for s in spans):
        return b""
    if key_provider is None:
        raise PiiPolicyError(
            "the redaction policy hashes or pseudonymizes, but no key provider is configured"
        )
    try:
        return key_provider.key()
    except Exception as error:
        raise PiiPolicyError(f"the PII key is unavailable: {type(error).__name__}") from None


def _replacement(
    operator: Operator, entity_type: str, value: str, tenant: str, key: bytes, vault: PseudonymVault | None
) -> str:
    if operator is Operator.MASK:
        return f"<{entity_type}>"
    if operator is Operator.DROP:
        return ""
    if operator is Operator.HASH:
        return f"<{entity_type}#{_digest(key, 'hash', tenant, entity_type, value)[:16]}>"
    token = _digest(key, "pseudonym", tenant, entity_type, value)[:12]
    if vault is None:
        raise PiiPolicyError("the redaction policy pseudonymizes, but no vault is configured")
    try:
        vault.put(tenant, token, entity_type, value)
    except Exception as error:
        raise PiiPolicyError(f"the pseudonym vault is unavailable: {type(error).__name__}") from None
    return f"<{entity_type}_{token}>"


def reidentify(text: str, *, tenant: str, vault: PseudonymVault, can_reveal: bool) -> str:
    """Puts the original values back for pseudonym tokens; raises `RevealNotPermitted` otherwise."""

    def original(match: re.Match[str]) -> str:
        value = vault.reveal(tenant, match.group(2), can_reveal=can_reveal)
        return match.group() if value is None else value

    return _PSEUDONYM.sub(original, text)
