"""PHONE_NUMBER: national and international formats, scored by how phone-like their shape is.

Without a numbering-plan database (too large for the layer) the shape carries the evidence: a
leading + or 00, an area code in parentheses, separated digit groups, an extension, or a context
word such as "call" or "fax". Dates, IP addresses and long digit runs are left to their own
recognizers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from sluice.pii.recognizers.base import Doc, words
from sluice.pii.spans import Span

# A single character class: backtracking is bounded by its 22 repetitions, never exponential.
_CANDIDATE = re.compile(
    r"(?<![\w+\-.,/])(?:\+|\b00)?\(?\d[\d \-.()]{4,22}(?<=[\d)])"
    r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,6})?(?![\w\-]|[.,]\d)"
)
_GROUPS = re.compile(r"\d+")
_DATE = re.compile(r"\d{4}([-.])\d{1,2}\1\d{1,2}|\d{1,2}([-.])\d{1,2}\2\d{2,4}")
_DOTTED_QUAD = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_EXTENSION = re.compile(r"\s?(?:x|ext\.?|extension)\s?\d{1,6}$")
_CONTEXT = words(
    "phone phones call calling called tel telephone mobile cell cellphone fax office reach "
    "number whatsapp text sms contact dial ring landline"
)


def _trim_unmatched(value: str, start: int) -> tuple[str, int]:
    """Drop a parenthesis that belongs to the sentence, not the number: "(call +44 20 7946 0958)"."""
    while value.endswith(")") and value.count(")") > value.count("("):
        value = value[:-1].rstrip(" -.")
    while value.startswith("(") and value.count("(") > value.count(")"):
        value, start = value[1:], start + 1
    return value, start


def _balanced(value: str) -> bool:
    depth = 0
    for ch in value:
        depth += ch == "("
        depth -= ch == ")"
        if depth not in (0, 1):
            return False
    return depth == 0


class PhoneRecognizer:
    def find(self, doc: Doc) -> Iterator[Span]:
        if not doc.has_digit:
            return
        for match in _CANDIDATE.finditer(doc.text):
            value, start = _trim_unmatched(match.group().rstrip(" -."), match.start())
            end = start + len(value)
            score = self._score(value)
            if score and score < 0.75 and _CONTEXT & doc.words_near(start, end):
                score = 0.75
            if score:
                yield Span(start, end, "PHONE_NUMBER", score)

    @staticmethod
    def _score(value: str) -> float:
        body = _EXTENSION.sub("", value)
        if "  " in body or "--" in body or ".." in body or not _balanced(body):
            return 0.0
        if _DATE.fullmatch(body) or _DOTTED_QUAD.fullmatch(body):
            return 0.0
        groups = _GROUPS.findall(body)
        digits = sum(len(g) for g in groups)
        if not 7 <= digits <= 15:
            return 0.0
        international = body.startswith("+") or (body.startswith("00") and len(groups) > 1)
        if international and digits >= 8:
            return 0.8
        if "(" in body or body != value:  # area code in parentheses, or an extension
            return 0.7
        if len(groups) == 1:
            return 0.3  # a bare run of digits: a phone number only in context
        if len(groups) > 5 or min(len(g) for g in groups) < 2:
            return 0.3
        return 0.6


RECOGNIZERS = (PhoneRecognizer(),)
