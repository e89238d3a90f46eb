"""`redact(text, policy)`: detected values replaced per the policy's operator for their type."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import Counter
from dataclasses import dataclass, field

from sluice.pii.detection import DEFAULT_TIME_BUDGET_MS, detect
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
    """Replaces every detected value (unless its type is allowed) and reports what was replaced.

    `spans` are the values found in `text` itself. Replacing a value changes what its neighbours
    look like ("Smith4929..." becomes "<PERSON>4929..."), so the output is checked again until
    nothing more is found (at most `_MAX_PASSES`): redacting the result changes nothing, and
    `counts` include what those extra passes found.
    """
    policy = policy or _DEFAULT_POLICY
    first: tuple[Span, ...] = ()
    counts: Counter[str] = Counter()
    for _ in range(_MAX_PASSES):
        spans = _spans(text, policy, time_budget_ms)
        if not spans:
            break
        text = _apply(text, spans, policy, tenant, key_provider, vault)
        counts.update(s.entity_type for s in spans)
        first = first or tuple(spans)
    return RedactionResult(text, first, dict(sorted(counts.items())))


_MAX_PASSES = 4


def _spans(text: str, policy: RedactionPolicy, time_budget_ms: float | None) -> list[Span]:
    spans = [
        s
        for s in detect(text, min_score=policy.min_score, time_budget_ms=time_budget_ms)
        if policy.operator_for(s.entity_type) is not Operator.ALLOW
    ]
    return _propagate(text, spans) if spans else spans


def _apply(
    text: str,
    spans: list[Span],
    policy: RedactionPolicy,
    tenant: str,
    key_provider: KeyProvider | None,
    vault: PseudonymVault | None,
) -> str:
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
    return "".join(pieces)


def standalone(value: str) -> str:
    """A regex for `value` where it is not part of a longer word ("Smith" in "Smithson") or number."""

    def edge(ch: str) -> str:
        return r"\d" if ch.isdigit() else r"[^\W\d_]" if ch.isalpha() else ""

    before, after = edge(value[0]), edge(value[-1])
    return (f"(?<!{before})" if before else "") + re.escape(value) + (f"(?!{after})" if after else "")


def _propagate(text: str, spans: list[Span]) -> list[Span]:
    """Adds the other standalone occurrences of each detected value ("John Smith ... Smith said").

    A value that is personal data in one place is personal data wherever it recurs, even where
    the context that gave it away is missing.
    """
    values = {text[s.start : s.end]: s for s in spans if s.end - s.start >= 3}
    extra: list[Span] = []
    for value, span in values.items():
        if text.count(value) < 2:
            continue
        for match in re.finditer(standalone(value), text):
            candidate = Span(match.start(), match.end(), span.entity_type, span.score)
            if not any(candidate.overlaps(s) for s in spans) and not any(
                candidate.overlaps(s) for s in extra
            ):
                extra.append(candidate)
    return sorted([*spans, *extra], key=lambda s: s.start) if extra else spans


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
