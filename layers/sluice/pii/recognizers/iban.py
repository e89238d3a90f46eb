"""IBAN_CODE: country code, check digits and BBAN of the country's length, passing ISO 7064 mod-97."""

from __future__ import annotations

import re
from collections.abc import Iterator

from sluice.pii.recognizers.base import Doc
from sluice.pii.spans import Span

# IBAN length per country (SWIFT IBAN registry).
_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip

# Printed IBANs group by four with single spaces; the BBAN may run on past the real end into the
# next word ("... 4568 7654 32 and"), so candidates are cut to the country's length below.
_CANDIDATE = re.compile(r"\b[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,4})?\b")


def mod97(iban: str) -> bool:
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def valid_iban(value: str) -> bool:
    compact = value.replace(" ", "").upper()
    return _LENGTHS.get(compact[:2]) == len(compact) and compact.isalnum() and mod97(compact)


class IbanRecognizer:
    def find(self, doc: Doc) -> Iterator[Span]:
        if not doc.has_digit:
            return
        for match in _CANDIDATE.finditer(doc.text):
            length = _LENGTHS.get(match.group()[:2].upper())
            if length is None:
                continue
            # Walk the candidate to the country's length, skipping the grouping spaces.
            start, seen, end = match.start(), 0, match.start()
            for index in range(start, match.end()):
                if doc.text[index] != " ":
                    seen += 1
                    if seen == length:
                        end = index + 1
                        break
            value = doc.text[start:end]
            nxt = doc.text[end : end + 1]
            if seen == length and not nxt.isalnum() and valid_iban(value):
                yield Span(start, end, "IBAN_CODE", 1.0)


RECOGNIZERS = (IbanRecognizer(),)
