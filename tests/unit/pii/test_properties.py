"""Properties over arbitrary text: detect never raises, offsets are valid, redact is safe and idempotent."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sluice import pii
from sluice.pii.normalize import _fold_char, fold
from sluice.pii.redaction import standalone

# Text that mixes PII-shaped fragments with arbitrary unicode (including invisible characters).
FRAGMENTS = st.sampled_from(
    [
        "John Smith", "tanner", "4929578569339117", "4111 1111 1111 1111", "196-20-7761",
        "GB82 WEST 1234 5698 7654 32", "john@example.com", "+44 20 7946 0958", "10.0.0.1",
        "fe80::1", "2013-03-14 12:53:39", "221B Baker Street", "London", "Dr.", "my name is",
        "<PERSON>", "<EMAIL_ADDRESS>", "\u200b", "\n", " ", ", ", "AKIAIOSFODNN7EXAMPLE", "ssn",
        "routing 011000015", "www.example.com", "Mali", "Suite 5",
    ]
)  # fmt: skip
TEXTS = st.lists(st.one_of(FRAGMENTS, st.text(max_size=12)), max_size=12).map("".join)
PROFILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROFILE
@given(TEXTS)
# Found by hypothesis: U+00BC folds to three characters, and two spans each claimed it.
@example("John Smith4111 1111 1111 1111\u00bcwww.example.com")
def test_detect_never_raises_and_offsets_are_valid(text: str) -> None:
    spans = pii.detect(text, time_budget_ms=None)
    previous_end = 0
    for span in spans:
        assert 0 <= previous_end <= span.start < span.end <= len(text)
        assert 0.0 <= span.score <= 1.0
        previous_end = span.end


@PROFILE
@given(TEXTS)
def test_no_detected_value_survives_redaction(text: str) -> None:
    spans = pii.detect(text, time_budget_ms=None)
    redacted = pii.redact(text, time_budget_ms=None).text
    for span in spans:
        value = text[span.start : span.end]
        if len(value) >= 3:  # shorter values ("Li") can occur by chance inside mask tokens
            # Not anywhere as a standalone word (inside a longer word it is another word).
            assert not re.search(standalone(value), redacted)


@PROFILE
@given(TEXTS)
def test_redact_is_idempotent(text: str) -> None:
    once = pii.redact(text, time_budget_ms=None).text
    assert pii.redact(once, time_budget_ms=None).text == once


@PROFILE
@given(TEXTS)
def test_pseudonymize_is_idempotent(text: str) -> None:
    policy = pii.RedactionPolicy(default=pii.Operator.PSEUDONYMIZE)
    options = {"key_provider": pii.StaticKey(b"k" * 32), "vault": pii.InMemoryVault(), "time_budget_ms": None}
    once = pii.redact(text, policy, **options).text  # type: ignore[arg-type]
    assert pii.redact(once, policy, **options).text == once  # type: ignore[arg-type]


def test_the_fast_path_of_folding_agrees_with_the_full_fold_on_every_plain_character() -> None:
    # `fold` keeps printable ASCII, tab, newline and carriage return without asking `_fold_char`:
    # that shortcut must give what the full fold would (so it is only ever faster, never other)
    plain = [chr(code) for code in range(0x20, 0x7F)] + ["\t", "\n", "\r"]
    assert [_fold_char(ch) for ch in plain] == plain
    assert fold("".join(plain) + "\x00é").text == "".join(plain) + "é"
