"""US_DRIVER_LICENSE and US_PASSPORT: state and federal formats, trusted only near context words.

Licence formats differ per state and overlap with every other number (nine digits, a letter and
digits), so the shape alone scores too low to redact; "driver's license" or "passport" nearby
makes it count.
"""

from __future__ import annotations

import re

from sluice.pii.recognizers.base import PatternRecognizer, words

US_DRIVER_LICENSE = PatternRecognizer(
    "US_DRIVER_LICENSE",
    re.compile(
        r"(?<![\w-])(?:[A-Za-z]\d{3,14}|[A-Za-z]{2}\d{3,8}[A-Za-z]?|\d{2}[A-Za-z]{3}\d{5}"
        r"|\d{3}[A-Za-z]{2}\d{4}|[A-Za-z]\d{2}-?\d{3}-?\d{2}-?\d{3}-?\d|\d{7,12}|\d{3}-\d{3}-\d{3})(?![\w-])"
    ),
    score=0.0,
    context=words("driver driver's drivers driving license licence licenses dl dln lic permit"),
    context_score=0.75,
)
US_PASSPORT = PatternRecognizer(
    "US_PASSPORT",
    re.compile(r"(?<![\w-])(?:[A-Za-z]\d{8}|\d{9})(?![\w-])"),
    score=0.0,
    context=words("passport passports travel"),
    context_score=0.8,
)
RECOGNIZERS = (US_DRIVER_LICENSE, US_PASSPORT)
