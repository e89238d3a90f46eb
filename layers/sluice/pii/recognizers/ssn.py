"""US_SSN: area-group-serial with the Social Security Administration's never-issued values excluded."""

from __future__ import annotations

import re

from sluice.pii.recognizers.base import PatternRecognizer, words

# Numbers the SSA published or that appear in every template: not anyone's number.
_NOT_ISSUED = frozenset({"078051120", "219099999", "123456789", "111111111", "333333333"})


def valid_ssn(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return (
        len(digits) == 9
        and area not in ("000", "666")
        and area[0] != "9"  # 900-999: ITINs and never-issued areas
        and group != "00"
        and serial != "0000"
        and digits not in _NOT_ISSUED
        and len(set(digits)) > 1
    )


_CONTEXT = words("ssn ssns social security ss ssa")
US_SSN = PatternRecognizer(
    "US_SSN",
    re.compile(r"(?<![\w-])\d{3}([- .])\d{2}\1\d{4}(?![\w-])"),
    score=0.7,  # 3-2-4 groups are also some phone numbers and product codes
    validate=valid_ssn,
    context=_CONTEXT,
    context_score=0.95,
)
US_SSN_BARE = PatternRecognizer(
    "US_SSN",
    re.compile(r"(?<![\w-])\d{9}(?![\w-])"),
    score=0.0,  # nine bare digits are an SSN only when the text says so
    validate=valid_ssn,
    context=_CONTEXT,
    context_score=0.8,
)
RECOGNIZERS = (US_SSN, US_SSN_BARE)
