"""CREDIT_CARD: 12 to 19 digits whose prefix is a known issuer range (IIN) and that pass Luhn."""

from __future__ import annotations

import re

from sluice.pii.recognizers.base import PatternRecognizer, words

# (first prefix, last prefix, allowed lengths), prefixes compared at their own number of digits.
# Sources: ISO/IEC 7812 registrations as published by the networks (Visa, Mastercard, Amex,
# Discover, JCB, Diners, UnionPay, Maestro, Mir, RuPay, Troy, Verve, Elo, UATP, Dankort, ...).
_L16_19 = (16, 17, 18, 19)
_IIN_RANGES: tuple[tuple[int, int, tuple[int, ...]], ...] = (
    (1, 1, (15,)),  # UATP
    (2200, 2204, _L16_19),  # Mir
    (2205, 2205, (16,)),  # BORICA
    (2221, 2720, (16,)),  # Mastercard 2-series
    (300, 305, (14, 15, 16, 17, 18, 19)),  # Diners Club
    (3095, 3095, (14, 15, 16, 17, 18, 19)),
    (34, 34, (15,)),  # American Express
    (37, 37, (15,)),
    (3528, 3589, _L16_19),  # JCB
    (36, 36, (14, 15, 16, 17, 18, 19)),  # Diners Club International
    (38, 39, (14, 15, 16, 17, 18, 19)),
    (4, 4, (13, 16, 19)),  # Visa (incl. Electron)
    (50, 50, tuple(range(12, 20))),  # Maestro, Dankort (5019), Verve (5060-5079), Elo (509)
    (51, 55, (16,)),  # Mastercard
    (56, 69, tuple(range(12, 20))),  # Maestro, Discover, UnionPay, RuPay, Troy, InterPayment, Elo
    (81, 82, _L16_19),  # UnionPay, RuPay
    (8600, 8600, (16,)),  # Uzcard
    (9704, 9704, (16, 19)),  # Napas
    (9792, 9792, (16,)),  # Troy
    (9860, 9860, (16,)),  # Humo
)


def luhn(digits: str) -> bool:
    total = 0
    for index, ch in enumerate(reversed(digits)):
        value = ord(ch) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def known_issuer(digits: str) -> bool:
    for low, high, lengths in _IIN_RANGES:
        if len(digits) in lengths and low <= int(digits[: len(str(low))]) <= high:
            return True
    return False


def valid_card(value: str) -> bool:
    digits = value.replace(" ", "").replace("-", "")
    return 12 <= len(digits) <= 19 and known_issuer(digits) and luhn(digits)


CREDIT_CARD = PatternRecognizer(
    "CREDIT_CARD",
    # Contiguous digits, 4-4-4-4(-3) groups with one kind of separator, or Amex's 4-6-5.
    # Only digits bound a number: "cc4929..." or "Smith4929..." still hold a card.
    re.compile(
        r"(?<![\d-])(?:\d{4}([ -]?)\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?"
        r"|\d{4}([ -]?)\d{6}\2\d{4,5}|\d{12,19})(?![\d-])"
    ),
    score=1.0,
    validate=valid_card,
    context=words("card credit debit visa mastercard amex cc"),
)
RECOGNIZERS = (CREDIT_CARD,)
