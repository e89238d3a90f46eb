"""DATE_TIME: numeric dates with optional times, dates with month names, and days of the week.

Bare years and times of day are left alone: on their own they rarely identify anyone and flagging
them would redact every "in 1965" and "at 5:30".
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from sluice.pii.recognizers.base import Doc, PatternRecognizer
from sluice.pii.spans import Span

_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:\s?[AaPp]\.?[Mm]\.?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_NUMERIC = re.compile(
    r"(?<![\w./\-])(?:(\d{4})([-/.])(\d{1,2})\2(\d{1,2})|(\d{1,2})([-/.])(\d{1,2})\6(\d{4}|\d{2}))"
    + _TIME
    + r"(?![\w/]|[.\-]\d)"
)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_TEXTUAL = re.compile(
    rf"\b(?:{_DAY}\s+(?:of\s+)?{_MONTH}\.?(?:,?\s+\d{{4}})?"
    rf"|{_MONTH}\.?\s+{_DAY}(?:,?\s+\d{{4}})?|{_MONTH}\.?,?\s+\d{{4}})\b",
    re.IGNORECASE,
)
_WEEKDAY = re.compile(r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)days?\b", re.IGNORECASE)


def _plausible(year: int, month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= 31 and (year < 100 or 1000 <= year <= 2999)


class NumericDateRecognizer:
    def find(self, doc: Doc) -> Iterator[Span]:
        if not doc.has_digit:
            return
        for match in _NUMERIC.finditer(doc.text):
            if match.group(1):
                ok = _plausible(int(match.group(1)), int(match.group(3)), int(match.group(4)))
            else:
                first, second, year = int(match.group(5)), int(match.group(7)), int(match.group(8))
                # Month first (US) or day first (most of the world): either reading will do.
                ok = _plausible(year, first, second) or _plausible(year, second, first)
            if ok:
                yield Span(
                    match.start(),
                    match.end(),
                    "DATE_TIME",
                    0.85 if match.group(1) or "/" in match.group() else 0.6,
                )


TEXTUAL_DATE = PatternRecognizer("DATE_TIME", _TEXTUAL, score=0.8)
WEEKDAY = PatternRecognizer("DATE_TIME", _WEEKDAY, score=0.6, needs_digit=False)
RECOGNIZERS = (NumericDateRecognizer(), TEXTUAL_DATE, WEEKDAY)
