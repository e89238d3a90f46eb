"""US bank numbers: ABA routing numbers (checksummed) and account numbers, both near context words."""

from __future__ import annotations

import re

from sluice.pii.recognizers.base import PatternRecognizer, words


def valid_aba(value: str) -> bool:
    digits = [int(ch) for ch in value]
    prefix = int(value[:2])
    # Federal Reserve routing symbols 00-12, thrifts 21-32, electronic 61-72, traveller's cheques 80.
    if not (prefix <= 12 or 21 <= prefix <= 32 or 61 <= prefix <= 72 or prefix == 80) or value == "0" * 9:
        return False
    weighted = 3 * (digits[0] + digits[3] + digits[6]) + 7 * (digits[1] + digits[4] + digits[7])
    return (weighted + digits[2] + digits[5] + digits[8]) % 10 == 0


ABA_ROUTING_NUMBER = PatternRecognizer(
    "ABA_ROUTING_NUMBER",
    re.compile(r"(?<![\w-])\d{9}(?![\w-])"),
    score=0.0,
    validate=valid_aba,
    context=words("aba routing rtn transit bank wire ach"),
    context_score=0.85,
)
US_BANK_NUMBER = PatternRecognizer(
    "US_BANK_NUMBER",
    re.compile(r"(?<![\w-])\d{8,17}(?![\w-])"),
    score=0.0,
    context=words("account acct bank checking savings deposit iban beneficiary"),
    context_score=0.6,
)
RECOGNIZERS = (ABA_ROUTING_NUMBER, US_BANK_NUMBER)
