"""Credentials: AWS access and secret keys, private keys, JWTs, vendor API tokens, passwords."""

from __future__ import annotations

import re

from sluice.pii.recognizers.base import PatternRecognizer, words

AWS_ACCESS_KEY = PatternRecognizer(
    "AWS_ACCESS_KEY",
    re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA)[A-Z2-7]{16}\b"),
    score=0.95,
)


def _mixed_base64(value: str) -> bool:
    # A 40-char git SHA or hex digest is not a secret key; a real key mixes cases and digits.
    return (
        any(c.isupper() for c in value)
        and any(c.islower() for c in value)
        and any(c.isdigit() for c in value)
    )


AWS_SECRET_KEY = PatternRecognizer(
    "AWS_SECRET_KEY",
    re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
    score=0.55,  # high entropy 40 chars: secret-like even without context
    validate=_mixed_base64,
    context=words("aws secret secret_access_key aws_secret_access_key key credentials"),
    context_score=0.95,
)
PRIVATE_KEY = PatternRecognizer(
    "PRIVATE_KEY",
    # Up to the END line, or to the end of the text when a paste was cut short.
    re.compile(
        r"-----BEGIN[A-Z ]{0,30} PRIVATE KEY( BLOCK)?-----(?:.*?-----END[A-Z ]{0,30} PRIVATE KEY( BLOCK)?-----|.*)",
        re.DOTALL,
    ),
    score=1.0,
    needs_digit=False,
)
JWT = PatternRecognizer(
    "JWT",
    re.compile(r"\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}"),
    score=0.95,
    needs_digit=False,
)
API_KEY = PatternRecognizer(
    "API_KEY",
    re.compile(
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_\w{22,255}"  # GitHub
        r"|xox[abposr]-[A-Za-z0-9\-]{10,}"  # Slack
        r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
        r"|AIza[\w\-]{35}"  # Google
        r"|sk-(?:proj-|ant-)?[A-Za-z0-9_\-]{32,}"  # OpenAI, Anthropic
        r"|glpat-[\w\-]{20}"  # GitLab
        r"|npm_[A-Za-z0-9]{36}"  # npm
        r"|SG\.[\w\-]{22}\.[\w\-]{43})"  # SendGrid
        r"(?![\w\-])"
    ),
    score=0.95,
    needs_digit=False,
)


def _not_a_word(value: str) -> bool:
    # "the token is valid": a lower-case word after "is" is prose, not a secret.
    return not (value.isalpha() and value.islower())


# "password: hunter2", "api_key=abc...", "my password is hunter2": the value after the key word.
SECRET_ASSIGNMENT = PatternRecognizer(
    "PASSWORD",
    re.compile(
        r"(?i)\b(?:password|passwd|passphrase|pwd|pin|secret|api[_\-]?key|access[_\-]?token|auth[_\-]?token"
        r"|token|client[_\-]?secret)\b[\"']?\s*(?:[:=]|\bis\b)\s*[\"']?([^\s\"',;]{4,128})"
    ),
    score=0.8,
    validate=_not_a_word,
    group=1,
    needs_digit=False,
)
BEARER = PatternRecognizer(
    "API_KEY",
    re.compile(r"\b(?:Bearer|Basic|Token)\s+([A-Za-z0-9\-._~+/]{16,}=*)"),
    score=0.9,
    group=1,
    needs_digit=False,
)
RECOGNIZERS = (AWS_ACCESS_KEY, AWS_SECRET_KEY, PRIVATE_KEY, JWT, API_KEY, SECRET_ASSIGNMENT, BEARER)
