"""Redaction operators, policies, pseudonym vault, fail-closed behaviour and invisible characters."""

from __future__ import annotations

import pytest

from sluice import pii
from sluice.pii import recognizers


def full_width(text: str) -> str:
    """The same characters in their full-width forms (U+FF01..U+FF5E)."""
    return "".join(chr(ord(ch) + 0xFEE0) for ch in text)


KEY = pii.StaticKey(b"unit-test-key-0123456789abcdef!!")
TEXT = "My name is John Smith, mail john@example.com, card 4929578569339117."


def test_mask_is_the_default() -> None:
    # Given the default policy, When redacting, Then values become type tokens and counts are reported
    result = pii.redact(TEXT)
    assert result.text == "My name is <PERSON>, mail <EMAIL_ADDRESS>, card <CREDIT_CARD>."
    assert result.counts == {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 1, "PERSON": 1}
    assert [TEXT[s.start : s.end] for s in result.spans] == [
        "John Smith",
        "john@example.com",
        "4929578569339117",
    ]


def test_drop_and_allow() -> None:
    policy = pii.RedactionPolicy.for_route(allow=["PERSON"], operators={"CREDIT_CARD": "drop"})
    result = pii.redact(TEXT, policy)
    assert result.text == "My name is John Smith, mail <EMAIL_ADDRESS>, card ."
    assert result.counts == {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 1}  # allowed types are not redacted


def test_hash_is_keyed_and_stable() -> None:
    policy = pii.RedactionPolicy(default=pii.Operator.HASH)
    first = pii.redact("mail john@example.com", policy, key_provider=KEY).text
    again = pii.redact("mail john@example.com", policy, key_provider=KEY).text
    other_key = pii.redact("mail john@example.com", policy, key_provider=pii.StaticKey(b"x" * 32)).text
    assert first == again != other_key
    assert first.startswith("mail <EMAIL_ADDRESS#")
    assert "john" not in first


def test_pseudonym_stable_per_tenant_and_reversible_with_permission() -> None:
    vault = pii.InMemoryVault()
    policy = pii.RedactionPolicy(default=pii.Operator.PSEUDONYMIZE)
    a1 = pii.redact(TEXT, policy, tenant="acme", key_provider=KEY, vault=vault).text
    a2 = pii.redact(TEXT, policy, tenant="acme", key_provider=KEY, vault=vault).text
    b = pii.redact(TEXT, policy, tenant="globex", key_provider=KEY, vault=vault).text
    assert a1 == a2 != b
    assert pii.reidentify(a1, tenant="acme", vault=vault, can_reveal=True) == TEXT
    # Another tenant's vault entries do not re-identify this tenant's tokens
    assert pii.reidentify(a1, tenant="globex", vault=vault, can_reveal=True) == a1
    with pytest.raises(pii.RevealNotPermitted):
        pii.reidentify(a1, tenant="acme", vault=vault, can_reveal=False)


def test_keyed_operators_without_key_or_vault_fail_closed() -> None:
    with pytest.raises(pii.PiiPolicyError):
        pii.redact(TEXT, pii.RedactionPolicy(default=pii.Operator.HASH))
    with pytest.raises(pii.PiiPolicyError):
        pii.redact(TEXT, pii.RedactionPolicy(default=pii.Operator.PSEUDONYMIZE), key_provider=KEY)


def test_local_key_file_is_created_private_and_reused(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "nested" / "pii.key"  # type: ignore[operator]
    key = pii.LocalKeyFile(path).key()
    assert len(key) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert pii.LocalKeyFile(path).key() == key


def test_time_budget_exceeded_raises_timeout() -> None:
    pii.warm()
    with pytest.raises(pii.PiiDetectionTimeout) as caught:
        pii.redact(TEXT * 50, time_budget_ms=0.0)
    assert caught.value.code == "PII_DETECTION_TIMEOUT"
    assert caught.value.status == 503


def test_internal_error_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def find(self, doc: object) -> list[pii.Span]:
            raise KeyError("boom")

    monkeypatch.setattr("sluice.pii.detection.ALL", (*recognizers.ALL, Broken()))
    with pytest.raises(pii.PiiDetectionError) as caught:
        pii.redact(TEXT)
    assert caught.value.code == "PII_DETECTION_FAILED"
    assert "John" not in str(caught.value)  # the message never carries the input


@pytest.mark.parametrize(
    ("hidden", "entity_type"),
    [
        ("john\u200b@exa\u200cmple.com", "EMAIL_ADDRESS"),
        ("jo\u2060hn@example\u00ad.com", "EMAIL_ADDRESS"),
        (full_width("john@example.com"), "EMAIL_ADDRESS"),
        ("4929\u200b5785\u200b6933\u200b9117", "CREDIT_CARD"),
        ("4929\u20135785\u20136933\u20139117", "CREDIT_CARD"),
        (full_width("4929578569339117"), "CREDIT_CARD"),
        ("196\ufeff-20-7761", "US_SSN"),
        # ASCII control characters, in an otherwise plain ASCII text (no fast path around them)
        ("jo\x00hn@exam\x1fple.com", "EMAIL_ADDRESS"),
        ("4929\x7f5785\x086933\x0b9117", "CREDIT_CARD"),
    ],
)
def test_invisible_characters_cannot_hide_a_value(hidden: str, entity_type: str) -> None:
    text = f"here: {hidden} ok"
    result = pii.redact(text)
    assert result.text == f"here: <{entity_type}> ok"


def test_redact_is_idempotent_on_its_own_tokens() -> None:
    once = pii.redact("SSN <US_SSN> and 234567890, John Smith").text
    assert pii.redact(once).text == once


def test_a_policy_threshold_drops_what_scores_under_it() -> None:
    # Given a text with an email (found with certainty) and a name (found with less, 0.85)
    text = "Hi, I am John Smith, mail john@example.com"

    # When redacted with the default threshold and with one above the name's score
    default = pii.redact(text)
    strict = pii.redact(text, pii.RedactionPolicy(min_score=0.9))

    # Then the default removes both, the stricter policy only the email
    assert default.text == "Hi, I am <PERSON>, mail <EMAIL_ADDRESS>"
    assert strict.text == "Hi, I am John Smith, mail <EMAIL_ADDRESS>"
